/**
 * Fuzzes the login-merge check with random anonymous documents written without any check: clients that
 * write into relay-only roots, under other clients' read keys or client ids, reuse message ids of the
 * user's thread, or reuse Yjs clientIDs the user's document has with another history; and owners maps that
 * lie. Whatever checkMerge accepts must apply to the user document completely and within the rules, and
 * must leave every message the user's thread showed before as it was. `PARLEY_FUZZ_ITERATIONS` and
 * `PARLEY_FUZZ_SEED` as in authorship.fuzz.test.ts.
 */
import {
  BUSINESS_READ_KEY,
  clientsOf,
  listMessages,
  messagesOf,
  metaOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  Root,
  readProfile,
  readsOf,
} from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkMerge } from "./merge-check.js";

const NOW = 1_700_000_000_000;
const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? 0x3e_46_2026);
const ITERATIONS = Number(process.env.PARLEY_FUZZ_ITERATIONS ?? 400);
const CLIENTS = ["anonClientA000000000000", "anonClientB000000000000", "userClientU000000000000"];
const USER_CLIENT = CLIENTS[2] as string;
const USER_YJS = 7;
const USER_RELAY_YJS = 1;

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const int = (max: number): number => Math.floor(random() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const message = (client: string, id: string) => ({ id, role: "user", client, text: `t ${id}`, ts: NOW - int(1000) });

/** The user's document: the relay's business message and one user client's message and profile. */
function userDoc(): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = USER_RELAY_YJS;
  doc.transact(() => {
    ownersOf(doc).set(String(USER_RELAY_YJS), RELAY_OWNER);
    ownersOf(doc).set(String(USER_YJS), USER_CLIENT);
    messagesOf(doc).push([{ id: "business-0001", role: "business", author: {}, text: "Hi", ts: NOW - 5000 }]);
  });
  const peer = new Y.Doc();
  peer.clientID = USER_YJS;
  Y.applyUpdate(peer, Y.encodeStateAsUpdate(doc));
  messagesOf(peer).push([message(USER_CLIENT, "user-msg-0001") as never]);
  profileLogOf(peer).push([{ key: "givenName", value: "U", ts: NOW - 10, client: USER_CLIENT }]);
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer));
  return doc;
}

/** A random anonymous document: the relay's writes, then clients writing anything anywhere. */
function anonymousDoc(user: Y.Doc): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = 100 + int(3);
  const relayYjs = doc.clientID;
  doc.transact(() => {
    ownersOf(doc).set(String(relayYjs), RELAY_OWNER);
    clientsOf(doc).set(CLIENTS[0] as string, { id: "x", platform: "web", firstSeen: 1, lastSeen: 1, active: true });
    metaOf(doc).set("subject", "anonymous");
    if (random() < 0.5)
      messagesOf(doc).push([{ id: "anon-business1", role: "business", author: {}, text: "Hey", ts: NOW }]);
  });
  const writers = 1 + int(3);
  for (let w = 0; w < writers; w++) {
    const peer = new Y.Doc();
    // Sometimes a clientID the user's document already has (with its own history there).
    peer.clientID = random() < 0.25 ? pick([USER_YJS, USER_RELAY_YJS]) : 200 + int(5);
    if (random() < 0.3) Y.applyUpdate(peer, Y.encodeStateAsUpdate(user));
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(doc));
    const owner = pick(CLIENTS);
    for (let op = 1 + int(4); op > 0; op--) {
      const target = pick(CLIENTS);
      switch (int(7)) {
        case 0:
          messagesOf(peer).push([
            message(target, pick(["user-msg-0001", "business-0001", `anon-${int(1e6)}-xx`])) as never,
          ]);
          break;
        case 1:
          profileLogOf(peer).push([{ key: "givenName", value: "A", ts: NOW - int(100), client: target }]);
          break;
        case 2:
          readsOf(peer).set(pick([target, BUSINESS_READ_KEY]), { ts: NOW - int(100) });
          break;
        case 3:
          pick([ownersOf(peer), clientsOf(peer), metaOf(peer)] as Array<Y.Map<unknown>>).set(String(int(300)), "x");
          break;
        case 4:
          messagesOf(peer).push([{ bogus: true } as never]);
          break;
        case 5:
          if (messagesOf(peer).length > 0) messagesOf(peer).delete(int(messagesOf(peer).length), 1);
          break;
        default:
          peer.getText("extra").insert(0, "not in the layout");
      }
    }
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer));
    // The owners map mostly tells the truth.
    doc.transact(() => {
      ownersOf(doc).set(String(peer.clientID), random() < 0.85 ? owner : pick([RELAY_OWNER, ...CLIENTS]));
    });
  }
  return doc;
}

/** The document's live items of `client`, with their root and key. */
function itemsOf(doc: Y.Doc, client: number): Array<{ item: Y.Item; root: string; key: string | null }> {
  return (doc.store.clients.get(client) ?? [])
    .filter((s): s is Y.Item => s instanceof Y.Item && !s.deleted)
    .map((item) => ({ item, root: Y.findRootTypeKey(item.parent as Y.AbstractType<unknown>), key: item.parentSub }));
}

describe("checkMerge fuzz", () => {
  it(`merges only what the rules allow and never hides the user's messages (${ITERATIONS} cases)`, () => {
    const outcomes = { merged: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const user = userDoc();
      const anonymous = anonymousDoc(user);
      const before = new Map(listMessages(user).map((m) => [m.id, m]));
      const beforeState = Y.encodeStateVector(user);
      const verdict = checkMerge(anonymous, user, NOW);
      expect(Y.encodeStateVector(user)).toEqual(beforeState);
      if (!verdict.ok) {
        outcomes.refused++;
        continue;
      }
      outcomes.merged++;
      user.transact(() => {
        for (const [client, owner] of verdict.newOwners) ownersOf(user).set(String(client), owner);
      });
      Y.applyUpdate(user, verdict.update);
      expect(user.store.pendingStructs).toBeNull();
      expect(user.store.pendingDs).toBeNull();
      // A message may go only by its own author's delete (allowed in any update); business messages never.
      const authors = new Set([...verdict.newOwners.values(), ...ownersOf(anonymous).values()]);
      const after = new Map(listMessages(user).map((m) => [m.id, m]));
      for (const [id, record] of before) {
        if (record.role === "user" && authors.has(record.client) && !after.has(id)) continue;
        expect(after.get(id)).toEqual(record);
      }
      expect(() => readProfile(user)).not.toThrow();
      for (const client of anonymous.store.clients.keys()) {
        const owner = ownersOf(user).get(String(client));
        for (const { item, root, key } of itemsOf(user, client)) {
          if (owner === RELAY_OWNER) {
            if (client === USER_RELAY_YJS) continue; // the user document's own relay
            expect([`${Root.messages}:null`, `${Root.reads}:${BUSINESS_READ_KEY}`]).toContain(`${root}:${key}`);
            continue;
          }
          expect([Root.messages, Root.profile, Root.reads]).toContain(root);
          if (root === Root.reads) expect(key).toBe(owner);
          if (root !== Root.reads) {
            for (const value of item.content.getContent()) expect((value as { client: string }).client).toBe(owner);
          }
        }
      }
    }
    console.info("merge fuzz outcomes", outcomes);
    expect(outcomes.merged).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
