import { messagesOf, ownersOf, RELAY_OWNER, readsOf, type UserMessageRecord } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate } from "./authorship.js";

const NOW = 1_700_000_000_000;
const ALICE = "aliceClientId000000000";
const BOB = "bobClientId00000000000";

const message = (client: string, text: string): UserMessageRecord => ({
  id: `m-${text.replace(/\W/g, "")}-0000`,
  role: "user",
  client,
  text,
  ts: NOW,
});

/** A client's document with Yjs clientID `yjsClientId`, synced from `relay`. */
function clientDoc(relay: Y.Doc, yjsClientId: number): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(relay));
  doc.clientID = yjsClientId;
  return doc;
}

/** Checks `update` from `clientId` and, if it passes, applies it as the relay does. */
function offer(relay: Y.Doc, update: Uint8Array, clientId: string): ReturnType<typeof checkUpdate> {
  const verdict = checkUpdate(relay, update, { clientId }, NOW);
  if (verdict.ok) {
    relay.transact(() => {
      for (const id of verdict.newOwners) ownersOf(relay).set(String(id), clientId);
    });
    Y.applyUpdate(relay, update);
  }
  return verdict;
}

describe("structs the relay already has", () => {
  it("refuses another client's different copy of a stored clientID and clock (a clientID claimed twice)", () => {
    const relay = new Y.Doc();
    const alice = clientDoc(relay, 30);
    const bob = clientDoc(relay, 30);
    messagesOf(alice).push([message(ALICE, "alice wins")]);
    messagesOf(bob).push([message(BOB, "bob same clock")]);
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    // Same clientID, clock and length: Yjs would skip Bob's message unread, and Bob would keep it alone.
    const before = Y.encodeStateAsUpdate(relay);
    const verdict = offer(relay, Y.encodeStateAsUpdate(bob), BOB);
    expect(verdict).toMatchObject({ ok: false, code: "authorship", reason: expect.stringMatching(/differs/) });
    expect(Y.encodeStateAsUpdate(relay)).toEqual(before);
    // Alice re-sending a different copy of her own stored clock is refused too: it is never honest.
    const again = clientDoc(new Y.Doc(), 30);
    messagesOf(again).push([message(ALICE, "not what was stored")]);
    expect(offer(relay, Y.encodeStateAsUpdate(again), ALICE).ok).toBe(false);
  });

  it("takes honest copies: another client's stored structs re-sent, and ones deleted on either side", () => {
    const relay = new Y.Doc();
    const alice = clientDoc(relay, 30);
    messagesOf(alice).push([message(ALICE, "first")]);
    readsOf(alice).set(ALICE, { ts: NOW });
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    // Bob holds Alice's structs (forwarded to him) and sends them along with his own.
    const bob = clientDoc(relay, 40);
    messagesOf(bob).push([message(BOB, "bob")]);
    expect(offer(relay, Y.encodeStateAsUpdate(bob), BOB).ok).toBe(true);
    // Alice's read mark is overwritten: the relay's old entry is deleted, Bob's copy of it still has content.
    const stale = Y.encodeStateAsUpdate(bob);
    readsOf(alice).set(ALICE, { ts: NOW + 1 });
    expect(offer(relay, Y.encodeStateAsUpdate(alice, Y.encodeStateVector(relay)), ALICE).ok).toBe(true);
    expect(offer(relay, stale, BOB).ok).toBe(true);
    // And a copy in which the entry is deleted, while nothing else changed.
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
  });

  it("takes copies split and merged at other places than the stored items, before and after a reload", () => {
    const relay = new Y.Doc();
    const alice = clientDoc(relay, 30);
    // One push of three messages: one item of clocks 0-2 on the relay.
    messagesOf(alice).push(["a", "b", "c"].map((text) => message(ALICE, text)));
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    // Bob inserts between Alice's first and second: his copy of her item is split at clock 1, the relay's is not.
    const bob = clientDoc(relay, 40);
    messagesOf(bob).insert(1, [message(BOB, "between")]);
    expect(offer(relay, Y.encodeStateAsUpdate(bob), BOB).ok).toBe(true);
    // The relay now holds Alice's item split; Alice's own copy is whole, and a merged re-send of her update too.
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    expect(offer(relay, Y.mergeUpdates([Y.encodeStateAsUpdate(alice), Y.encodeStateAsUpdate(bob)]), BOB).ok).toBe(true);
    // A reload (a snapshot: items merged and split anew) changes none of it.
    const reloaded = clientDoc(relay, 1);
    expect(offer(reloaded, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    expect(offer(reloaded, Y.encodeStateAsUpdate(bob), BOB).ok).toBe(true);
  });

  it("refuses a copy that differs at one clock inside a stored item", () => {
    const relay = new Y.Doc();
    const alice = clientDoc(relay, 30);
    messagesOf(alice).push(["a", "b", "c"].map((text) => message(ALICE, text)));
    expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE).ok).toBe(true);
    const other = clientDoc(new Y.Doc(), 30);
    messagesOf(other).push(
      ["a", "B", "c"].map((text) => ({ ...message(ALICE, text), id: `m-${text.toLowerCase()}-0000` })),
    );
    expect(offer(relay, Y.encodeStateAsUpdate(other), BOB)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/clock 0 differs/),
    });
  });

  it("takes a client's copy of the relay's own writes, which it holds as decoded, not as the relay wrote them", () => {
    // The relay's document keeps what it wrote; clients hold what the encoding carried: a lone surrogate becomes
    // U+FFFD, and a `JSON.parse` "__proto__" key is dropped or turned into a prototype.
    const cases: Array<[string, Record<string, unknown>]> = [
      ["a lone surrogate", { text: "cut \ud83d", author: { name: "\udc00" } }],
      ["a __proto__ key", { text: "x", meta: JSON.parse('{"__proto__": 1, "a": 2}') }],
      ["a __proto__ object", { text: "x", meta: JSON.parse('{"__proto__": {"b": 1}, "a": 2}') }],
    ];
    for (const [name, fields] of cases) {
      const relay = new Y.Doc();
      relay.clientID = 5;
      ownersOf(relay).set("5", RELAY_OWNER);
      const before = Y.encodeStateVector(relay);
      messagesOf(relay).push([{ id: "business-1", role: "business", author: {}, ts: NOW, ...fields } as never]);
      // A client that received it answers a step 1 taken before it (or re-sends its whole state).
      const alice = clientDoc(relay, 30);
      const verdict = offer(relay, Y.encodeStateAsUpdate(alice, before), ALICE);
      expect(verdict, name).toMatchObject({ ok: true });
      expect(offer(relay, Y.encodeStateAsUpdate(alice), ALICE), name).toMatchObject({ ok: true });
    }
  });
});
