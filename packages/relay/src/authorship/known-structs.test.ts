import { messagesOf, ownersOf, readsOf, type UserMessageRecord } from "@parley/protocol";
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
});
