/**
 * Presence attacks against a real relay process: presence for invented or other clients' Yjs clientIDs is
 * dropped (at most a few ids per connection, never one another client owns), a state that claims the
 * business closes with 4409, an oversized entry list with 4413, and queryAwareness answers are coalesced.
 * A watcher (a stock provider) sees none of the forged presence, and honest clients keep syncing.
 */
import { CloseCode, createSecret, MessageType, messagesOf } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import {
  connectRaw,
  openProvider,
  type RelayHandle,
  signUserToken,
  startRelay,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** Presence ids one connection may introduce (the relay's documented MAX_PRESENCE_IDS). */
const MAX_PRESENCE_IDS = 4;

let relay: RelayHandle;
const providers: TestProvider[] = [];

beforeAll(async () => {
  relay = await startRelay({ extraConfig: { fsync: "off" } });
});
afterAll(async () => {
  for (const p of providers) p.destroy();
  await relay?.stop();
});

/** An awareness frame with one entry per `[clientID, clock, state]`. */
function awarenessFrame(entries: Array<[number, number, unknown]>): Uint8Array {
  const body = encoding.createEncoder();
  encoding.writeVarUint(body, entries.length);
  for (const [clientID, clock, state] of entries) {
    encoding.writeVarUint(body, clientID);
    encoding.writeVarUint(body, clock);
    encoding.writeVarString(body, JSON.stringify(state));
  }
  const frame = encoding.createEncoder();
  encoding.writeVarUint(frame, MessageType.awareness);
  encoding.writeVarUint8Array(frame, encoding.toUint8Array(body));
  return encoding.toUint8Array(frame);
}

/** A watcher (stock provider) and a raw attacker connection on `userId`'s room. */
async function scene(userId: string) {
  const token = await signUserToken(userId);
  const watcher = openProvider(relay, userRoom(userId), token);
  providers.push(watcher);
  await waitFor(() => watcher.provider.synced, { what: "the watcher" });
  const attacker = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  await attacker.opened;
  await waitFor(() => attacker.frames.length > 0, { what: "the attacker's session" });
  /** States the watcher sees, other than its own. */
  const seen = () =>
    [...watcher.provider.awareness.getStates().entries()].filter(([id]) => id !== watcher.doc.clientID);
  return { token, watcher, attacker, seen };
}

describe("presence cannot be spoofed or used to grow memory", () => {
  it("shows at most a few presence ids per connection; the rest are dropped", async () => {
    const s = await scene("presence-many");
    const ids = Array.from({ length: 40 }, (_, i) => 9_000 + i);
    s.attacker.ws.send(awarenessFrame(ids.map((id) => [id, 1, { name: `fake ${id}` }])));
    s.attacker.ws.send(awarenessFrame([[8_999, 1, { name: "marker" }]]));
    await waitFor(() => s.seen().length >= MAX_PRESENCE_IDS, { what: "the allowed presence" });
    // Frames are handled in order: the marker (a fifth new id) was dropped too, and the connection stays open.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.seen().map(([id]) => id)).toEqual(ids.slice(0, MAX_PRESENCE_IDS));
    expect(s.attacker.ws.readyState).toBe(s.attacker.ws.OPEN);
    s.attacker.ws.close();
    await waitFor(() => s.seen().length === 0, { what: "the attacker's presence removed when it leaves" });
    await expectHonestSync(relay, "presence-many");
  });

  it("drops presence for a Yjs clientID another client owns in the document", async () => {
    const s = await scene("presence-owned");
    // A writer's Yjs clientID is recorded as its own in `owners`; then it leaves, so only ownership protects it.
    const writer = openProvider(relay, userRoom("presence-owned"), s.token);
    providers.push(writer);
    await waitFor(() => writer.provider.synced, { what: "the writer" });
    const id = `w${createSecret().slice(0, 12)}`;
    messagesOf(writer.doc).push([{ id, role: "user", client: writer.clientId, text: "hi", ts: Date.now() }]);
    await waitFor(
      () =>
        messagesOf(s.watcher.doc)
          .toArray()
          .some((m) => m.id === id),
      { what: "the write" },
    );
    const owned = writer.doc.clientID;
    writer.destroy();
    await waitFor(() => !s.seen().some(([seenId]) => seenId === owned), { what: "the writer gone" });
    s.attacker.ws.send(awarenessFrame([[owned, 99, { name: "impostor" }]]));
    s.attacker.ws.send(awarenessFrame([[7_777, 1, { name: "attacker" }]]));
    await waitFor(() => s.seen().some(([id]) => id === 7_777), { what: "the attacker's own presence" });
    expect(s.seen().some(([id]) => id === owned)).toBe(false);
    await expectHonestSync(relay, "presence-owned");
  });

  for (const [name, state] of [
    ["user.role business", { user: { name: "Support", role: "business" } }],
    ["an agent: id", { user: { id: "agent:42", name: "Support" } }],
    ["business typing", { typing: { role: "business", until: Date.now() + 60_000 } }],
  ] as const) {
    it(`closes a connection whose presence claims the business (${name}) with 4409`, async () => {
      const s = await scene(`presence-business-${name.replaceAll(/\W/g, "")}`);
      s.attacker.ws.send(awarenessFrame([[6_000, 1, state]]));
      expect(await s.attacker.closed).toEqual({
        code: CloseCode.Authorship,
        reason: "awareness presence may not claim the business",
      });
      expect(s.seen()).toEqual([]);
      await expectHonestSync(relay, "presence-business");
    });
  }

  it("closes a frame with more than 512 entries with 4413", async () => {
    const s = await scene("presence-entries");
    s.attacker.ws.send(awarenessFrame(Array.from({ length: 513 }, (_, i) => [20_000 + i, 1, null])));
    expect(await s.attacker.closed).toEqual({
      code: CloseCode.TooLarge,
      reason: "awareness-size too many presence entries in one frame",
    });
    expect(s.seen()).toEqual([]);
    await expectHonestSync(relay, "presence-entries");
  });

  it("answers a burst of queryAwareness frames with coalesced answers, at most about ten a second", async () => {
    const s = await scene("presence-query");
    s.watcher.provider.awareness.setLocalStateField("name", "watcher");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = s.attacker.frames.length;
    const query = new Uint8Array([MessageType.queryAwareness]);
    const started = performance.now();
    for (let i = 0; i < 500; i++) s.attacker.ws.send(query);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const elapsed = performance.now() - started;
    const answers = s.attacker.frames.slice(before).filter((f) => f[0] === MessageType.awareness).length;
    expect(answers).toBeGreaterThanOrEqual(1);
    // One answer at once, then one per 100 ms at most, however many queries came.
    expect(answers).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 100));
    expect(s.attacker.ws.readyState).toBe(s.attacker.ws.OPEN);
  });
});
