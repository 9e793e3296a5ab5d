/**
 * Liveness limits against real relay processes: a peer that stops answering pings, a peer that sends
 * nothing for too long, and a peer that stops reading while the room keeps talking all close with 4532;
 * honest clients of the same room and of another room carry on.
 */
import type { Socket } from "node:net";
import { CloseCode, createSecret, MessageType } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import * as awarenessProtocol from "y-protocols/awareness";
import * as Y from "yjs";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import { connectRaw, type RawClient, type RelayHandle, signUserToken, startRelay } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

async function openSession(relay: RelayHandle, userId: string): Promise<RawClient> {
  const client = connectRaw(relay, userRoom(userId), { token: await signUserToken(userId), client: createSecret() });
  await waitFor(() => client.frames.length > 0, { what: "the relay's sync step 1" });
  return client;
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
    const slowConsumerLogged = () => relay.logs.some((line) => line.includes('"slow consumer"'));
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
});
