/**
 * Login merges held to the authorship rules, against a real relay process: an anonymous history that would
 * hide the business's message (a reused message id) or land records in unchecked roots (a Yjs clientID
 * reused with another history) is refused as a whole with 4409 `merge refused: …`; nothing of it reaches
 * the user's document, the anonymous room stays usable, and honest clients keep syncing. An honest merge
 * carries messages and profile over but none of the anonymous document's relay-only roots.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  anonymousIdFromSecret,
  anonymousToken,
  CloseCode,
  clientsOf,
  createSecret,
  listMessages,
  type MessageRecord,
  messagesOf,
  metaOf,
  ownersOf,
  parseCloseReason,
  profileLogOf,
  RELAY_OWNER,
  readProfile,
  roomName,
} from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { expectHonestSync, userRoom } from "./support/honest-sync.js";
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

const BUSINESS_ID = "business-welcome-0001";
const SEEDED = ["merge-victim-1", "merge-victim-2", "merge-honest-1"];

let relay: RelayHandle;
const open: TestProvider[] = [];

beforeAll(async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "parley-attack-merge-")), "data");
  const storage = new FileStorage({ dataDir });
  for (const userId of SEEDED) {
    const doc = new Y.Doc();
    doc.transact(() => {
      ownersOf(doc).set(String(doc.clientID), RELAY_OWNER);
      messagesOf(doc).push([
        { id: BUSINESS_ID, role: "business", author: { name: "Support" }, text: "Welcome", ts: 1 },
      ]);
    });
    await storage.append(userRoom(userId), Y.encodeStateAsUpdate(doc), await storage.claim(userRoom(userId)));
  }
  await storage.close();
  relay = await startRelay({ dataDir, extraConfig: { fsync: "off" } });
});

afterAll(async () => {
  for (const provider of open) provider.destroy();
  await relay?.stop();
});

/** An anonymous visitor with its own client secret, synced to its anonymous room. */
async function visitor(options: { yjsClientId?: number } = {}) {
  const secret = createSecret();
  const room = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
  const doc = new Y.Doc();
  if (options.yjsClientId !== undefined) doc.clientID = options.yjsClientId;
  const provider = openProvider(relay, room, anonymousToken(secret), { doc });
  open.push(provider);
  await waitFor(() => provider.provider.synced, { what: "the visitor's sync" });
  return { secret, room, token: anonymousToken(secret), ...provider };
}

function message(client: string, id: string, text: string): MessageRecord {
  return { id, role: "user", client, text, ts: Date.now() };
}

async function stored(room: string, token: string, id: string): Promise<void> {
  await waitFor(async () => listMessages(await readRelayDoc(relay, room, token)).some((m) => m.id === id), {
    what: `message ${id} stored in ${room}`,
  });
}

/** Logs the visitor in as `userId` with a merge; resolves with the close code and reason. */
async function mergeInto(userId: string, clientSecret: string, anonymous: string) {
  const client = connectRaw(relay, userRoom(userId), {
    token: await signUserToken(userId),
    client: clientSecret,
    merge: anonymous,
  });
  return client.closed;
}

describe("a login merge obeys the authorship rules", () => {
  it("refuses an anonymous message that reuses the id of the business's message in the user's thread", async () => {
    const anon = await visitor();
    messagesOf(anon.doc).push([message(anon.clientId, BUSINESS_ID, "hides the business message")]);
    await stored(anon.room, anon.token, BUSINESS_ID);

    const { code, reason } = await mergeInto("merge-victim-1", anon.clientSecret, anon.token);
    expect(code).toBe(CloseCode.Authorship);
    expect(parseCloseReason(code, reason)).toEqual({
      reason: "merge",
      detail: "message id already used by another author",
    });

    const user = await readRelayDoc(relay, userRoom("merge-victim-1"), await signUserToken("merge-victim-1"));
    expect(listMessages(user)).toEqual([expect.objectContaining({ id: BUSINESS_ID, role: "business" })]);
    expect([...ownersOf(user).values()]).not.toContain(anon.clientId);
    expect(metaOf(user).get("merged")).toBeUndefined();
    // The anonymous room was not revoked: its visitor still reads it.
    expect(listMessages(await readRelayDoc(relay, anon.room, anon.token))).toHaveLength(1);
    expect(anon.provider.wsconnected).toBe(true);
    await expectHonestSync(relay, "merge-victim-1");
    await expectHonestSync(relay, "merge-bystander");
  });

  it("refuses a Yjs clientID that has another history in the user's document", async () => {
    const yjsClientId = 0x5e_ed_01;
    const userId = "merge-victim-2";
    const token = await signUserToken(userId);
    const anon = await visitor({ yjsClientId });
    // The same client writes with the same Yjs clientID in the user room, with another history.
    const inUser = openProvider(relay, userRoom(userId), token, {
      clientSecret: anon.clientSecret,
      doc: Object.assign(new Y.Doc(), { clientID: yjsClientId }),
    });
    open.push(inUser);
    await waitFor(() => inUser.provider.synced, { what: "the user-room sync" });
    profileLogOf(inUser.doc).push([{ key: "givenName", value: "Mallory", ts: Date.now(), client: anon.clientId }]);
    messagesOf(anon.doc).push([message(anon.clientId, "anon-message-0001", "written while anonymous")]);
    await stored(anon.room, anon.token, "anon-message-0001");
    await waitFor(async () => readProfile(await readRelayDoc(relay, userRoom(userId), token)).givenName === "Mallory");

    const { code, reason } = await mergeInto(userId, anon.clientSecret, anon.token);
    expect(code).toBe(CloseCode.Authorship);
    expect(parseCloseReason(code, reason)).toEqual({
      reason: "merge",
      detail: `clientID ${yjsClientId} has a different history in the user document`,
    });

    const user = await readRelayDoc(relay, userRoom(userId), token);
    expect(listMessages(user).map((m) => m.id)).toEqual([BUSINESS_ID]);
    expect(profileLogOf(user).length).toBe(1);
    expect(metaOf(user).get("merged")).toBeUndefined();
    expect(inUser.provider.wsconnected).toBe(true);
    await expectHonestSync(relay, userId);
  });

  it("carries messages and profile over, and none of the anonymous document's relay-only roots", async () => {
    const anon = await visitor();
    messagesOf(anon.doc).push([message(anon.clientId, "anon-question-01", "a question")]);
    profileLogOf(anon.doc).push([{ key: "givenName", value: "Ada", ts: Date.now(), client: anon.clientId }]);
    await stored(anon.room, anon.token, "anon-question-01");
    const anonymousDoc = await readRelayDoc(relay, anon.room, anon.token);
    const anonymousRelayIds = [...ownersOf(anonymousDoc).entries()]
      .filter(([, owner]) => owner === RELAY_OWNER)
      .map(([id]) => id);
    expect(clientsOf(anonymousDoc).has(anon.clientId)).toBe(true);

    const token = await signUserToken("merge-honest-1");
    const user = openProvider(relay, userRoom("merge-honest-1"), token, {
      clientSecret: anon.clientSecret,
      params: { merge: anon.token },
    });
    open.push(user);
    await waitFor(() => listMessages(user.doc).some((m) => m.id === "anon-question-01"), { what: "merged history" });

    const merged = await readRelayDoc(relay, userRoom("merge-honest-1"), token);
    expect(listMessages(merged).map((m) => m.id)).toEqual([BUSINESS_ID, "anon-question-01"]);
    expect(readProfile(merged).givenName).toBe("Ada");
    expect(metaOf(merged).get("merged")).toEqual([anonymousIdFromSecret(anon.secret)]);
    // The anonymous relay's owners entries, client records and meta keys stayed behind: its Yjs clientIDs
    // hold nothing live in the user's document (their clocks are placeholders), and are bound to the relay.
    expect(anonymousRelayIds.length).toBeGreaterThan(0);
    for (const id of anonymousRelayIds) {
      expect(ownersOf(merged).get(id)).toBe(RELAY_OWNER);
      const structs = merged.store.clients.get(Number(id)) ?? [];
      expect(structs.length).toBeGreaterThan(0);
      for (const struct of structs) expect(struct instanceof Y.Item && !struct.deleted).toBe(false);
    }
    expect(ownersOf(merged).get(String(anon.doc.clientID))).toBe(anon.clientId);
  });
});
