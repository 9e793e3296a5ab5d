/**
 * Bounded work per frame and per connection, against a real relay process with small configured limits:
 * new Yjs clientIDs in a sync step 2 (per frame and per document), sync step 1s while a large reply is in
 * flight, new connections per room and per address, and new anonymous identities per address. Each refusal
 * closes with 4529 and its reason, stores nothing of the refused input, and honest clients keep syncing.
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  clientIdFromSecret,
  createSecret,
  MessageType,
  messagesOf,
  ownersOf,
  roomName,
} from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const LIMITS = {
  maxFrameBytes: 1024,
  syncBurst: 6,
  maxNewClientIdsPerSync: 8,
  newClientIdsPerDocumentBurst: 12,
  newClientIdsPerDocumentPerMinute: 1,
  trustProxy: true,
};
/** Connection rates get their own relay: every probe and honest client of the tests connects from 127.0.0.1. */
const RATES = {
  connectsPerMinutePerRoom: 4,
  connectsPerMinutePerIp: 8,
  newAnonymousPerHourPerIp: 2,
  trustProxy: true,
};

let relay: RelayHandle;
let floods: RelayHandle;
let rates: RelayHandle;

beforeAll(async () => {
  floods = await startRelay({ extraConfig: { fsync: "off", limits: LIMITS } });
  rates = await startRelay({ extraConfig: { fsync: "off", limits: RATES } });
  relay = floods;
});
afterAll(async () => {
  await floods?.stop();
  await rates?.stop();
});

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

/** A sync step 2 with one message from each of `sessions` offline sessions (a Yjs clientID each). */
function offlineSessions(clientId: string, sessions: number, tag: string, text = "x"): Uint8Array {
  const merged = new Y.Doc();
  for (let i = 0; i < sessions; i++) {
    const session = new Y.Doc();
    messagesOf(session).push([{ id: `${tag}-${i}-000000`, role: "user", client: clientId, text, ts: Date.now() }]);
    Y.applyUpdate(merged, Y.encodeStateAsUpdate(session));
  }
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    syncProtocol.writeSyncStep2(e, merged);
  });
}

const emptyStep1 = () =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    syncProtocol.writeSyncStep1(e, new Y.Doc());
  });

/** A raw session on `userId`'s room from `address` (as the proxy would report it). */
async function session(userId: string, address = "10.0.0.1") {
  return open(userRoom(userId), await signUserToken(userId), address);
}

/** A raw connection to `room` with `token`, from `address`. */
function open(room: string, token: string, address: string) {
  const secret = createSecret();
  const params = new URLSearchParams({ token, client: secret });
  const ws = new WebSocket(`${relay.url}/${room}?${params}`, { headers: { "x-forwarded-for": address } });
  const frames: Uint8Array[] = [];
  ws.on("message", (data: Buffer) => frames.push(new Uint8Array(data)));
  ws.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { ws, frames, closed, token, clientId: clientIdFromSecret(secret) };
}

async function ownerCount(userId: string): Promise<number> {
  return ownersOf(await readRelayDoc(relay, userRoom(userId), await signUserToken(userId))).size;
}

describe("new Yjs clientIDs in a sync step 2", () => {
  it("more than maxNewClientIdsPerSync in one frame closes with 4529 and stores none of them", async () => {
    const s = await session("flood-step2", "10.1.0.1");
    await waitFor(() => s.frames.length > 0, { what: "the session" });
    s.ws.send(offlineSessions(s.clientId, LIMITS.maxNewClientIdsPerSync + 1, "over"));
    expect(await s.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "sync-client-ids too many new Yjs clientIDs in one sync step 2",
    });
    const owners = await ownerCount("flood-step2");
    expect(owners).toBeLessThanOrEqual(1); // the relay's own clientID at most
    await expectHonestSync(relay, "flood-step2");
  });

  it("step 2s from many connections share the document's budget", async () => {
    const a = await session("flood-document", "10.1.0.2");
    await waitFor(() => a.frames.length > 0, { what: "session a" });
    a.ws.send(offlineSessions(a.clientId, LIMITS.maxNewClientIdsPerSync, "first"));
    await waitFor(async () => (await ownerCount("flood-document")) >= LIMITS.maxNewClientIdsPerSync);
    const before = await ownerCount("flood-document");
    const b = await session("flood-document", "10.1.0.3");
    await waitFor(() => b.frames.length > 0, { what: "session b" });
    b.ws.send(offlineSessions(b.clientId, LIMITS.maxNewClientIdsPerSync, "second"));
    expect(await b.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "document-client-ids too many new Yjs clientIDs in this document",
    });
    expect(await ownerCount("flood-document")).toBe(before);
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    await expectHonestSync(relay, "flood-document-neighbour");
  });
});

describe("large sync replies", () => {
  it("one waits while a large reply is in flight; a further step 1 closes with 4529", async () => {
    // A document well over maxFrameBytes, so every full reply is a large one.
    const writer = await session("flood-replies", "10.2.0.1");
    await waitFor(() => writer.frames.length > 0, { what: "the writer" });
    writer.ws.send(offlineSessions(writer.clientId, 4, "big", "g".repeat(600)));
    await waitFor(async () => (await ownerCount("flood-replies")) >= 4);
    const s = await session("flood-replies", "10.2.0.2");
    await waitFor(() => s.frames.length > 0, { what: "the reader" });
    const replies = () =>
      s.frames.filter((f) => f[0] === MessageType.sync && f[1] === syncProtocol.messageYjsSyncStep2).length;
    // Three step 1s in one TCP write, so the relay reads them together: the first is answered, the second
    // waits for that reply, the third is refused.
    const socket = (s.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.cork();
    for (let i = 0; i < 3; i++) s.ws.send(emptyStep1());
    socket.uncork();
    expect(await s.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "sync-overlap sync request while one is answered",
    });
    expect(replies()).toBeLessThanOrEqual(2);
    expect(writer.ws.readyState).toBe(WebSocket.OPEN);
    await expectHonestSync(relay, "flood-replies");
  });
});

describe("connection rates", () => {
  beforeAll(() => {
    relay = rates;
  });
  it("new connections to one room beyond connectsPerMinutePerRoom close with 4529; other rooms open", async () => {
    const opened = [];
    for (let i = 0; i < RATES.connectsPerMinutePerRoom; i++) {
      const s = await session("flood-room", `10.3.0.${i}`);
      await waitFor(() => s.frames.length > 0, { what: `connection ${i}` });
      opened.push(s);
    }
    const over = await session("flood-room", "10.3.1.1");
    expect(await over.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "room-connect-rate too many new connections to this room",
    });
    for (const s of opened) expect(s.ws.readyState).toBe(WebSocket.OPEN);
    for (const s of opened) s.ws.close();
    await expectHonestSync(relay, "flood-room-neighbour");
  });

  it("new connections from one address beyond connectsPerMinutePerIp close with 4529; other addresses connect", async () => {
    for (let i = 0; i < RATES.connectsPerMinutePerIp; i++) {
      const s = await session(`flood-address-${i}`, "10.4.0.1");
      await waitFor(() => s.frames.length > 0, { what: `connection ${i}` });
      s.ws.close();
    }
    const over = await session("flood-address-over", "10.4.0.1");
    expect(await over.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "connect-rate too many new connections from this address",
    });
    const other = await session("flood-address-over", "10.4.0.2");
    await waitFor(() => other.frames.length > 0, { what: "a connection from another address" });
    other.ws.close();
    await expectHonestSync(relay, "flood-address-honest");
  });

  it("new anonymous identities beyond newAnonymousPerHourPerIp close with 4529; known ones still connect", async () => {
    const anonymousRoom = (secret: string) =>
      roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
    const anonymous = (secret: string) => open(anonymousRoom(secret), anonymousToken(secret), "10.5.0.1");
    const known: string[] = [];
    for (let i = 0; i < RATES.newAnonymousPerHourPerIp; i++) {
      const secret = createSecret();
      const client = anonymous(secret);
      await waitFor(() => client.frames.length > 0, { what: `anonymous identity ${i}` });
      client.ws.close();
      known.push(secret);
    }
    const refusedSecret = createSecret();
    const refused = anonymous(refusedSecret);
    expect(await refused.closed).toEqual({
      code: CloseCode.RateLimited,
      reason: "anonymous-rate too many new anonymous users from this address",
    });
    // Nothing of the refused identity was stored (nor of the known ones: they never wrote); a known identity
    // still connects (counted once per address), and so do other addresses.
    const again = anonymous(known[0] as string);
    await waitFor(() => again.frames.length > 0, { what: "a known anonymous identity" });
    again.ws.close();
    const stored = (await new FileStorage({ dataDir: relay.dataDir }).list("")).names;
    expect(stored).not.toContain(anonymousRoom(refusedSecret));
    expect(stored).not.toContain(anonymousRoom(known[0] as string));
    const elsewhere = createSecret();
    const other = open(anonymousRoom(elsewhere), anonymousToken(elsewhere), "10.5.0.2");
    await waitFor(() => other.frames.length > 0, { what: "an anonymous identity from another address" });
    other.ws.close();
    await expectHonestSync(relay, "flood-anonymous-honest");
  });
});
