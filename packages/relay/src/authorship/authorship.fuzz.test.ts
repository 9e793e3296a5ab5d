/**
 * Fuzzes the authorship check with mutated and random Yjs updates. Whatever checkUpdate accepts must
 * apply cleanly to a copy of the document, leave it readable, and change nothing the rules do not allow.
 * A fixed seed keeps CI reproducible; `PARLEY_FUZZ_ITERATIONS=200000` runs long on demand, and
 * `PARLEY_FUZZ_SEED=<n>` explores other cases.
 */
import {
  BUSINESS_READ_KEY,
  checkProfileEntry,
  checkReadMark,
  checkUserMessage,
  clientsOf,
  listMessages,
  messagesOf,
  metaOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  Root,
  readPositions,
  readProfile,
  readsOf,
} from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate } from "./authorship.js";

const NOW = 1_700_000_000_000;
const ALICE = "aliceClientId000000000";
const BOB = "bobClientId00000000000";
const RELAY_YJS = 1;
const BOB_YJS = 20;
const ALICE_YJS = 30;
const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? 0x5eed_2026);
const ITERATIONS = Number(process.env.PARLEY_FUZZ_ITERATIONS ?? 3000);
/** Long runs on demand get the time they need. */
const TIMEOUT_MS = Math.max(60_000, ITERATIONS * 2);

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
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

function userMessage(client: string, n: number): Record<string, unknown> {
  return { id: `msg-${client.slice(0, 4)}-${n}-000`, role: "user", client, text: `text ${n}`, ts: NOW - n };
}

/** The stored document: relay writes, Bob's writes and Alice's first writes (clientID 30 is Alice's). */
function baseDoc(): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = RELAY_YJS;
  doc.transact(() => {
    ownersOf(doc).set(String(RELAY_YJS), RELAY_OWNER);
    ownersOf(doc).set(String(BOB_YJS), BOB);
    ownersOf(doc).set(String(ALICE_YJS), ALICE);
    metaOf(doc).set("subject", "user");
    clientsOf(doc).set(BOB, { id: BOB, platform: "web", firstSeen: NOW, lastSeen: NOW, active: true });
    clientsOf(doc).set(BOB, { id: BOB, platform: "web", firstSeen: NOW, lastSeen: NOW + 1, active: true });
    messagesOf(doc).push([{ id: "business-1", role: "business", author: {}, text: "Hi", ts: NOW - 100 }]);
    readsOf(doc).set(BUSINESS_READ_KEY, { ts: NOW - 100 });
  });
  for (const [yjs, client] of [
    [BOB_YJS, BOB],
    [ALICE_YJS, ALICE],
  ] as const) {
    const peer = replica(doc, yjs);
    peer.transact(() => {
      messagesOf(peer).push([userMessage(client, 1) as never, userMessage(client, 2) as never]);
      profileLogOf(peer).push([{ key: "givenName", value: client, ts: NOW - 50, client }]);
      readsOf(peer).set(client, { ts: NOW - 90 });
      readsOf(peer).set(client, { ts: NOW - 80 });
      messagesOf(peer).delete(messagesOf(peer).length - 1, 1);
    });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer, Y.encodeStateVector(doc)));
  }
  return doc;
}

function replica(doc: Y.Doc, clientID: number): Y.Doc {
  const copy = new Y.Doc({ gc: doc.gc });
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  copy.clientID = clientID;
  return copy;
}

/** One random change, honest or not, on a replica. */
const operations: Array<[honest: boolean, (doc: Y.Doc, client: string, n: number) => void]> = [
  [true, (d, c, n) => messagesOf(d).push([userMessage(c, n) as never])],
  [true, (d, c, n) => profileLogOf(d).push([{ key: "email", value: `${n}@x.y`, ts: NOW, client: c }])],
  [true, (d, c, n) => readsOf(d).set(c, { ts: NOW - n })],
  [true, (d, c, n) => messagesOf(d).insert(int(messagesOf(d).length + 1), [userMessage(c, n) as never])],
  [false, (d, _c, n) => messagesOf(d).push([{ ...userMessage(BOB, n), role: "business" } as never])],
  [false, (d, _c, n) => messagesOf(d).push([userMessage(BOB, n) as never])],
  [
    false,
    (d, c) => messagesOf(d).unshift([{ ...userMessage(c, 0), id: pick(["business-1", "msg-bobC-1-000"]) } as never]),
  ],
  [false, (d) => messagesOf(d).length > 0 && messagesOf(d).delete(int(messagesOf(d).length), 1)],
  [false, (d, _c, n) => readsOf(d).set(pick([BOB, BUSINESS_READ_KEY]), { ts: n })],
  [false, (d, c) => clientsOf(d).set(c, { id: c, platform: "x", firstSeen: 0, lastSeen: 0, active: true })],
  [false, (d, c) => ownersOf(d).set("77", c)],
  [false, (d) => metaOf(d).set("subject", "stolen")],
  [false, (d, _c, n) => d.getArray("evil").push([n])],
  [false, (d, _c, n) => d.getText("notes").insert(0, `t${n}`)],
  [false, (d) => messagesOf(d).push([new Y.Map() as never])],
  [false, (d) => profileLogOf(d).length > 0 && profileLogOf(d).delete(0, 1)],
];

interface Candidate {
  update: Uint8Array;
  /** True for unmutated updates of honest changes, which must be accepted. */
  honest: boolean;
}

/** A document that does not know the stored one and uses the layout's root names with other types. */
function foreignUpdate(yjs: number): Candidate {
  const doc = new Y.Doc();
  doc.clientID = yjs;
  const root = pick([Root.messages, Root.profile, Root.reads]);
  const n = int(1000);
  if (random() < 0.5) doc.getText(root).insert(0, `t${n}`);
  else doc.getMap(root === Root.reads ? Root.messages : root).set(ALICE, userMessage(ALICE, n));
  return { update: Y.encodeStateAsUpdate(doc), honest: false };
}

/** A random replica, random changes, encoded against the stored state (or, sometimes, a stale one). */
function randomUpdate(base: Y.Doc): Candidate {
  const honestOnly = random() < 0.4;
  const yjs = honestOnly ? pick([ALICE_YJS, 31 + int(5)]) : pick([ALICE_YJS, 31 + int(5), BOB_YJS, RELAY_YJS]);
  if (!honestOnly && random() < 0.1) return foreignUpdate(yjs);
  const doc = replica(base, yjs);
  let honest = yjs === ALICE_YJS || yjs > 30;
  const before = Y.encodeStateVector(doc);
  let afterFirst = before;
  for (let i = 1 + int(4); i > 0; i--) {
    const [isHonest, operation] = honestOnly ? pick(operations.filter(([h]) => h)) : pick(operations);
    honest &&= isHonest;
    doc.transact(() => operation(doc, ALICE, int(1000)));
    if (afterFirst === before) afterFirst = Y.encodeStateVector(doc);
  }
  if (random() < 0.15) {
    // Without the first change, the rest depends on what the receiver lacks: a resync.
    return { update: Y.encodeStateAsUpdate(doc, afterFirst), honest: false };
  }
  if (random() < 0.1) return { update: Y.encodeStateAsUpdate(doc), honest }; // everything, mostly known
  return { update: Y.encodeStateAsUpdate(doc, before), honest };
}

function mutate(update: Uint8Array, corpus: readonly Candidate[]): Uint8Array {
  let bytes = Array.from(update);
  for (let n = 1 + int(3); n > 0; n--) {
    const at = int(bytes.length + 1);
    switch (int(7)) {
      case 0:
        if (bytes.length > 0) bytes[at % bytes.length] = (bytes[at % bytes.length] as number) ^ (1 << int(8));
        break;
      case 1:
        if (bytes.length > 0) bytes[at % bytes.length] = int(256);
        break;
      case 2:
        bytes = bytes.slice(0, at);
        break;
      case 3: {
        const other = pick(corpus).update;
        const from = int(other.length);
        bytes.splice(at, int(8), ...other.subarray(from, from + 1 + int(24)));
        break;
      }
      case 4:
        // An overlong varint: continuation bits past 64 bits of payload.
        bytes.splice(at, int(2), ...new Array(6 + int(8)).fill(0xff), int(128));
        break;
      case 5:
        bytes.splice(at, 1 + int(6));
        break;
      default: {
        const from = int(bytes.length);
        bytes.splice(at, 0, ...bytes.slice(from, from + 1 + int(16)));
      }
    }
  }
  return new Uint8Array(bytes);
}

/** What user clients other than Alice, and the relay, own: it must never change. */
function othersSnapshot(doc: Y.Doc, alice: ReadonlySet<number>): string {
  const state = [...Y.encodeStateVector(doc)];
  const deleted: Array<[number, number, number]> = [];
  const ds = Y.createDeleteSetFromStructStore(doc.store);
  for (const [client, ranges] of ds.clients) {
    if (alice.has(client)) continue;
    for (const range of ranges) deleted.push([client, range.clock, range.len]);
  }
  const vector = [...Y.decodeStateVector(new Uint8Array(state))].filter(([client]) => !alice.has(client));
  return JSON.stringify({
    vector: vector.sort((a, b) => a[0] - b[0]),
    deleted: deleted.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    clients: clientsOf(doc).toJSON(),
    meta: metaOf(doc).toJSON(),
    reads: Object.entries(readsOf(doc).toJSON()).filter(([key]) => key !== ALICE),
    messages: listMessages(doc).filter((m) => m.role !== "user" || m.client !== ALICE),
    profile: profileLogOf(doc)
      .toArray()
      .filter((entry) => entry.client !== ALICE),
    roots: [...doc.share.keys()].sort(),
  });
}

/** Every struct under one of Alice's Yjs clientIDs sits where the rules allow, with valid values. */
function expectAliceWritesAllowed(doc: Y.Doc, alice: ReadonlySet<number>): void {
  for (const client of alice) {
    for (const struct of doc.store.clients.get(client) ?? []) {
      if (!(struct instanceof Y.Item)) continue;
      const parent = struct.parent as Y.AbstractType<unknown>;
      expect(parent._item).toBeNull();
      const root = Y.findRootTypeKey(parent);
      expect([Root.messages, Root.profile, Root.reads]).toContain(root);
      expect(struct.parentSub).toBe(root === Root.reads ? ALICE : null);
      if (struct.deleted) continue;
      expect(struct.content).toBeInstanceOf(Y.ContentAny);
      for (const value of struct.content.getContent()) {
        const problem =
          root === Root.messages
            ? checkUserMessage(value, ALICE, NOW)
            : root === Root.profile
              ? checkProfileEntry(value, ALICE, NOW)
              : checkReadMark(value, NOW);
        expect(problem).toBeNull();
      }
    }
  }
}

describe("checkUpdate fuzz", () => {
  it(
    `never throws, and whatever it accepts applies cleanly within the rules (${ITERATIONS} cases)`,
    () => {
      const base = baseDoc();
      const baseState = Y.encodeStateAsUpdate(base);
      const aliceBase = new Set([ALICE_YJS]);
      const corpus: Candidate[] = [];
      for (let i = 0; i < 64; i++) corpus.push(randomUpdate(base));
      const counts = { cases: 0, accepted: 0, acceptedMutants: 0, honest: 0, authorship: 0, "bad-frame": 0, resync: 0 };

      for (let i = 0; i < ITERATIONS; i++) {
        const source = random() < 0.3 ? randomUpdate(base) : pick(corpus);
        const mutated = random() < 0.6;
        const update = mutated ? mutate(source.update, corpus) : source.update;
        const verdict = checkUpdate(base, update, { clientId: ALICE }, NOW);
        counts.cases++;
        if (!mutated && source.honest) {
          expect(verdict, "an honest update was refused").toMatchObject({ ok: true });
          counts.honest++;
        }
        if (!verdict.ok) {
          counts[verdict.code]++;
          continue;
        }
        counts.accepted++;
        if (mutated) counts.acceptedMutants++;
        const copy = new Y.Doc();
        Y.applyUpdate(copy, baseState);
        copy.clientID = RELAY_YJS;
        const alice = new Set([...aliceBase, ...verdict.newOwners]);
        copy.transact(() => {
          for (const id of verdict.newOwners) ownersOf(copy).set(String(id), ALICE);
        });
        const ownersBefore = othersSnapshot(copy, alice);
        const replay = `update ${Buffer.from(update).toString("hex")}`; // to reproduce a failure
        expect(() => Y.applyUpdate(copy, update), replay).not.toThrow();
        expect(copy.store.pendingStructs, replay).toBeNull();
        expect(() => [listMessages(copy), readProfile(copy), readPositions(copy)]).not.toThrow();
        expect(othersSnapshot(copy, alice), replay).toBe(ownersBefore);
        expectAliceWritesAllowed(copy, alice);
      }

      console.info("authorship fuzz", counts);
      expect(counts.cases).toBe(ITERATIONS);
      // The mix must exercise every outcome, or the fuzzer tests nothing.
      expect(counts.accepted).toBeGreaterThan(ITERATIONS / 50);
      expect(counts.acceptedMutants).toBeGreaterThan(0);
      expect(counts.honest).toBeGreaterThan(ITERATIONS / 100);
      expect(counts.authorship).toBeGreaterThan(ITERATIONS / 50);
      expect(counts["bad-frame"]).toBeGreaterThan(ITERATIONS / 50);
      expect(counts.resync).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
