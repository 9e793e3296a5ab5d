/**
 * Login merges on a relay process whose storage keeps revocations (PostgreSQL's `revocations` table), one step at a
 * time: a merge the authorship rules refuse claims nothing (the subject stays usable and may still log in); a
 * subject claimed for a user by a merge that never got further (a node that died after its claim) is refused to
 * every other user and to its own secret, and the merge into the claiming user, retried, applies the anonymous
 * messages once and then writes the revocation into the anonymous document; a logout claims the subject.
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  createSecret,
  listMessages,
  type MessageRecord,
  messagesOf,
  metaOf,
  ownersOf,
  RELAY_OWNER,
  roomName,
} from "@parley/protocol";
import { createPostgresStorage, type PostgresStorage } from "@parley/relay-postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { userRoom } from "./support/honest-sync.js";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./support/postgres.js";
import {
  connectRaw,
  openProvider,
  type RelayHandle,
  signUserToken,
  startRelay,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const schema = `parley_merge_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgresAdmin();
const BUSINESS_ID = "business-welcome-0001";
/** Safety nets of this file's waits, far above what a loaded machine takes (CI runs the suite in parallel). */
const WAIT_MS = 60_000;
let relay: RelayHandle;
/** The test's own handle on the relay's schema (as another node would have). */
let storage: PostgresStorage;
const open: TestProvider[] = [];

beforeAll(async () => {
  await assertPostgresReachable(admin);
  storage = await createPostgresStorage({ url: PG_URL, schema });
  // Hana's thread starts with a business message, which a merge may not hide.
  const doc = new Y.Doc();
  doc.transact(() => {
    ownersOf(doc).set(String(doc.clientID), RELAY_OWNER);
    messagesOf(doc).push([{ id: BUSINESS_ID, role: "business", author: { name: "Support" }, text: "Welcome", ts: 1 }]);
  });
  await storage.append(userRoom("hana"), Y.encodeStateAsUpdate(doc), await storage.claim(userRoom("hana")));
  relay = await startRelay({ extraConfig: { storage: { kind: "postgres", url: PG_URL, schema } } });
});

afterAll(async () => {
  for (const provider of open) provider.destroy();
  await relay?.stop();
  await storage?.close();
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

/** An anonymous visitor synced to its room, who wrote `messages` (stored). */
async function visitor(messages: Array<{ id: string; text: string }>) {
  const secret = createSecret();
  const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
  const provider = openProvider(relay, room, anonymousToken(secret), { doc: new Y.Doc() });
  open.push(provider);
  await waitFor(() => provider.provider.synced, { what: "the visitor's sync", timeoutMs: WAIT_MS });
  const records: MessageRecord[] = messages.map(({ id, text }) => ({
    id,
    role: "user",
    client: provider.clientId,
    text,
    ts: Date.now(),
  }));
  messagesOf(provider.doc).push(records);
  const token = anonymousToken(secret);
  await waitFor(async () => listMessages(await readRelayDoc(relay, room, token)).length === messages.length, {
    what: "the visitor's messages stored",
    timeoutMs: WAIT_MS,
  });
  return { room, token, ...provider };
}

/** A raw connection to `room` with `params`; resolves with its close code and reason token. */
async function refusal(room: string, params: Record<string, string>): Promise<{ code: number; reason: string }> {
  const { closed } = connectRaw(relay, room, params);
  const { code, reason } = await closed;
  return { code, reason: reason.split(" ")[0] ?? "" };
}

/** The anonymous document as PostgreSQL holds it. */
async function storedDoc(room: string): Promise<Y.Doc> {
  const doc = new Y.Doc();
  for (const update of await storage.load(room)) Y.applyUpdate(doc, update);
  return doc;
}

/** A merge connection that waits for the sync (`true`) or reports the close. */
async function connectRawSession(room: string, token: string, merge: string): Promise<boolean | number> {
  const { closed, opened, frames } = connectRaw(relay, room, { token, client: createSecret(), merge });
  await opened.catch(() => {});
  const outcome = await Promise.race([
    closed.then(({ code }) => code),
    waitFor(() => frames.length > 0, { what: "the sync started", timeoutMs: WAIT_MS }).then(() => true as const),
  ]);
  return outcome;
}

/** The anonymous id in an anonymous room name. */
const anonymousIdOf = (room: string) => room.split("/")[2];

it("claims nothing for a merge the authorship rules refuse", async () => {
  const anon = await visitor([{ id: BUSINESS_ID, text: "hides the business message" }]);
  const closed = await refusal(userRoom("hana"), {
    token: await signUserToken("hana"),
    client: anon.clientSecret,
    merge: anon.token,
  });
  expect(closed).toEqual({ code: CloseCode.Authorship, reason: "merge" });
  expect(await storage.revocations.lookup(anon.room)).toBeUndefined();
  expect(metaOf(await storedDoc(anon.room)).get("revoked")).toBeUndefined();
  // Still the visitor's: it reads its room, and may log in as someone whose thread it does not contradict.
  expect(listMessages(await readRelayDoc(relay, anon.room, anon.token))).toHaveLength(1);
  anon.destroy();
  const session = await connectRawSession(userRoom("ivo"), await signUserToken("ivo"), anon.token);
  expect(session).toBe(true);
  expect(await storage.revocations.lookup(anon.room)).toEqual({ mergedInto: "ivo" });
}, 120_000);

it("finishes a merge another node claimed and never applied, into that user only", async () => {
  const anon = await visitor([
    { id: "anon-once-0001", text: "one" },
    { id: "anon-once-0002", text: "two" },
  ]);
  anon.destroy();
  // A node claimed the subject for jon and died before the merge reached jon's room.
  expect(await storage.revocations.claim(anon.room, "jon")).toEqual({ mergedInto: "jon" });

  expect(await refusal(anon.room, { token: anon.token, client: createSecret() })).toEqual({
    code: CloseCode.Forbidden,
    reason: "merged",
  });
  expect(
    await refusal(userRoom("kim"), { token: await signUserToken("kim"), client: createSecret(), merge: anon.token }),
  ).toEqual({ code: CloseCode.Forbidden, reason: "merged" });
  expect(await connectRawSession(userRoom("jon"), await signUserToken("jon"), anon.token)).toBe(true);

  const jon = await readRelayDoc(relay, userRoom("jon"), await signUserToken("jon"));
  const texts = messagesOf(jon)
    .toArray()
    .map((m) => m.text);
  expect(texts.sort()).toEqual(["one", "two"]);
  expect(metaOf(jon).get("merged")).toEqual([anonymousIdOf(anon.room)]);
  await waitFor(async () => metaOf(await storedDoc(anon.room)).get("mergedInto") === "jon", {
    what: "the revocation in the anonymous document",
    timeoutMs: WAIT_MS,
  });
  // A second retry changes nothing.
  expect(await connectRawSession(userRoom("jon"), await signUserToken("jon"), anon.token)).toBe(true);
  const again = await readRelayDoc(relay, userRoom("jon"), await signUserToken("jon"));
  expect(messagesOf(again).length).toBe(2);
}, 120_000);

it("claims the subject of an anonymous logout", async () => {
  const anon = await visitor([{ id: "anon-logout-0001", text: "bye" }]);
  anon.destroy();
  const session = connectRaw(relay, anon.room, { token: anon.token, client: anon.clientSecret });
  await session.opened;
  session.ws.send(new Uint8Array([101]));
  expect((await session.closed).code).toBe(1000);
  expect(await storage.revocations.lookup(anon.room)).toEqual({});
}, 120_000);
