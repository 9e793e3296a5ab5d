import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  clientIdFromSecret,
  createSecret,
  listMessages,
  MessageType,
  messagesOf,
  readStored,
  roomName,
  type UserMessageRecord,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { afterEach, describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import {
  connectRaw,
  openProvider,
  type RawClient,
  type RelayHandle,
  signUserToken,
  startRelay,
  TEST_APP,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

/** A raw client with `acks=1` that appends numbered messages and tracks what the relay acknowledged. */
class AckedWriter {
  readonly doc = new Y.Doc();
  readonly clientSecret = createSecret();
  readonly raw: RawClient;
  /** Highest stored clock acknowledged for this doc's Yjs clientID (messages 0..acked-1 are stored). */
  acked = 0;
  sent = 0;

  constructor(relay: RelayHandle, room: string, token: string) {
    this.raw = connectRaw(relay, room, { token, client: this.clientSecret, acks: "1" });
    this.raw.ws.on("message", (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== MessageType.stored) return;
      const stored = readStored(decoder).get(this.doc.clientID) ?? 0;
      this.acked = Math.max(this.acked, stored);
    });
    this.doc.on("update", (update: Uint8Array) => {
      if (this.raw.ws.readyState !== this.raw.ws.OPEN) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.sync);
      syncProtocol.writeUpdate(encoder, update);
      this.raw.ws.send(encoding.toUint8Array(encoder));
    });
  }

  async start(): Promise<void> {
    await this.raw.opened;
    // Sync step 1 (empty state): the relay acknowledges only clients whose first sync it answered.
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.sync);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    this.raw.ws.send(encoding.toUint8Array(encoder));
    await waitFor(() => this.raw.frames.length > 0, { what: "the relay's sync step 1" });
  }

  /** Appends message number `this.sent` (Yjs clock = its number). */
  write(clientId: string): void {
    const record: UserMessageRecord = {
      id: `msg-${String(this.sent).padStart(6, "0")}`,
      role: "user",
      client: clientId,
      text: `message ${this.sent}`,
      ts: Date.now(),
    };
    messagesOf(this.doc).push([record]);
    this.sent++;
  }
}

async function readAll(relay: RelayHandle, room: string, userId: string, expected: number): Promise<string[]> {
  const reader = openProvider(relay, room, await signUserToken(userId));
  try {
    await waitFor(() => reader.provider.synced && listMessages(reader.doc).length >= expected, {
      what: `reader sees ${expected} messages`,
    });
    return listMessages(reader.doc).map((m) => m.id);
  } finally {
    reader.destroy();
  }
}

describe("durability across SIGKILL", () => {
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  for (const fsync of ["batch", "off"] as const) {
    it(`fsync=${fsync}: everything acknowledged survives a SIGKILL and a restart`, async () => {
      relay = await startRelay({ extraConfig: { fsync } });
      const room = userRoom(`writer-${fsync}`);
      const token = await signUserToken(`writer-${fsync}`);
      const writer = new AckedWriter(relay, room, token);
      await writer.start();
      const clientId = clientIdFromSecret(writer.clientSecret);
      for (let i = 0; i < 20; i++) writer.write(clientId);
      await waitFor(() => writer.acked >= 20, { what: "20 messages acknowledged" });
      await relay.kill();
      await relay.restart();
      const ids = await readAll(relay, room, `writer-${fsync}`, 20);
      expect(ids).toHaveLength(20);
      writer.raw.ws.terminate();
    });

    it(`fsync=${fsync}: a kill in the middle of a stream of writes loses nothing acknowledged`, async () => {
      relay = await startRelay({ extraConfig: { fsync } });
      const userId = `streamer-${fsync}`;
      const room = userRoom(userId);
      const writer = new AckedWriter(relay, room, await signUserToken(userId));
      await writer.start();
      const clientId = clientIdFromSecret(writer.clientSecret);
      const limit = 3000;
      let stop = false;
      // Write in small bursts until the relay dies (bounded by `limit`).
      const pump = (async () => {
        while (!stop && writer.sent < limit && writer.raw.ws.readyState === writer.raw.ws.OPEN) {
          for (let i = 0; i < 5; i++) writer.write(clientId);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await waitFor(() => writer.acked >= 100, { what: "some writes acknowledged" });
      await relay.kill();
      const ackedAtKill = writer.acked;
      stop = true;
      await pump;
      await writer.raw.closed;
      await relay.restart();
      const ids = new Set(await readAll(relay, room, userId, ackedAtKill));
      for (let i = 0; i < ackedAtKill; i++) {
        expect(ids.has(`msg-${String(i).padStart(6, "0")}`), `acknowledged message ${i} survived`).toBe(true);
      }
      expect(ackedAtKill).toBeLessThanOrEqual(writer.sent);
    });
  }

  it("compacts a long log into a snapshot and serves the same document after a SIGKILL", async () => {
    relay = await startRelay();
    const userId = "compacted";
    const writer = new AckedWriter(relay, userRoom(userId), await signUserToken(userId));
    await writer.start();
    const clientId = clientIdFromSecret(writer.clientSecret);
    for (let i = 0; i < 700; i++) writer.write(clientId);
    await waitFor(() => writer.acked >= 700, { what: "700 messages acknowledged" });
    const files = readdirSync(join(relay.dataDir, "docs"), { recursive: true }).map(String);
    expect(files.some((file) => /(^|\/)snapshot\.\d+\.\d+$/.test(file))).toBe(true);
    await relay.kill();
    await relay.restart();
    const ids = await readAll(relay, userRoom(userId), userId, 700);
    expect(new Set(ids).size).toBe(700);
    writer.raw.ws.terminate();
  });

  it("a provider that wrote while the relay was down re-sends after the restart", async () => {
    relay = await startRelay();
    const room = userRoom("offline-writer");
    const token = await signUserToken("offline-writer");
    const writer = openProvider(relay, room, token);
    try {
      await waitFor(() => writer.provider.synced);
      messagesOf(writer.doc).push([
        { id: "before-kill-1", role: "user", client: writer.clientId, text: "before", ts: Date.now() },
      ]);
      await readAll(relay, room, "offline-writer", 1);
      await relay.kill();
      await waitFor(() => !writer.provider.wsconnected, { what: "provider noticed the relay is gone" });
      messagesOf(writer.doc).push([
        { id: "while-down-1", role: "user", client: writer.clientId, text: "while down", ts: Date.now() },
      ]);
      await relay.restart();
      await waitFor(() => writer.provider.synced && writer.provider.wsconnected, { what: "provider reconnected" });
      const ids = await readAll(relay, room, "offline-writer", 2);
      expect(ids.sort()).toEqual(["before-kill-1", "while-down-1"]);
    } finally {
      writer.destroy();
    }
  });

  it("unloads idle rooms and loads them again on demand", async () => {
    relay = await startRelay({ extraConfig: { roomGraceMs: 0, logLevel: "debug" } });
    const room = userRoom("unloaded");
    const token = await signUserToken("unloaded");
    const writer = openProvider(relay, room, token);
    await waitFor(() => writer.provider.synced);
    messagesOf(writer.doc).push([
      { id: "kept-message-1", role: "user", client: writer.clientId, text: "kept", ts: Date.now() },
    ]);
    await readAll(relay, room, "unloaded", 1);
    writer.destroy();
    const currentRelay = relay;
    await waitFor(() => currentRelay.logs.some((line) => line.includes('"msg":"room unloaded"')), {
      what: "room unloaded",
    });
    expect(await readAll(relay, room, "unloaded", 1)).toEqual(["kept-message-1"]);
  });
});
