/**
 * The relay's log lines give operators context without naming users: a refusal says which app and which room
 * (as a stable hash), and no line of a session carries the userId or the room name in clear.
 */
import { createHash } from "node:crypto";
import { CloseCode, createSecret, messagesOf } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { userRoom } from "./support/honest-sync.js";
import { connectRaw, openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

const hashOf = (room: string) => createHash("sha256").update(room).digest("hex").slice(0, 16);

describe("relay logs", () => {
  it("name the app and a room hash on refusals, never the userId", async () => {
    relay = await startRelay({ extraConfig: { logLevel: "debug" } });
    const target = relay;
    const userId = "alice.private@example.com";
    const room = userRoom(userId);

    const noToken = connectRaw(target, room, { client: createSecret() });
    expect((await noToken.closed).code).toBe(CloseCode.Unauthorized);
    const forger = openProvider(target, room, await signUserToken(userId));
    await waitFor(() => forger.provider.synced, { what: "synced" });
    const closed = new Promise<number>((resolve) =>
      forger.provider.on("connection-close", (event: CloseEvent | null) => resolve(event?.code ?? 0)),
    );
    messagesOf(forger.doc).push([{ id: "forged-log-1", role: "business", author: {}, text: "x", ts: Date.now() }]);
    expect(await closed).toBe(CloseCode.Authorship);
    forger.destroy();

    const refusals = await waitFor(
      () => {
        const lines = target.logs.filter((line) => line.includes("refused")).map((line) => JSON.parse(line));
        return lines.length >= 2 ? lines : null;
      },
      { what: "two refusal lines" },
    );
    for (const line of refusals) {
      expect(line).toMatchObject({ app: TEST_APP.id, kind: "user", room: hashOf(room) });
    }
    expect(refusals.map((line) => line.code)).toEqual(
      expect.arrayContaining([CloseCode.Unauthorized, CloseCode.Authorship]),
    );
    for (const line of target.logs) {
      expect(line).not.toContain("alice.private");
      expect(line).not.toContain(room);
    }
  });
});
