/**
 * Issue 9: catching up after a reconnect costs the difference, not the thread. A client that missed a
 * few messages of a 10,000-message conversation must receive about their encoded size, whether it
 * stayed running (network cut) or restarted from its local store.
 */
import { createClient, memoryStorage, type ParleyClient, type WebSocketConstructor } from "@parley/client";
import { type MessageRecord, messagesOf, roomName } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const USER = "catch-up-user";
const THREAD = 10_000;
/** Framing the relay adds to any catch-up: sync step 1 and 2 headers, state vectors, `stored` frames, the client record. */
const OVERHEAD_BYTES = 4_096;

/** A network the test can cut: counts the bytes a client receives and refuses to connect while down. */
class Network {
  down = false;
  received = 0;
  readonly sockets = new Set<WebSocket>();

  WebSocket(): WebSocketConstructor {
    const network = this;
    return class CountingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(network.down ? "ws://127.0.0.1:1/unreachable" : url, protocols);
        network.sockets.add(this);
        this.on("message", (data: Buffer) => {
          network.received += data.byteLength;
        });
        this.on("close", () => network.sockets.delete(this));
        this.on("error", () => {});
      }
    };
  }

  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.terminate();
  }
}

describe("catch-up after a reconnect", () => {
  let relay: RelayHandle;
  const clients: ParleyClient[] = [];

  beforeAll(async () => {
    relay = await startRelay();
    // Seed the thread in batches through a stock provider; each batch is one update under the frame limit.
    const token = await signUserToken(USER);
    const seeder = openProvider(relay, roomName({ appId: TEST_APP.id, kind: "user", subject: USER }), token);
    await waitFor(() => seeder.provider.synced, { what: "seeder synced" });
    const start = Date.now() - THREAD;
    for (let batch = 0; batch < THREAD / 1_000; batch++) {
      const records: MessageRecord[] = [];
      for (let i = batch * 1_000; i < (batch + 1) * 1_000; i++) {
        records.push({
          id: `seed${String(i).padStart(8, "0")}`,
          role: "user",
          client: seeder.clientId,
          text: `history message ${i}`,
          ts: start + i,
        });
      }
      messagesOf(seeder.doc).push(records);
    }
    await waitFor(
      async () => messagesOf(await readRelayDoc(relay, seeder.provider.roomname, token)).length === THREAD,
      { what: "thread stored on the relay", timeoutMs: 60_000 },
    );
    seeder.destroy();
  });

  afterAll(async () => {
    for (const client of clients) await client.destroy().catch(() => {});
    await relay.stop();
  });

  async function loggedIn(network?: Network, storage = memoryStorage()): Promise<ParleyClient> {
    const client = createClient({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      storage,
      WebSocket: network?.WebSocket() ?? WebSocket,
    });
    clients.push(client);
    await client.login(USER, await signUserToken(USER));
    return client;
  }

  /** Sends `count` messages from another client and returns their encoded size as the relay stores them. */
  async function writeElsewhere(writer: ParleyClient, count: number): Promise<number> {
    const token = await signUserToken(USER);
    const room = roomName({ appId: TEST_APP.id, kind: "user", subject: USER });
    const before = Y.encodeStateVector(await readRelayDoc(relay, room, token));
    for (let i = 0; i < count; i++) await writer.send(`missed message ${i}`);
    await writer.flush();
    return Y.encodeStateAsUpdate(await readRelayDoc(relay, room, token), before).byteLength;
  }

  it("a client whose network was cut receives only the messages it missed", async () => {
    const network = new Network();
    const reader = await loggedIn(network);
    await waitFor(() => reader.messages().length === THREAD, { what: "reader has the thread", timeoutMs: 60_000 });
    const fullThreadBytes = network.received;
    const writer = await loggedIn();
    await waitFor(() => writer.messages().length === THREAD, { what: "writer has the thread", timeoutMs: 60_000 });

    network.cut();
    await waitFor(() => reader.status === "offline", { what: "reader offline" });
    const missedBytes = await writeElsewhere(writer, 10);
    network.received = 0;
    network.down = false;
    await waitFor(() => reader.messages().length === THREAD + 10, { what: "reader caught up", timeoutMs: 60_000 });

    expect(network.received).toBeLessThanOrEqual(missedBytes + OVERHEAD_BYTES);
    expect(network.received).toBeLessThan(fullThreadBytes / 50);
  });

  it("a client restarting from its local store receives only the messages it missed", async () => {
    const storage = memoryStorage();
    const first = await loggedIn(undefined, storage);
    await waitFor(() => first.messages().length >= THREAD + 10, {
      what: "first run has the thread",
      timeoutMs: 60_000,
    });
    await first.destroy();

    const writer = await loggedIn();
    await waitFor(() => writer.messages().length >= THREAD + 10, { what: "writer has the thread", timeoutMs: 60_000 });
    const missedBytes = await writeElsewhere(writer, 10);
    const total = writer.messages().length;

    const network = new Network();
    const restarted = createClient({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      storage,
      WebSocket: network.WebSocket(),
    });
    clients.push(restarted);
    await restarted.ready;
    await waitFor(() => restarted.messages().length === total, {
      what: "restarted client caught up",
      timeoutMs: 60_000,
    });

    expect(network.received).toBeLessThanOrEqual(missedBytes + OVERHEAD_BYTES);
  });
});
