/**
 * Per-connection frame limits against a real relay process, each with small configured values: frame, sync
 * and awareness sizes (4413), message, byte, awareness, full-sync and new-clientID rates (4529). After each
 * refusal, honest stock clients of the same room and of another room still sync through the relay.
 */
import { CloseCode, clientIdFromSecret, createSecret, listMessages, MessageType, messagesOf } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import { connectRaw, type RawClient, type RelayHandle, signUserToken, startRelay } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMITS = {
  maxFrameBytes: 64 * KiB,
  maxSyncBytes: 4 * MiB,
  maxAwarenessBytes: 4 * KiB,
  messagesPerSecond: 1,
  messageBurst: 40,
  bytesPerSecond: KiB,
  byteBurst: 64 * KiB,
  awarenessPerSecond: 1,
  awarenessBurst: 5,
  syncsPerMinute: 1,
  syncBurst: 3,
  newClientIdsPerMinute: 3,
};

let relay: RelayHandle;

beforeAll(async () => {
  relay = await startRelay({ extraConfig: { fsync: "off", limits: LIMITS } });
});
afterAll(async () => {
  await relay?.stop();
});

interface Session extends RawClient {
  clientId: string;
  token: string;
}

/** A raw connection to `userId`'s room whose session has started (the relay's sync step 1 arrived). */
async function openSession(userId: string): Promise<Session> {
  const token = await signUserToken(userId);
  const secret = createSecret();
  const client = connectRaw(relay, userRoom(userId), { token, client: secret });
  await waitFor(() => client.frames.length > 0, { what: "the relay's sync step 1" });
  return { ...client, clientId: clientIdFromSecret(secret), token };
}

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

/** An update frame (or a sync step 2 frame) with `count` valid messages of `text` from `clientId`. */
function messagesFrame(clientId: string, count: number, text: string, kind: "update" | "step2" = "update") {
  const doc = new Y.Doc();
  const prefix = createSecret().slice(0, 10);
  doc.transact(() => {
    for (let i = 0; i < count; i++) {
      messagesOf(doc).push([{ id: `${prefix}-${i}`, role: "user", client: clientId, text, ts: Date.now() }]);
    }
  });
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    if (kind === "update") syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc));
    else syncProtocol.writeSyncStep2(e, doc);
  });
}

function awarenessFrame(
  doc: Y.Doc,
  awareness: awarenessProtocol.Awareness,
  state: Record<string, unknown>,
): Uint8Array {
  awareness.setLocalState(state);
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.awareness);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]));
  });
}

const step1 = () =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    syncProtocol.writeSyncStep1(e, new Y.Doc());
  });

async function storedIds(session: Session, userId: string): Promise<string[]> {
  return listMessages(await readRelayDoc(relay, userRoom(userId), session.token)).map((m) => m.id);
}

/** After a refusal: the same room and another room still sync. */
async function othersKeepSyncing(userId: string): Promise<void> {
  await expectHonestSync(relay, userId);
  await expectHonestSync(relay, `${userId}-neighbour`);
}

describe("frame limits", () => {
  it("an update over maxFrameBytes closes with 4413 and nothing of it is stored", async () => {
    const s = await openSession("size-update");
    const big = messagesFrame(s.clientId, 3, "€".repeat(10_000));
    expect(big.length).toBeGreaterThan(LIMITS.maxFrameBytes);
    s.ws.send(big);
    expect((await s.closed).code).toBe(CloseCode.TooLarge);
    expect(await storedIds(s, "size-update")).toEqual([]);
    await othersKeepSyncing("size-update");
  });

  it("a 2.5 MiB sync step 2 is accepted; one over maxSyncBytes closes with 4413", async () => {
    const s = await openSession("size-sync");
    const step2 = messagesFrame(s.clientId, 280, "x".repeat(9_500), "step2");
    expect(step2.length).toBeGreaterThan(2.5 * MiB);
    s.ws.send(step2);
    await waitFor(async () => (await storedIds(s, "size-sync")).length === 280, { what: "the step 2 stored" });
    s.ws.close();

    const t = await openSession("size-sync");
    // Just over the bound (far over it, the WebSocket layer itself cuts the frame off with 1009).
    let count = 430;
    let over = messagesFrame(t.clientId, count, "x".repeat(9_500), "step2");
    while (over.length <= LIMITS.maxSyncBytes) over = messagesFrame(t.clientId, ++count, "x".repeat(9_500), "step2");
    t.ws.send(over);
    expect((await t.closed).code).toBe(CloseCode.TooLarge);
    expect(await storedIds(t, "size-sync")).toHaveLength(280);
    await othersKeepSyncing("size-sync");
  });

  it("an awareness frame over maxAwarenessBytes closes with 4413", async () => {
    const s = await openSession("size-awareness");
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    s.ws.send(awarenessFrame(doc, awareness, { name: "x".repeat(8 * KiB) }));
    awareness.destroy();
    expect((await s.closed).code).toBe(CloseCode.TooLarge);
    await othersKeepSyncing("size-awareness");
  });

  it("more messages than the burst at once closes with 4529", async () => {
    const s = await openSession("rate-messages");
    const query = frame((e) => encoding.writeVarUint(e, MessageType.queryAwareness));
    for (let i = 0; i < 200; i++) s.ws.send(query);
    expect((await s.closed).code).toBe(CloseCode.RateLimited);
    await othersKeepSyncing("rate-messages");
  });

  it("more bytes than the byte burst at once closes with 4529", async () => {
    const s = await openSession("rate-bytes");
    for (let i = 0; i < 5; i++) s.ws.send(messagesFrame(s.clientId, 1, "€".repeat(10_000)));
    expect((await s.closed).code).toBe(CloseCode.RateLimited);
    // Frames within the budget were stored; the one over it and those after it were not.
    expect(await storedIds(s, "rate-bytes")).toHaveLength(2);
    await othersKeepSyncing("rate-bytes");
  });

  it("awareness frames have their own, smaller budget: over it closes with 4529", async () => {
    const s = await openSession("rate-awareness");
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    for (let i = 0; i < 50; i++) s.ws.send(awarenessFrame(doc, awareness, { typing: i }));
    awareness.destroy();
    expect((await s.closed).code).toBe(CloseCode.RateLimited);
    await othersKeepSyncing("rate-awareness");
  });

  it("full syncs past the first few close with 4529", async () => {
    const s = await openSession("rate-syncs");
    const replies = () =>
      s.frames.filter((f) => f[0] === MessageType.sync && f[1] === syncProtocol.messageYjsSyncStep2).length;
    for (let i = 0; i < LIMITS.syncBurst; i++) s.ws.send(step1());
    await waitFor(() => replies() === LIMITS.syncBurst, { what: "the first full syncs answered" });
    for (let i = 0; i < 5; i++) s.ws.send(step1());
    expect((await s.closed).code).toBe(CloseCode.RateLimited);
    await othersKeepSyncing("rate-syncs");
  });

  it("a sync step 2 carrying more offline sessions than the new-clientID budget is stored whole", async () => {
    const s = await openSession("offline-sessions");
    // One client, many offline sessions: each session was its own Y.Doc, so its own Yjs clientID.
    const sessions = Array.from({ length: LIMITS.newClientIdsPerMinute + 3 }, () => new Y.Doc());
    const merged = new Y.Doc();
    for (const [i, session] of sessions.entries()) {
      messagesOf(session).push([
        { id: `offline-${i}`, role: "user", client: s.clientId, text: "offline", ts: Date.now() },
      ]);
      Y.applyUpdate(merged, Y.encodeStateAsUpdate(session));
    }
    s.ws.send(
      frame((e) => {
        encoding.writeVarUint(e, MessageType.sync);
        syncProtocol.writeSyncStep2(e, merged);
      }),
    );
    await waitFor(async () => (await storedIds(s, "offline-sessions")).length === sessions.length, {
      what: "every offline session stored",
    });
    s.ws.close();
  });

  it("too many new Yjs clientIDs from one connection close with 4529, and the update over the budget is not stored", async () => {
    const s = await openSession("rate-clientids");
    // Each frame comes from a fresh Y.Doc: a new Yjs clientID.
    for (let i = 0; i < 5; i++) s.ws.send(messagesFrame(s.clientId, 1, `from doc ${i}`));
    expect((await s.closed).code).toBe(CloseCode.RateLimited);
    expect(await storedIds(s, "rate-clientids")).toHaveLength(LIMITS.newClientIdsPerMinute);
    await othersKeepSyncing("rate-clientids");
  });
});
