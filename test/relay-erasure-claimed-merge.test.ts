/**
 * Erasing a user on PostgreSQL also erases the anonymous conversations claimed for them by a login merge that never
 * reached their document: a merge claims the subject in `revocations` before it applies the messages and lists
 * the subject in the user's `meta.merged`, so a node that died in between leaves a subject that only the store
 * names for the user. `DELETE users/<id>` turns it into a tombstone too (loaded from PostgreSQL: no messages),
 * empties its row's `merged_into`, and its secret stays refused with 4403; a retried merge into the erased user
 * applies nothing. A user whose own document was never stored but who has such a claim is erased (204), not 404.
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
  roomName,
} from "@parley/protocol";
import { createPostgresStorage, type PostgresStorage } from "@parley/relay-postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as Y from "yjs";
import { api, startBusinessRelay } from "./business-support.js";
import { userRoom } from "./support/honest-sync.js";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./support/postgres.js";
import { connectRaw, openProvider, type RelayHandle, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const schema = `parley_erase_claimed_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgresAdmin();
let relay: RelayHandle;
/** The test's own handle on the relay's schema (as another node would have). */
let storage: PostgresStorage;

beforeAll(async () => {
  await assertPostgresReachable(admin);
  storage = await createPostgresStorage({ url: PG_URL, schema });
  relay = await startBusinessRelay({ extraConfig: { storage: { kind: "postgres", url: PG_URL, schema } } });
});

afterAll(async () => {
  await relay?.stop();
  await storage?.close();
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

/** An anonymous visitor who wrote `texts` (stored), then went away. */
async function visitor(texts: string[]) {
  const secret = createSecret();
  const anonymousId = anonymousIdFromSecret(secret);
  const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousId });
  const provider = openProvider(relay, room, anonymousToken(secret), { doc: new Y.Doc() });
  try {
    await waitFor(() => provider.provider.synced, { what: "the visitor's sync" });
    const records: MessageRecord[] = texts.map((text, index) => ({
      id: `claimed-${anonymousId.slice(0, 8)}-${index}`,
      role: "user",
      client: provider.clientId,
      text,
      ts: Date.now(),
    }));
    messagesOf(provider.doc).push(records);
    await waitFor(
      async () => (await api(relay, "GET", `anonymous/${anonymousId}`)).body?.messageCount === texts.length,
      {
        what: "the visitor's messages stored",
      },
    );
  } finally {
    provider.destroy();
  }
  return { room, anonymousId, token: anonymousToken(secret) };
}

/** The document as PostgreSQL holds it. */
async function storedDoc(room: string): Promise<Y.Doc> {
  const doc = new Y.Doc();
  for (const update of await storage.load(room)) Y.applyUpdate(doc, update);
  return doc;
}

/** A raw connection to `room` with `params`; resolves with its close code and reason token. */
async function refusal(room: string, params: Record<string, string>): Promise<{ code: number; reason: string }> {
  const { closed } = connectRaw(relay, room, params);
  const { code, reason } = await closed;
  return { code, reason: reason.split(" ")[0] ?? "" };
}

/** What erasure must leave of an anonymous room claimed for an erased user. */
async function expectErasedSubject(anon: { room: string; token: string }): Promise<void> {
  const doc = await storedDoc(anon.room);
  expect(listMessages(doc)).toEqual([]);
  expect(metaOf(doc).get("erased")).toBe(true);
  expect(metaOf(doc).get("mergedInto")).toBeUndefined();
  expect(await storage.revocations.lookup(anon.room)).toEqual({});
  const [row] = await admin.unsafe(`SELECT merged_into FROM "${schema}".revocations WHERE room = $1`, [anon.room]);
  expect(row).toEqual({ merged_into: null });
  expect(await refusal(anon.room, { token: anon.token, client: createSecret() })).toEqual({
    code: CloseCode.Forbidden,
    reason: "revoked",
  });
}

it("DELETE users/<id> erases an anonymous conversation claimed for the user whose merge never reached their room", async () => {
  const profile = await api(relay, "PUT", "users/uma", { body: { profile: { givenName: "Uma" } } });
  expect(profile.status).toBe(201);
  const anon = await visitor(["my address is 1 Elm St", "call me"]);
  // A node claimed the subject for uma and died before the merge reached uma's room.
  expect(await storage.revocations.claim(anon.room, "uma")).toEqual({ mergedInto: "uma" });
  expect((await api(relay, "GET", "users/uma")).body.merged ?? []).toEqual([]);
  expect(listMessages(await storedDoc(anon.room))).toHaveLength(2);

  expect((await api(relay, "DELETE", "users/uma")).status).toBe(204);

  await expectErasedSubject(anon);
  expect((await api(relay, "GET", "users/uma")).status).toBe(404);
  expect((await api(relay, "GET", `anonymous/${anon.anonymousId}`)).status).toBe(404);
  // The client's retried merge into the erased userId applies nothing.
  expect(
    await refusal(userRoom("uma"), { token: await signUserToken("uma"), client: createSecret(), merge: anon.token }),
  ).toEqual({ code: CloseCode.Forbidden, reason: "revoked" });
  expect(await storage.load(userRoom("uma"))).toEqual([]);
});

it("DELETE users/<id> erases the claimed conversations of a user whose own room was never stored (204, not 404)", async () => {
  const [first, second] = [await visitor(["first visit"]), await visitor(["second visit"])];
  await storage.revocations.claim(first.room, "vic");
  await storage.revocations.claim(second.room, "vic");
  // Another user's claim is not vic's.
  const other = await visitor(["not vic"]);
  await storage.revocations.claim(other.room, "wes");
  expect(await storage.load(userRoom("vic"))).toEqual([]);

  expect((await api(relay, "DELETE", "users/vic")).status).toBe(204);

  await expectErasedSubject(first);
  await expectErasedSubject(second);
  expect(listMessages(await storedDoc(other.room))).toHaveLength(1);
  expect(await storage.revocations.lookup(other.room)).toEqual({ mergedInto: "wes" });
  // Once erased, vic is unknown again.
  expect((await api(relay, "DELETE", "users/vic")).status).toBe(404);
});
