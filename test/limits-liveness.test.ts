/**
 * Liveness limits against real relay processes: a peer that stops answering pings, a peer that sends
 * nothing for too long, and a peer that stops reading while the room keeps talking all close with 4532;
 * honest clients of the same room and of another room carry on.
 */
import type { Socket } from "node:net";
import { CloseCode, clientIdFromSecret, createSecret, MessageType, messagesOf } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import { connectRaw, type RawClient, type RelayHandle, signUserToken, startRelay } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

async function openSession(relay: RelayHandle, userId: string): Promise<RawClient> {
  const client = connectRaw(relay, userRoom(userId), { token: await signUserToken(userId), client: createSecret() });
  await waitFor(() => client.frames.length > 0, { what: "the relay's sync step 1" });
  return client;
}

function slowConsumerLines(relay: RelayHandle): number {
  return relay.logs.filter((line) => line.includes('"slow consumer"')).length;
}

describe("dead peers", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay({ extraConfig: { fsync: "off", limits: { pingIntervalMs: 500, idleTimeoutMs: 0 } } });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it("closes a connection that does not answer pings with 4532", async () => {
    const params = new URLSearchParams({ token: await signUserToken("mute"), client: createSecret() });
    const ws = new WebSocket(`${relay.url}/${userRoom("mute")}?${params}`, { autoPong: false });
    ws.on("error", () => {});
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    expect(await closed).toBe(CloseCode.Timeout);
    await expectHonestSync(relay, "mute");
    await expectHonestSync(relay, "talkative");
  });
});

describe("idle connections", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay({ extraConfig: { fsync: "off", limits: { idleTimeoutMs: 1_500, pingIntervalMs: 300 } } });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it("closes a connection that sends nothing for idleTimeoutMs with 4532, though it answers pings", async () => {
    const idle = await openSession(relay, "idle");
    expect((await idle.closed).code).toBe(CloseCode.Timeout);
    // Honest clients are busy for less than the timeout (and a stock client reconnects after 4532 anyway).
    await expectHonestSync(relay, "idle");
    await expectHonestSync(relay, "busy");
  });
});

describe("slow consumers", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay({
      extraConfig: {
        fsync: "off",
        limits: {
          maxBufferedBytes: 64 * 1024,
          maxAwarenessBytes: 64 * 1024,
          awarenessPerSecond: 1_000_000,
          awarenessBurst: 1_000_000,
        },
      },
    });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  it("closes a connection that stops reading with 4532 instead of buffering for it without bound", async () => {
    const reader = await openSession(relay, "crowded");
    const stalled = await openSession(relay, "crowded");
    const talker = await openSession(relay, "crowded");
    (stalled.ws as unknown as { _socket: Socket })._socket.pause();

    // The talker's presence updates are relayed to everyone in the room; the stalled one reads none of them.
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    const blob = "x".repeat(60_000);
    const frameFor = (i: number) => {
      awareness.setLocalState({ i, blob });
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.awareness);
      encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]));
      return encoding.toUint8Array(encoder);
    };
    const slowConsumerLogged = () => slowConsumerLines(relay) > 0;
    let sent = 0;
    for (let batch = 0; batch < 200 && !slowConsumerLogged(); batch++) {
      for (let i = 0; i < 20; i++) talker.ws.send(frameFor(sent++));
      await waitFor(() => talker.frames.length >= sent, { what: "the talker's own updates echoed" });
      talker.frames.length = 0;
      sent = 0;
    }
    awareness.destroy();
    expect(slowConsumerLogged()).toBe(true);
    (stalled.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await stalled.closed).code).toBe(CloseCode.Timeout);
    // The reader kept up and is still there; the room and another room still sync.
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(talker.ws.readyState).toBe(WebSocket.OPEN);
    reader.ws.close();
    talker.ws.close();
    await expectHonestSync(relay, "crowded");
    await expectHonestSync(relay, "elsewhere");
  });

  it("does not take a reader of a document-sized update (a forwarded sync step 2) for a slow consumer", async () => {
    const slowBefore = slowConsumerLines(relay);
    const token = await signUserToken("big-merge");
    const reader = connectRaw(relay, userRoom("big-merge"), { token, client: createSecret(), acks: "1" });
    await waitFor(() => reader.frames.length > 0, { what: "the reader's session" });
    // Acks start once the relay has answered the reader's sync step 1.
    const step1 = encoding.createEncoder();
    encoding.writeVarUint(step1, MessageType.sync);
    syncProtocol.writeSyncStep1(step1, new Y.Doc());
    reader.ws.send(encoding.toUint8Array(step1));
    await waitFor(() => reader.frames.some((f) => f[0] === MessageType.stored), { what: "the reader's first ack" });
    const writerSecret = createSecret();
    const writer = connectRaw(relay, userRoom("big-merge"), { token, client: writerSecret });
    await waitFor(() => writer.frames.length > 0, { what: "the writer's session" });
    // What a client that was offline for long sends: one sync step 2, far bigger than maxBufferedBytes.
    const doc = new Y.Doc();
    doc.transact(() => {
      for (let i = 0; i < 500; i++) {
        const id = `offline-${i}-0000`;
        messagesOf(doc).push([
          { id, role: "user", client: clientIdFromSecret(writerSecret), text: "x".repeat(9_500), ts: Date.now() },
        ]);
      }
    });
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.sync);
    syncProtocol.writeSyncStep2(encoder, doc);
    writer.ws.send(encoding.toUint8Array(encoder));
    // The forwarded update arrives whole, and the acks after it too: the reader was never cut off.
    await waitFor(() => reader.frames.some((f) => f.length > 4 * 1024 * 1024), { what: "the forwarded step 2" });
    const acks = () => reader.frames.filter((f) => f[0] === MessageType.stored).length;
    const before = acks();
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    messagesOf(doc).push([
      {
        id: "after-merge-0000",
        role: "user",
        client: clientIdFromSecret(writerSecret),
        text: "one more",
        ts: Date.now(),
      },
    ]);
    const next = encoding.createEncoder();
    encoding.writeVarUint(next, MessageType.sync);
    syncProtocol.writeUpdate(next, updates[0] as Uint8Array);
    writer.ws.send(encoding.toUint8Array(next));
    await waitFor(() => acks() > before, { what: "an ack after the big update" });
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(slowConsumerLines(relay)).toBe(slowBefore);
    reader.ws.close();
    writer.ws.close();
  });
});
