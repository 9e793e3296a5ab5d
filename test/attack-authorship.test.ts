/**
 * Authorship attacks through a stock y-websocket client with a valid token, against a real relay
 * process. Each forged write must close the attacker with 4409, store nothing (a fresh reader, and the
 * relay after a restart, never see it), and leave an honest client in the same room working.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientRecord,
  CloseCode,
  clientIdFromSecret,
  clientsOf,
  createSecret,
  listMessages,
  type MessageRecord,
  MessageType,
  messagesOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  readsOf,
  roomName,
  type UserMessageRecord,
} from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import * as encoding from "lib0/encoding";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const BUSINESS_MESSAGE = {
  id: "business-welcome",
  role: "business",
  author: { name: "Support" },
  text: "Welcome! How can we help?",
  ts: 1_700_000_000_000,
} as const;

const userIds = Array.from({ length: 24 }, (_, i) => `attack-user-${i}-${createSecret().slice(0, 6)}`);
const roomOf = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

let relay: RelayHandle;
const providers: WebsocketProvider[] = [];
let nextUser = 0;

/** Stores a conversation with a business message for every test user, as the business API would. */
async function seedConversations(dataDir: string): Promise<void> {
  const storage = new FileStorage({ dataDir });
  for (const userId of userIds) {
    const doc = new Y.Doc();
    doc.transact(() => {
      ownersOf(doc).set(String(doc.clientID), RELAY_OWNER);
      messagesOf(doc).push([BUSINESS_MESSAGE as MessageRecord]);
    });
    await storage.append(roomOf(userId), Y.encodeStateAsUpdate(doc), await storage.claim(roomOf(userId)));
  }
  await storage.close();
}

interface Peer {
  provider: WebsocketProvider;
  doc: Y.Doc;
  clientId: string;
  /** Resolves with the close code once the relay closes the connection for good (4400-4499). */
  closed: Promise<number>;
}

/** A stock WebsocketProvider (no BroadcastChannel) with its own client secret; resolves once synced. */
async function connect(room: string, token: string): Promise<Peer> {
  const doc = new Y.Doc();
  const secret = createSecret();
  const provider = new WebsocketProvider(relay.url, room, doc, {
    params: { token, client: secret },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  providers.push(provider);
  const closed = new Promise<number>((resolve) => provider.once("closed", (event) => resolve(event.code)));
  await waitFor(() => provider.synced, { what: `sync of ${room}` });
  return { provider, doc, clientId: clientIdFromSecret(secret), closed };
}

function userMessage(clientId: string, text: string): UserMessageRecord {
  return { id: `m${createSecret().slice(0, 16)}`, role: "user", client: clientId, text, ts: Date.now() };
}

/** A room with an honest client connected, and an attacker connected with the same user's token. */
async function scene() {
  const userId = userIds[nextUser++] as string;
  const room = roomOf(userId);
  const token = await signUserToken(userId);
  const honest = await connect(room, token);
  const hello = userMessage(honest.clientId, "honest hello");
  messagesOf(honest.doc).push([hello]);
  await waitFor(async () => listMessages(await readRelayDoc(relay, room, token)).some((m) => m.id === hello.id), {
    what: "the honest message to be stored",
  });
  const attacker = await connect(room, token);
  return { userId, room, token, honest, attacker, hello };
}

type Scene = Awaited<ReturnType<typeof scene>>;

/** The attacker is closed with 4409; the honest client still writes; the relay stored none of the attack. */
async function expectRefusedAttack(s: Scene, stored: (doc: Y.Doc) => void): Promise<void> {
  expect(await s.attacker.closed).toBe(CloseCode.Authorship);
  const after = userMessage(s.honest.clientId, "still here");
  messagesOf(s.honest.doc).push([after]);
  const reader = await waitFor(
    async () => {
      const doc = await readRelayDoc(relay, s.room, s.token);
      return listMessages(doc).some((m) => m.id === after.id) ? doc : null;
    },
    { what: "the honest client's message after the attack" },
  );
  expect(s.honest.provider.wsconnected).toBe(true);
  expect(listMessages(reader).find((m) => m.id === BUSINESS_MESSAGE.id)).toEqual(BUSINESS_MESSAGE);
  stored(reader);
}

/** Text of every message, for "nothing forged is there" checks. */
const texts = (doc: Y.Doc) => listMessages(doc).map((m) => m.text);

beforeAll(async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "parley-attack-authorship-")), "data");
  await seedConversations(dataDir);
  relay = await startRelay({ dataDir });
});

// Each stock provider adds a process exit listener in Node (to clear its presence): end a test's providers with it.
afterEach(() => {
  for (const provider of providers.splice(0)) provider.destroy();
});

afterAll(async () => {
  await relay?.stop();
});

describe("authorship attacks through a stock y-websocket client", () => {
  it("refuses a forged business message", async () => {
    const s = await scene();
    messagesOf(s.attacker.doc).push([{ ...BUSINESS_MESSAGE, id: "business-forged", text: "Your refund is approved" }]);
    await expectRefusedAttack(s, (doc) => {
      expect(texts(doc)).not.toContain("Your refund is approved");
      expect(listMessages(doc).filter((m) => m.role === "business")).toHaveLength(1);
    });
  });

  it("refuses a forged message signed with another client's id", async () => {
    const s = await scene();
    messagesOf(s.attacker.doc).push([userMessage(s.honest.clientId, "words put in another device's mouth")]);
    await expectRefusedAttack(s, (doc) => expect(texts(doc)).not.toContain("words put in another device's mouth"));
  });

  it("refuses deleting the business's message", async () => {
    const s = await scene();
    const index = messagesOf(s.attacker.doc)
      .toArray()
      .findIndex((m) => m.id === BUSINESS_MESSAGE.id);
    messagesOf(s.attacker.doc).delete(index, 1);
    await expectRefusedAttack(s, () => {}); // the business message is still there (checked for every attack)
  });

  it("refuses editing the business's message (delete and re-insert in place)", async () => {
    const s = await scene();
    const messages = messagesOf(s.attacker.doc);
    const index = messages.toArray().findIndex((m) => m.id === BUSINESS_MESSAGE.id);
    s.attacker.doc.transact(() => {
      messages.delete(index, 1);
      messages.insert(index, [{ ...BUSINESS_MESSAGE, text: "We will never reply." }]);
    });
    await expectRefusedAttack(s, (doc) => expect(texts(doc)).not.toContain("We will never reply."));
  });

  it("refuses hiding the business's message behind a user message with its id", async () => {
    const s = await scene();
    messagesOf(s.attacker.doc).unshift([{ ...userMessage(s.attacker.clientId, "shadow"), id: BUSINESS_MESSAGE.id }]);
    await expectRefusedAttack(s, (doc) => expect(texts(doc)).not.toContain("shadow"));
  });

  it("refuses deleting another client's message", async () => {
    const s = await scene();
    const index = messagesOf(s.attacker.doc)
      .toArray()
      .findIndex((m) => m.id === s.hello.id);
    messagesOf(s.attacker.doc).delete(index, 1);
    await expectRefusedAttack(s, (doc) => expect(listMessages(doc).some((m) => m.id === s.hello.id)).toBe(true));
  });

  it("refuses writing into another client's record and read position", async () => {
    const s = await scene();
    const record = clientsOf(s.attacker.doc).get(s.honest.clientId);
    expect(record).toBeDefined();
    clientsOf(s.attacker.doc).set(s.honest.clientId, {
      ...(record as ClientRecord),
      platform: "hijacked",
      active: false,
    });
    await expectRefusedAttack(s, (doc) => expect(clientsOf(doc).get(s.honest.clientId)?.platform).not.toBe("hijacked"));

    const again = await scene();
    readsOf(again.attacker.doc).set(again.honest.clientId, { ts: 1 });
    await expectRefusedAttack(again, (doc) => expect(readsOf(doc).get(again.honest.clientId)).toBeUndefined());
  });

  it("refuses structs under another client's Yjs clientID", async () => {
    const s = await scene();
    s.attacker.provider.disconnect();
    // Reconnect as the honest client's Yjs clientID, writing an otherwise valid message of its own.
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(s.attacker.doc));
    doc.clientID = s.honest.doc.clientID;
    messagesOf(doc).push([userMessage(s.attacker.clientId, "borrowed clientID")]);
    const secret = createSecret();
    const provider = new WebsocketProvider(relay.url, s.room, doc, {
      params: { token: s.token, client: secret },
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    });
    providers.push(provider);
    const closed = new Promise<number>((resolve) => provider.once("closed", (event) => resolve(event.code)));
    await expectRefusedAttack({ ...s, attacker: { ...s.attacker, closed } }, (stored) =>
      expect(texts(stored)).not.toContain("borrowed clientID"),
    );
  });

  for (const [kind, write] of [
    ["array", (doc: Y.Doc) => doc.getArray("admin").push(["grant"])],
    ["map", (doc: Y.Doc) => doc.getMap("admin").set("role", "business")],
    ["text", (doc: Y.Doc) => doc.getText("admin").insert(0, "grant")],
    ["relay-only map", (doc: Y.Doc) => ownersOf(doc).set("12345", "attacker")],
  ] as const) {
    it(`refuses a write to an unknown or relay-only root (${kind})`, async () => {
      const s = await scene();
      write(s.attacker.doc);
      await expectRefusedAttack(s, (doc) => {
        expect(doc.share.has("admin")).toBe(false);
        expect(ownersOf(doc).get("12345")).toBeUndefined();
      });
    });
  }

  it("refuses another user's update replayed into the attacker's room", async () => {
    // The victim writes in their own room; the attacker captures the bytes and sends them as they are.
    const victimId = userIds[nextUser++] as string;
    const victimToken = await signUserToken(victimId);
    const victim = await connect(roomOf(victimId), victimToken);
    const captured: Uint8Array[] = [];
    victim.doc.on("update", (update: Uint8Array) => captured.push(update));
    victim.doc.transact(() => {
      profileLogOf(victim.doc).push([
        { key: "email", value: "victim@example.com", ts: Date.now(), client: victim.clientId },
      ]);
      readsOf(victim.doc).set(victim.clientId, { ts: Date.now() });
    });
    expect(captured).toHaveLength(1);

    const s = await scene();
    const frame = encoding.createEncoder();
    encoding.writeVarUint(frame, MessageType.sync);
    syncProtocol.writeUpdate(frame, captured[0] as Uint8Array);
    s.attacker.provider.ws?.send(encoding.toUint8Array(frame));
    await expectRefusedAttack(s, (doc) => {
      expect(profileLogOf(doc).length).toBe(0);
      expect(readsOf(doc).get(victim.clientId)).toBeUndefined();
    });
  });

  it("answers an update with a missing dependency with 4531 instead of queueing it, then syncs in full", async () => {
    const s = await scene();
    const closes: number[] = [];
    s.attacker.provider.on("connection-close", (event) => closes.push(event?.code ?? 0));
    // Two messages written offline; only the second, which depends on the first, is sent.
    const offline = new Y.Doc();
    Y.applyUpdate(offline, Y.encodeStateAsUpdate(s.attacker.doc));
    const updates: Uint8Array[] = [];
    offline.on("update", (update: Uint8Array) => updates.push(update));
    const first = userMessage(s.attacker.clientId, "offline one");
    const second = userMessage(s.attacker.clientId, "offline two");
    messagesOf(offline).push([first]);
    messagesOf(offline).push([second]);
    const frame = encoding.createEncoder();
    encoding.writeVarUint(frame, MessageType.sync);
    syncProtocol.writeUpdate(frame, updates[1] as Uint8Array);
    s.attacker.provider.ws?.send(encoding.toUint8Array(frame));
    await waitFor(() => closes.includes(CloseCode.Resync), { what: "a 4531 close" });
    expect(texts(await readRelayDoc(relay, s.room, s.token))).not.toContain("offline two");

    // The stock client reconnects on its own (4531 is transient); with both updates it syncs in full.
    for (const update of updates) Y.applyUpdate(s.attacker.doc, update);
    await waitFor(
      async () => {
        const stored = texts(await readRelayDoc(relay, s.room, s.token));
        return stored.includes("offline one") && stored.includes("offline two");
      },
      { what: "both offline messages after the full sync" },
    );
  });

  it("after a restart, the relay holds none of the refused writes", async () => {
    await relay.restart();
    for (const userId of userIds.slice(0, nextUser)) {
      const doc = await readRelayDoc(relay, roomOf(userId), await signUserToken(userId));
      const messages = listMessages(doc);
      expect(messages.filter((m) => m.role === "business")).toEqual([BUSINESS_MESSAGE]);
      for (const message of messages) {
        if (message.role === "user")
          expect(["honest hello", "still here", "offline one", "offline two"]).toContain(message.text);
      }
      expect(doc.share.has("admin")).toBe(false);
      for (const record of clientsOf(doc).values()) expect(record.platform).not.toBe("hijacked");
    }
  });
});
