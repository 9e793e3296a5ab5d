import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { parseRoomName, roomName } from "./rooms.js";

describe("room names", () => {
  it("round-trip user and anonymous rooms", () => {
    for (const subject of ["alice", "a/b", "..", "a%2Fb", "\u00C9", "E\u0301", "😀 user", "x".repeat(256)]) {
      const name = roomName({ appId: "app1", kind: "user", subject });
      expect(name.split("/")).toHaveLength(3);
      expect(parseRoomName(name)).toEqual({ appId: "app1", kind: "user", subject });
    }
    const anon = roomName({ appId: "app1", kind: "anonymous", subject: "A".repeat(22) });
    expect(parseRoomName(anon)).toEqual({ appId: "app1", kind: "anonymous", subject: "A".repeat(22) });
  });

  it("never maps two different userIds to one room", () => {
    const ids = ["\u00C9", "E\u0301", "Bob", "bob", "a%2Fb", "a/b", "a", "a ", " a", "\u0000a"];
    const names = new Set(ids.map((subject) => roomName({ appId: "app", kind: "user", subject })));
    expect(names.size).toBe(ids.length);
  });

  it("refuses malformed parts with a typed error", () => {
    expect(() => roomName({ appId: "bad app", kind: "user", subject: "x" })).toThrow(InvalidArgumentError);
    expect(() => roomName({ appId: "app", kind: "user", subject: "" })).toThrow(InvalidArgumentError);
    expect(() => roomName({ appId: "app", kind: "user", subject: "\uD800" })).toThrow(InvalidArgumentError);
    expect(() => roomName({ appId: "app", kind: "user", subject: "x".repeat(257) })).toThrow(InvalidArgumentError);
    expect(() => roomName({ appId: "app", kind: "anonymous", subject: "short" })).toThrow(InvalidArgumentError);
  });

  it("parses only canonical names", () => {
    expect(parseRoomName("app/u/YWxpY2U")).toEqual({ appId: "app", kind: "user", subject: "alice" });
    expect(parseRoomName("app/u/YWxpY2U=")).toBeNull();
    expect(parseRoomName("app/u/YWxpY2U/extra")).toBeNull();
    expect(parseRoomName("app/x/YWxpY2U")).toBeNull();
    expect(parseRoomName("../u/YWxpY2U")).toBeNull();
    expect(parseRoomName("app/u/")).toBeNull();
    expect(parseRoomName("app/u/_w")).toBeNull();
  });
});
