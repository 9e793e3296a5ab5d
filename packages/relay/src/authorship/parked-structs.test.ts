import { messagesOf, ownersOf, readsOf, type UserMessageRecord } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate } from "./authorship.js";

const NOW = 1_700_000_000_000;
const CAROL = "carolClientId000000000";
const DAVE = "daveClientId0000000000";

const message = (client: string, text: string): UserMessageRecord => ({
  id: `m-${client.slice(0, 5)}-${text.replace(/\W/g, "")}`,
  role: "user",
  client,
  text,
  ts: NOW,
});

/** `update` without its delete set: structs only, as Yjs writes them. */
function withoutDeletes(update: Uint8Array): Uint8Array {
  const byClient = new Map<number, Array<Y.Item | Y.GC>>();
  for (const struct of Y.decodeUpdate(update).structs) {
    if (struct instanceof Y.Skip) continue;
    byClient.set(struct.id.client, [...(byClient.get(struct.id.client) ?? []), struct]);
  }
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, byClient.size);
  for (const [client, structs] of byClient) {
    encoding.writeVarUint(encoder.restEncoder, structs.length);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, (structs[0] as Y.Item | Y.GC).id.clock);
    for (const struct of structs) struct.write(encoder, 0);
  }
  encoding.writeVarUint(encoder.restEncoder, 0);
  return encoder.toUint8Array();
}

/** Checks `update` from `clientId` and, if it passes, applies it as the relay does. */
function offer(relay: Y.Doc, update: Uint8Array, clientId: string): ReturnType<typeof checkUpdate> {
  const verdict = checkUpdate(relay, update, { clientId }, NOW);
  if (verdict.ok) {
    relay.transact(() => {
      for (const id of verdict.newOwners) ownersOf(relay).set(String(id), clientId);
    });
    Y.applyUpdate(relay, update, clientId);
  }
  return verdict;
}

/**
 * Carol writes, Dave answers (his reply's origin is her message) and sets his read mark twice, the relay forwards
 * it all to Carol (attested) and crashes before any of it is durable. The reloaded relay takes Carol's hand-back:
 * Dave's updates wait in Yjs's pending structs for her message, which only her step 2 brings.
 */
function lostReply(): { relay: Y.Doc; carol: Y.Doc; step1: Uint8Array } {
  const toCarol: Uint8Array[] = [];
  const relay = new Y.Doc();
  relay.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin !== CAROL) toCarol.push(update);
  });
  const durable = Y.encodeStateAsUpdate(relay);
  const carol = new Y.Doc();
  carol.clientID = 10;
  const dave = new Y.Doc();
  dave.clientID = 20;
  messagesOf(carol).push([message(CAROL, "question")]);
  expect(offer(relay, Y.encodeStateAsUpdate(carol), CAROL).ok).toBe(true);
  Y.applyUpdate(dave, Y.encodeStateAsUpdate(relay));
  for (const change of [
    () => messagesOf(dave).push([message(DAVE, "answer")]),
    () => readsOf(dave).set(DAVE, { ts: NOW - 2 }),
    () => readsOf(dave).set(DAVE, { ts: NOW - 1 }), // deletes his previous read mark, which is parked too
  ]) {
    const before = Y.encodeStateVector(dave);
    change();
    expect(offer(relay, Y.encodeStateAsUpdate(dave, before), DAVE).ok).toBe(true);
  }
  for (const update of toCarol) Y.applyUpdate(carol, update);
  const reloaded = new Y.Doc();
  Y.applyUpdate(reloaded, durable);
  const step1 = Y.encodeStateVector(reloaded);
  for (const update of toCarol) Y.applyUpdate(reloaded, update); // the attested hand-back
  expect(reloaded.store.pendingStructs).not.toBeNull();
  return { relay: reloaded, carol, step1 };
}

describe("structs the relay holds parked", () => {
  it("takes a reader's step 2 that carries the parked structs it handed back (a reply to its own lost message)", () => {
    const { relay, carol, step1 } = lostReply();
    expect(offer(relay, Y.encodeStateAsUpdate(carol, step1), CAROL)).toEqual({ ok: true, newOwners: [] });
    // Everything integrated, nothing left parked, and Dave's clientID is still Dave's.
    expect(relay.store.pendingStructs).toBeNull();
    expect(relay.store.pendingDs).toBeNull();
    expect(
      messagesOf(relay)
        .toArray()
        .map((m) => m.text),
    ).toEqual(["question", "answer"]);
    expect(readsOf(relay).get(DAVE)).toEqual({ ts: NOW - 1 });
    expect(ownersOf(relay).get("20")).toBe(DAVE);
    expect(offer(relay, Y.encodeStateAsUpdate(carol), CAROL).ok).toBe(true);
  });

  it("refuses a step 2 whose copy of a parked struct differs from it (another writer of that clientID)", () => {
    const { relay, carol, step1 } = lostReply();
    // Carol's message alone, then another reply at Dave's clientID and clock 0, after it: same origins, other text.
    const othersOnly = new Map([...Y.decodeStateVector(Y.encodeStateVector(carol))].filter(([id]) => id !== 10));
    const collider = new Y.Doc();
    Y.applyUpdate(collider, Y.encodeStateAsUpdate(carol, Y.encodeStateVector(othersOnly)));
    collider.clientID = 20;
    messagesOf(collider).push([message(DAVE, "not the answer")]);
    const before = Y.encodeStateAsUpdate(relay);
    const verdict = offer(relay, Y.encodeStateAsUpdate(collider, step1), CAROL);
    expect(verdict).toMatchObject({ ok: false, code: "authorship", reason: expect.stringMatching(/another client/) });
    expect(Y.encodeStateAsUpdate(relay)).toEqual(before);
  });

  it("refuses a copy of a parked struct without its content when nothing parked deletes it (hiding a reply)", () => {
    const { relay, carol, step1 } = lostReply();
    const hider = new Y.Doc();
    Y.applyUpdate(hider, Y.encodeStateAsUpdate(carol));
    messagesOf(hider).delete(1, 1); // Dave's answer: Carol may not delete it, so its delete is left out
    const update = withoutDeletes(Y.encodeStateAsUpdate(hider, step1));
    const answer = Y.decodeUpdate(update).structs.find((s) => s.id.client === 20 && s.id.clock === 0) as Y.Item;
    expect(answer.content).toBeInstanceOf(Y.ContentDeleted);
    const before = Y.encodeStateAsUpdate(relay);
    expect(offer(relay, update, CAROL)).toMatchObject({ ok: false, code: "authorship" });
    expect(Y.encodeStateAsUpdate(relay)).toEqual(before);
    // The same update with the answer's content passes.
    expect(offer(relay, withoutDeletes(Y.encodeStateAsUpdate(carol, step1)), CAROL).ok).toBe(true);
  });

  it("holds a parked owners binding: the structs it covers were handed back and integrated, its author writes on", () => {
    const EVE = "eveClientId00000000000";
    const toBob: Uint8Array[] = [];
    const relay = new Y.Doc();
    relay.clientID = 1;
    relay.on("update", (update: Uint8Array) => toBob.push(update));
    const durable = Y.encodeStateAsUpdate(relay);
    const carol = new Y.Doc();
    carol.clientID = 10;
    messagesOf(carol).push([message(CAROL, "question")]);
    expect(offer(relay, Y.encodeStateAsUpdate(carol), CAROL).ok).toBe(true);
    // The business answers Carol (its item's origin is her message), then Eve's first write is bound after it.
    relay.transact(() =>
      messagesOf(relay).push([{ id: "business-1", role: "business", author: {}, text: "hi", ts: NOW }]),
    );
    const eve = new Y.Doc();
    eve.clientID = 30;
    Y.applyUpdate(eve, Y.encodeStateAsUpdate(relay));
    let before = Y.encodeStateVector(eve);
    readsOf(eve).set(EVE, { ts: NOW - 1 });
    expect(offer(relay, Y.encodeStateAsUpdate(eve, before), EVE).ok).toBe(true);
    // The relay crashes; Bob (who got it all, attested) hands it back. Carol's message is lost: the business answer
    // and Eve's binding after it wait parked, while Eve's read mark (no dependency) is integrated.
    const reloaded = new Y.Doc();
    Y.applyUpdate(reloaded, durable);
    for (const update of toBob)
      if (!Y.decodeUpdate(update).structs.some((s) => s.id.client === 10)) Y.applyUpdate(reloaded, update);
    expect(Y.getState(reloaded.store, 30)).toBe(1);
    expect(ownersOf(reloaded).get("30")).toBeUndefined();
    before = Y.encodeStateVector(eve);
    readsOf(eve).set(EVE, { ts: NOW });
    const next = Y.encodeStateAsUpdate(eve, before);
    expect(checkUpdate(reloaded, next, { clientId: CAROL }, NOW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/another client/),
    });
    expect(offer(reloaded, next, EVE)).toEqual({ ok: true, newOwners: [] });
  });
});
