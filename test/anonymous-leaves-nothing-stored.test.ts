/**
 * An anonymous identity that never writes leaves nothing stored, against a real relay process: a visitor whose
 * client connects, syncs (again on the next page) and leaves without writing has nothing in the data directory
 * (no document, not even a claimed fence), is not listed by the business API and is reported by no webhook; a visitor who writes gets its client record with its
 * first write. The per-address limit on new anonymous identities counts such a visitor once, however often it
 * comes back.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  clientIdFromSecret,
  clientsOf,
  createSecret,
  encodeClientInfo,
  listMessages,
  MessageType,
  messagesOf,
  roomName,
} from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { api, type ReceivedDelivery, startBusinessRelay, startReceiver, webhookConfig } from "./business-support.js";
import type { RelayHandle } from "./support/relay.js";
import { TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const anonymousRoom = (secret: string) =>
  roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });

/** Where the file store keeps the name file of `room` (written with the room's first write). */
function nameFile(dataDir: string, room: string): string {
  const hash = createHash("sha256").update(room).digest("hex");
  return join(dataDir, "docs", hash.slice(0, 2), `${hash}.name`);
}

/** The file store's directory of `room` (fence, manifest and records; created by a claim). */
function roomDir(dataDir: string, room: string): string {
  const hash = createHash("sha256").update(room).digest("hex");
  return join(dataDir, "docs", hash.slice(0, 2), hash);
}

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

/**
 * A raw anonymous client of `secret`'s room from `address`, with a stable client secret (a browser's): syncs,
 * then `write`s a message if asked, and resolves once it synced (or was closed).
 */
function visit(relay: RelayHandle, secret: string, clientSecret: string, address: string) {
  const params = new URLSearchParams({
    token: anonymousToken(secret),
    client: clientSecret,
    info: encodeClientInfo({ platform: "test-visitor" }),
  });
  const ws = new WebSocket(`${relay.url}/${anonymousRoom(secret)}?${params}`, {
    headers: { "x-forwarded-for": address },
  });
  const doc = new Y.Doc();
  ws.binaryType = "arraybuffer";
  ws.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const synced = new Promise<boolean>((resolve) => {
    ws.on("open", () =>
      ws.send(
        frame((e) => {
          encoding.writeVarUint(e, MessageType.sync);
          syncProtocol.writeSyncStep1(e, doc);
        }),
      ),
    );
    ws.on("message", (data: ArrayBuffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== MessageType.sync) return;
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MessageType.sync);
      const type = syncProtocol.readSyncMessage(decoder, reply, doc, null);
      // The relay's step 1 is answered as an honest client would: a step 2 that carries nothing.
      if (encoding.length(reply) > 1) ws.send(encoding.toUint8Array(reply));
      if (type === syncProtocol.messageYjsSyncStep2) resolve(true);
    });
    void closed.then(() => resolve(false));
  });
  return {
    synced,
    closed,
    clientId: clientIdFromSecret(clientSecret),
    write(id: string): void {
      const before = Y.encodeStateVector(doc);
      messagesOf(doc).push([
        { id, role: "user", client: clientIdFromSecret(clientSecret), text: "hi", ts: Date.now() },
      ]);
      const update = Y.encodeStateAsUpdate(doc, before);
      ws.send(
        frame((e) => {
          encoding.writeVarUint(e, MessageType.sync);
          syncProtocol.writeUpdate(e, update);
        }),
      );
    },
    async leave(): Promise<void> {
      ws.close(1000);
      await closed;
    },
  };
}

let relay: RelayHandle;
let deliveries: ReceivedDelivery[];
let stopReceiver: () => Promise<void>;

beforeAll(async () => {
  const receiver = await startReceiver();
  deliveries = receiver.received;
  stopReceiver = () => receiver.stop();
  relay = await startBusinessRelay({
    webhooks: [webhookConfig(receiver.url, ["client.added", "message.created"])],
    extraConfig: { fsync: "off", roomGraceMs: 0, limits: { newAnonymousPerHourPerIp: 3, trustProxy: true } },
  });
});
afterAll(async () => {
  await relay?.stop();
  await stopReceiver?.();
});

describe("anonymous identities that never write", () => {
  it("leave nothing stored, are not listed and not reported; one that writes is recorded with its first write", async () => {
    const idle = createSecret();
    const idleClient = createSecret();
    // Two page views of one visitor who never writes, then the visitor is gone.
    for (let page = 0; page < 2; page++) {
      const client = visit(relay, idle, idleClient, "10.7.0.1");
      expect(await client.synced).toBe(true);
      await client.leave();
    }

    const writer = createSecret();
    const writerClient = visit(relay, writer, createSecret(), "10.7.0.2");
    expect(await writerClient.synced).toBe(true);
    expect(existsSync(roomDir(relay.dataDir, anonymousRoom(writer)))).toBe(false);
    writerClient.write("first-message-0001");
    await waitFor(() => deliveries.some((d) => d.rawBody.includes('"client.added"')), { what: "client.added" });
    await writerClient.leave();

    // The business API lists the writer, and knows nothing of the visitor who never wrote.
    const listed = await api(relay, "GET", "users?kind=anonymous");
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(anonymousIdFromSecret(writer));
    expect(JSON.stringify(listed.body)).not.toContain(anonymousIdFromSecret(idle));
    expect((await api(relay, "GET", `anonymous/${anonymousIdFromSecret(idle)}`)).status).toBe(404);

    // A clean stop settles every write; then read the data directory with the file store.
    await relay.stop();
    const storage = new FileStorage({ dataDir: relay.dataDir });
    const stored = (await storage.list("")).names;
    expect(stored).toEqual([anonymousRoom(writer)]);
    // Not even a claim: no name file, no directory (fence, manifest) for the room.
    expect(existsSync(nameFile(relay.dataDir, anonymousRoom(idle)))).toBe(false);
    expect(existsSync(roomDir(relay.dataDir, anonymousRoom(idle)))).toBe(false);
    expect(existsSync(roomDir(relay.dataDir, anonymousRoom(writer)))).toBe(true);
    expect(await storage.load(anonymousRoom(idle))).toEqual([]);

    const doc = new Y.Doc();
    for (const update of await storage.load(anonymousRoom(writer))) Y.applyUpdate(doc, update);
    expect(listMessages(doc).map((m) => m.id)).toEqual(["first-message-0001"]);
    expect(clientsOf(doc).get(writerClient.clientId)).toMatchObject({ platform: "test-visitor", active: true });
    expect(deliveries.map((d) => d.rawBody).join("\n")).not.toContain(anonymousIdFromSecret(idle));
    await relay.restart();
  });

  it("count once per address against newAnonymousPerHourPerIp, however often they come back", async () => {
    // The limit is 3 per hour: one visitor coming back five times, then two more visitors, fit in it.
    const returning = createSecret();
    const returningClient = createSecret();
    for (let page = 0; page < 5; page++) {
      const client = visit(relay, returning, returningClient, "10.8.0.1");
      expect(await client.synced).toBe(true);
      await client.leave();
    }
    for (let i = 0; i < 2; i++) {
      const client = visit(relay, createSecret(), createSecret(), "10.8.0.1");
      expect(await client.synced).toBe(true);
      await client.leave();
    }
    const refused = visit(relay, createSecret(), createSecret(), "10.8.0.1");
    expect(await refused.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "anonymous-rate too many new anonymous users from this address",
    });
    const back = visit(relay, returning, returningClient, "10.8.0.1");
    expect(await back.synced).toBe(true);
    await back.leave();
    expect((await new FileStorage({ dataDir: relay.dataDir }).list("")).names).not.toContain(anonymousRoom(returning));
  });
});
