import { describe, expect, it } from "vitest";
import { privateRooms, roomHash } from "./log-privacy.js";
import { createJsonLogger, type LogFields, type Logger, silentLogger } from "./logger.js";

const ROOM = "app/u/YWxpY2U";

describe("privateRooms", () => {
  it("writes the room's app, kind and hash, never its name", () => {
    const lines: string[] = [];
    const logger = privateRooms(createJsonLogger({ level: "debug", write: (line) => lines.push(line) }));
    logger.debug("connection opened", { room: ROOM, client: "c1" });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as LogFields;
    expect(line).toMatchObject({ level: "debug", app: "app", kind: "user", room: roomHash(ROOM), client: "c1" });
    expect(lines[0]).not.toContain(ROOM);
  });

  it("does not look at the fields of a line below the level (no hash per dropped line)", () => {
    const lines: string[] = [];
    const logger = privateRooms(createJsonLogger({ level: "info", write: (line) => lines.push(line) }));
    let reads = 0;
    const fields = {
      get room() {
        reads++;
        return ROOM;
      },
    };
    logger.debug("connection opened", fields);
    expect(reads).toBe(0);
    expect(lines).toEqual([]);
    expect(logger.enabled?.("debug")).toBe(false);
    expect(logger.enabled?.("warn")).toBe(true);
    logger.warn("room failed", fields);
    expect(reads).toBeGreaterThan(0);
    expect(lines).toHaveLength(1);
    expect(privateRooms(silentLogger).enabled?.("error")).toBe(false);
  });

  it("still redacts for a logger that cannot tell its level", () => {
    const seen: Array<LogFields | undefined> = [];
    const plain: Logger = {
      debug: (_msg, fields) => seen.push(fields),
      info: (_msg, fields) => seen.push(fields),
      warn: (_msg, fields) => seen.push(fields),
      error: (_msg, fields) => seen.push(fields),
    };
    const logger = privateRooms(plain);
    logger.debug("connection opened", { room: ROOM });
    expect(seen).toEqual([{ app: "app", kind: "user", room: roomHash(ROOM) }]);
    expect(logger.enabled?.("debug")).toBe(true);
  });
});
