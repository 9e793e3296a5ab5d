import {
  InvalidArgumentError,
  listMessageEntries,
  messagesOf,
  readPositions,
  readProfile,
  readsOf,
} from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  appendMessage,
  appendProfileEntries,
  countUnread,
  markReadUpTo,
  profileEntries,
  readMessages,
} from "./conversation.js";
import { MessageIndex } from "./message-index.js";
import { unsentChanges } from "./unsent.js";

const CLIENT = "C".repeat(22);
const OTHER = "D".repeat(22);

function replica(): { doc: Y.Doc; index: MessageIndex } {
  const doc = new Y.Doc();
  return { doc, index: new MessageIndex(doc) };
}

describe("conversation", () => {
  it("orders messages identically on two replicas whatever the merge order, and never duplicates", () => {
    const a = replica();
    const b = replica();
    for (let i = 0; i < 5; i++) {
      appendMessage(a.doc, a.index.maxTimestamp(), CLIENT, `a${i}`, undefined);
      appendMessage(b.doc, b.index.maxTimestamp(), OTHER, `b${i}`, undefined);
    }
    const ab = replica();
    const ba = replica();
    Y.applyUpdate(ab.doc, Y.encodeStateAsUpdate(a.doc));
    Y.applyUpdate(ab.doc, Y.encodeStateAsUpdate(b.doc));
    Y.applyUpdate(ba.doc, Y.encodeStateAsUpdate(b.doc));
    Y.applyUpdate(ba.doc, Y.encodeStateAsUpdate(a.doc));
    Y.applyUpdate(ba.doc, Y.encodeStateAsUpdate(a.doc));
    const order = (r: { index: MessageIndex }) => readMessages(r.index, new Map(), CLIENT, 0).map((m) => m.id);
    expect(order(ab)).toEqual(order(ba));
    expect(order(ab)).toHaveLength(10);
    const fromA = readMessages(ab.index, new Map(), CLIENT, 0)
      .filter((m) => m.mine)
      .map((m) => m.text);
    expect(fromA).toEqual(["a0", "a1", "a2", "a3", "a4"]);
  });

  it("keeps the index equal to the protocol's ordering, also with a repeated message id", () => {
    const r = replica();
    const now = Date.now();
    messagesOf(r.doc).push([{ id: "later-0001", role: "user", client: OTHER, text: "x", ts: now + 10 }]);
    appendMessage(r.doc, r.index.maxTimestamp(), CLIENT, "mine", undefined);
    messagesOf(r.doc).push([{ id: "earlier-001", role: "user", client: OTHER, text: "y", ts: now - 10 }]);
    // A repeated id: the first in the array counts, as in listMessageEntries.
    messagesOf(r.doc).insert(0, [{ id: "later-0001", role: "user", client: OTHER, text: "dup", ts: now - 100 }]);
    expect(r.index.all.map((e) => [e.record.id, e.record.text])).toEqual(
      listMessageEntries(r.doc).map((e) => [e.record.id, e.record.text]),
    );
  });

  it("gives each message a timestamp after everything seen, so replies sort after what they answer", () => {
    const r = replica();
    messagesOf(r.doc).push([
      { id: "future-business", role: "business", author: {}, text: "hi", ts: Date.now() + 60_000 },
    ]);
    const reply = appendMessage(r.doc, r.index.maxTimestamp(), CLIENT, "reply", undefined);
    expect(readMessages(r.index, new Map(), CLIENT, 0).map((m) => m.text)).toEqual(["hi", "reply"]);
    expect(reply.record.id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
  });

  it("derives status from the relay's stored state vector", () => {
    const r = replica();
    const first = appendMessage(r.doc, r.index.maxTimestamp(), CLIENT, "one", undefined);
    const second = appendMessage(r.doc, r.index.maxTimestamp(), CLIENT, "two", { tag: "x" });
    const stored = new Map([[r.doc.clientID, first.clock + 1]]);
    expect(readMessages(r.index, stored, CLIENT, 0).map((m) => m.status)).toEqual(["sent", "pending"]);
    expect(unsentChanges(r.doc, r.index, stored, CLIENT).messageIds).toEqual([second.record.id]);
    expect(readMessages(r.index, stored, CLIENT, 0)[1]?.metadata).toEqual({ tag: "x" });
  });

  it("validates profile patches and writes the newest value per key", () => {
    const r = replica();
    appendProfileEntries(r.doc, profileEntries(r.index, CLIENT, { givenName: "Ada", properties: { plan: "pro" } }));
    appendProfileEntries(r.doc, profileEntries(r.index, CLIENT, { givenName: null, email: "ada@example.com" }));
    expect(readProfile(r.doc)).toEqual({ email: "ada@example.com", properties: { plan: "pro" } });
    expect(() => profileEntries(r.index, CLIENT, { nickname: "x" })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(r.index, CLIENT, { email: 42 })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(r.index, CLIENT, { properties: { "bad name!": 1 } })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(r.index, CLIENT, null)).toThrow(InvalidArgumentError);
  });

  it("counts business messages after the user's read position and marks them read", () => {
    const r = replica();
    appendMessage(r.doc, r.index.maxTimestamp(), CLIENT, "question", undefined);
    const author = { name: "Bo" };
    messagesOf(r.doc).push([{ id: "answer-0001", role: "business", author, text: "a", ts: Date.now() + 5 }]);
    messagesOf(r.doc).push([{ id: "answer-0002", role: "business", author, text: "b", ts: Date.now() + 6 }]);
    const unread = () => countUnread(readMessages(r.index, new Map(), CLIENT, 0), readPositions(r.doc).user);
    expect(unread()).toBe(2);
    markReadUpTo(r.doc, r.index.all.at(-1)?.record.ts ?? 0, CLIENT);
    expect(unread()).toBe(0);
    expect([...readsOf(r.doc).keys()]).toEqual([CLIENT]);
  });
});
