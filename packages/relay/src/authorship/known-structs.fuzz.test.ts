/**
 * Fuzzes the known-structs check (known-structs.ts) with honest clients: it must never refuse one. Several
 * clients edit a conversation the way Parley clients do (messages pushed alone and in batches, inserted between
 * others, own messages deleted, profile entries, read marks overwritten) and sync through a relay document in
 * random orders. The relay writes too (business messages, client records, read marks), stores snapshots
 * (a reload re-merges and re-splits every item), crashes back to its last snapshot (clients hand back the
 * attested updates it forwarded, then answer a step 1 taken before that), and clients restart from lagging
 * saved states with new Yjs clientIDs. Clients re-send old updates, merged updates (Y.mergeUpdates, with
 * gaps), their whole state and answers to stale state vectors: all of it carries structs the relay stores,
 * split and merged differently on each side. Every such update must pass (or ask for a resync, and then the full
 * sync must pass); a forged copy of a stored struct with other content must be refused. Handed-back updates that
 * build on a lost change of another client wait parked in the relay's document (parked-structs.ts), and the
 * relay's step 2 passes them on: step 2s then carry parked structs and deletes too. `PARLEY_FUZZ_ITERATIONS` / `PARLEY_FUZZ_SEED` as in
 * authorship.fuzz.test.ts.
 */
import {
  BUSINESS_READ_KEY,
  clientsOf,
  isCoveredBy,
  listMessages,
  messagesOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  readsOf,
} from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate, type Verdict } from "./authorship.js";

const NOW = 1_700_000_000_000;
const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? 0x57_2026);
/** Steps over all worlds. */
const ITERATIONS = Number(process.env.PARLEY_FUZZ_ITERATIONS ?? 6000);
const STEPS_PER_WORLD = 150;
const TIMEOUT_MS = Math.max(60_000, ITERATIONS * 10);
const REMOTE = "remote";
/** Texts that stress the encoding: emoji (surrogate pairs) and a lone surrogate (encoded as U+FFFD). */
const TEXTS = ["hi", "😀 smile", "cut \ud83d", "plain text", "👍🏽"];

/** mulberry32, as in authorship.fuzz.test.ts. */
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
/** A Y.Doc with a clientID from the seeded generator (Yjs draws its own at random: runs would not repeat). */
function seededDoc(): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = 1 + int(2 ** 31);
  return doc;
}

interface Client {
  id: string;
  doc: Y.Doc;
  /** Its own local updates, in order, over all its sessions (what it may re-send). */
  log: Uint8Array[];
  /** Local updates not sent yet. */
  outbox: Uint8Array[];
  /** Forwarded updates not delivered yet (lost if the relay crashes). */
  inbox: Uint8Array[];
  /** Forwarded updates the relay has not stored yet: handed back after a crash. */
  attested: Uint8Array[];
  /** A state it saved earlier: a restart may come back to it. */
  saved: Uint8Array;
  /** The relay's step 1 it has not answered yet. */
  step1: Uint8Array | null;
  counter: number;
}

const counts = { steps: 0, checked: 0, withKnown: 0, knownItems: 0, resyncs: 0, forgedRefused: 0, crashes: 0 };

/** A relay document: what `Room` does around `checkUpdate`, without sockets or storage. */
class Relay {
  doc = new Y.Doc();
  /** The last snapshot: what survives a crash. */
  durable: Uint8Array = Y.encodeStateAsUpdate(new Y.Doc());
  constructor(private readonly clients: Client[]) {
    this.load(this.durable);
  }

  /** Loads a snapshot, and forwards every change to the other clients. */
  load(state: Uint8Array): void {
    const doc = seededDoc();
    Y.applyUpdate(doc, state);
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      for (const client of this.clients) if (client !== origin) client.inbox.push(update);
    });
    this.doc = doc;
    this.relayId = null;
  }

  private relayId: number | null = null;

  /** A relay transaction; the relay's clientID is fresh per load and bound in it (as `Room.bindRelay`). */
  transact(change: (doc: Y.Doc) => void): void {
    const doc = this.doc;
    doc.transact(() => {
      if (this.relayId !== doc.clientID) {
        while (doc.store.clients.has(doc.clientID)) doc.clientID = 1 + int(2 ** 31);
        this.relayId = doc.clientID;
        ownersOf(doc).set(String(doc.clientID), RELAY_OWNER);
      }
      change(doc);
    });
  }

  snapshot(): void {
    this.durable = Y.encodeStateAsUpdate(this.doc);
    // A `stored` frame: what it covers is no longer kept for a hand-back (attested-log.ts).
    const stored = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    for (const client of this.clients) client.attested = client.attested.filter((u) => !isCoveredBy(u, stored));
  }

  offer(client: Client, update: Uint8Array): Verdict {
    this.count(update);
    const verdict = checkUpdate(this.doc, update, { clientId: client.id }, NOW);
    if (verdict.ok) {
      if (verdict.newOwners.length > 0) {
        this.transact((doc) => {
          for (const id of verdict.newOwners) ownersOf(doc).set(String(id), client.id);
        });
      }
      Y.applyUpdate(this.doc, update, client);
    }
    return verdict;
  }

  /** Counts the stored structs an update carries: the check must see plenty of them. */
  private count(update: Uint8Array): void {
    counts.checked++;
    let known = 0;
    for (const struct of Y.decodeUpdate(update).structs) {
      if (struct instanceof Y.Item && struct.id.clock < Y.getState(this.doc.store, struct.id.client)) known++;
    }
    if (known > 0) counts.withKnown++;
    counts.knownItems += known;
  }
}

function newClient(n: number): Client {
  const client: Client = {
    id: `client${n}`.padEnd(22, "0"),
    doc: seededDoc(),
    log: [],
    outbox: [],
    inbox: [],
    attested: [],
    saved: Y.encodeStateAsUpdate(new Y.Doc()),
    step1: null,
    counter: 0,
  };
  watch(client);
  return client;
}

function watch(client: Client): void {
  client.doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin === REMOTE) return;
    client.log.push(update);
    client.outbox.push(update);
  });
}

/** Honest local edits, as the Parley client makes them. */
const edits: Array<(client: Client) => void> = [
  (c) => messagesOf(c.doc).push(Array.from({ length: 1 + int(3) }, () => message(c))),
  (c) => messagesOf(c.doc).insert(int(messagesOf(c.doc).length + 1), [message(c)]),
  (c) => profileLogOf(c.doc).push([{ key: "givenName", value: pick(TEXTS), ts: NOW - int(1000), client: c.id }]),
  (c) => readsOf(c.doc).set(c.id, { ts: NOW - int(1000) }),
  (c) => {
    // An edit: a run of its own messages (maybe the middle of an item: Yjs splits it) replaced by a new one.
    // Never a bare delete: the Parley client deletes nothing but its map overwrites, which write too (see
    // the report on attested delete-only updates).
    const records = messagesOf(c.doc).toArray();
    const start = int(records.length);
    let end = start;
    while (end < records.length && end - start < 3 && ownMessage(c, records[end])) end++;
    if (end > start) messagesOf(c.doc).delete(start, end - start);
    messagesOf(c.doc).insert(start, [message(c)]);
  },
];

function message(c: Client): never {
  c.counter++;
  return { id: `m-${c.id}-${c.counter}`, role: "user", client: c.id, text: pick(TEXTS), ts: NOW - int(1000) } as never;
}

const ownMessage = (c: Client, record: unknown): boolean =>
  (record as { client?: string } | undefined)?.client === c.id;

/** Relay-authored writes, as the business API and join records make them. */
function relayWrite(relay: Relay, n: number): void {
  const text = pick(TEXTS);
  relay.transact((doc) => {
    switch (int(3)) {
      case 0:
        messagesOf(doc).push([
          { id: `business-${n}`, role: "business", author: { name: text }, text, ts: NOW } as never,
        ]);
        break;
      case 1:
        readsOf(doc).set(BUSINESS_READ_KEY, { ts: NOW - n });
        break;
      default:
        clientsOf(doc).set(`c${n % 3}`, {
          id: `c${n % 3}`,
          platform: text,
          firstSeen: NOW,
          lastSeen: NOW - n,
          active: true,
        });
    }
  });
}

/** Asserts an honest update passes; a resync is followed by a full sync, which must pass. */
function expectHonest(relay: Relay, client: Client, update: Uint8Array, what: string, step: number): void {
  const verdict = relay.offer(client, update);
  if (verdict.ok) return;
  const replay = `${what} at step ${step} (seed ${SEED}): ${JSON.stringify(verdict)} ${Buffer.from(update).toString("hex")}`;
  expect(verdict, replay).toMatchObject({ code: "resync" });
  counts.resyncs++;
  connect(relay, client);
  answerStep1(relay, client, step);
}

/** A reconnect: the relay's step 1, the client's attested hand-back, the relay's (durable) step 2. */
function connect(relay: Relay, client: Client): void {
  client.inbox = [];
  client.step1 = Y.encodeStateVector(relay.doc);
  for (const update of client.attested) Y.applyUpdate(relay.doc, update, client);
  // The relay's step 2 waits until what it carries is durable (`Room.durableReplySince`).
  relay.snapshot();
  Y.applyUpdate(client.doc, Y.encodeStateAsUpdate(relay.doc, Y.encodeStateVector(client.doc)), REMOTE);
}

function answerStep1(relay: Relay, client: Client, step: number): void {
  const stateVector = client.step1 ?? Y.encodeStateVector(relay.doc);
  client.step1 = null;
  client.outbox = [];
  const verdict = relay.offer(client, Y.encodeStateAsUpdate(client.doc, stateVector));
  // A step 2 answers a step 1 after the hand-back: nothing can be missing.
  expect(verdict, `step 2 at step ${step} (seed ${SEED}): ${JSON.stringify(verdict)}`).toMatchObject({ ok: true });
}

/** A copy of a stored message at one clock with other content: another client's write at that clientID. */
function forge(relay: Relay): Uint8Array | null {
  const items: Y.Item[] = [];
  for (const structs of relay.doc.store.clients.values()) {
    for (const struct of structs) {
      if (struct instanceof Y.Item && !struct.deleted && struct.parent === messagesOf(relay.doc)) items.push(struct);
    }
  }
  if (items.length === 0) return null;
  const item = pick(items);
  const offset = int(item.length);
  const clock = item.id.clock + offset;
  const original = item.content.getContent()[offset] as { text: string };
  const origin = offset === 0 ? item.origin : Y.createID(item.id.client, clock - 1);
  const content = new Y.ContentAny([{ ...original, text: `${original.text} (another writer)` }]);
  const struct = new Y.Item(
    Y.createID(item.id.client, clock),
    null,
    origin,
    null,
    item.rightOrigin,
    item.parent,
    null,
    content,
  );
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, 1);
  encoding.writeVarUint(encoder.restEncoder, 1);
  encoder.writeClient(item.id.client);
  encoding.writeVarUint(encoder.restEncoder, clock);
  struct.write(encoder, 0);
  encoding.writeVarUint(encoder.restEncoder, 0); // no deletes
  return encoder.toUint8Array();
}

/** One random step of one world. */
function step(relay: Relay, clients: Client[], n: number): void {
  const client = pick(clients);
  const roll = random();
  if (roll < 0.3) {
    client.doc.transact(() => pick(edits)(client));
  } else if (roll < 0.45) {
    // Delivers some forwarded updates, in order.
    for (let k = 1 + int(4); k > 0 && client.inbox.length > 0; k--) {
      const update = client.inbox.shift() as Uint8Array;
      Y.applyUpdate(client.doc, update, REMOTE);
      client.attested.push(update);
    }
  } else if (roll < 0.6) {
    // Sends what it has not sent, one by one or merged.
    const outbox = client.outbox;
    client.outbox = [];
    if (outbox.length === 0) return;
    if (random() < 0.5) for (const update of outbox) expectHonest(relay, client, update, "update", n);
    else expectHonest(relay, client, Y.mergeUpdates(outbox), "merged updates", n);
  } else if (roll < 0.7) {
    // Re-sends old updates: one, several merged (with gaps: Skip structs), or its whole log merged.
    const log = client.log;
    if (log.length === 0) return;
    const from = int(log.length);
    const chosen = random() < 0.3 ? log : log.slice(from, from + 1 + int(4)).filter(() => random() < 0.8);
    if (chosen.length > 0) expectHonest(relay, client, Y.mergeUpdates(chosen), "re-sent updates", n);
  } else if (roll < 0.75) {
    expectHonest(relay, client, Y.encodeStateAsUpdate(client.doc), "whole state", n);
  } else if (roll < 0.8) {
    relayWrite(relay, n);
  } else if (roll < 0.85) {
    if (client.step1 === null) connect(relay, client);
    else answerStep1(relay, client, n);
  } else if (roll < 0.89) {
    client.saved = Y.encodeStateAsUpdate(client.doc);
  } else if (roll < 0.92) {
    // A restart from what it saved (maybe stale): a new session, with a new Yjs clientID.
    client.doc = seededDoc();
    Y.applyUpdate(client.doc, client.saved, REMOTE);
    watch(client);
    client.outbox = [];
    connect(relay, client);
  } else if (roll < 0.95) {
    relay.snapshot();
    if (random() < 0.5) relay.load(relay.durable); // a reload: every item merged and split anew
  } else if (roll < 0.97) {
    // A crash: what came after the last snapshot is lost, unless a client hands it back.
    counts.crashes++;
    relay.load(relay.durable);
    for (const other of clients) connect(relay, other);
  } else {
    const forged = forge(relay);
    if (forged === null) return;
    const verdict = relay.offer(client, forged);
    expect(verdict, `forged copy at step ${n}`).toMatchObject({ ok: false, code: "authorship" });
    expect(verdict.ok ? "" : verdict.reason).toMatch(/differs/);
    counts.forgedRefused++;
  }
}

describe("known structs fuzz", () => {
  it(
    `never refuses an honest client's copy of stored structs (${ITERATIONS} steps)`,
    () => {
      for (let world = 0; counts.steps < ITERATIONS; world++) {
        const clients = Array.from({ length: 2 + int(3) }, (_, i) => newClient(world * 10 + i));
        const relay = new Relay(clients);
        for (let n = 0; n < STEPS_PER_WORLD && counts.steps < ITERATIONS; n++, counts.steps++) {
          step(relay, clients, n);
        }
        // Everyone syncs: they converge on the same messages.
        for (const client of clients) {
          connect(relay, client);
          answerStep1(relay, client, -1);
        }
        const ids = (doc: Y.Doc) => listMessages(doc).map((m) => m.id);
        for (const client of clients) {
          Y.applyUpdate(client.doc, Y.encodeStateAsUpdate(relay.doc, Y.encodeStateVector(client.doc)), REMOTE);
          expect(ids(client.doc)).toEqual(ids(relay.doc));
        }
      }
      console.info("known structs fuzz", counts);
      expect(counts.steps).toBe(ITERATIONS);
      // The mix must carry many stored structs, re-split and merged, or the fuzzer tests nothing.
      expect(counts.withKnown).toBeGreaterThan(ITERATIONS / 20);
      expect(counts.knownItems).toBeGreaterThan(ITERATIONS);
      expect(counts.forgedRefused).toBeGreaterThan(ITERATIONS / 200);
      expect(counts.crashes).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
