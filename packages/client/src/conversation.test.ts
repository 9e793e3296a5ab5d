import { InvalidArgumentError, messagesOf, readProfile, readsOf } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  appendMessage,
  appendProfileEntries,
  countUnread,
  markAllRead,
  profileEntries,
  readMessages,
  unstoredMessageIds,
} from "./conversation.js";

const CLIENT = "C".repeat(22);

describe("conversation", () => {
  it("orders messages identically on two replicas whatever the merge order, and never duplicates", () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    for (let i = 0; i < 5; i++) {
      appendMessage(a, CLIENT, `a${i}`, undefined);
      appendMessage(b, "D".repeat(22), `b${i}`, undefined);
    }
    const ab = new Y.Doc();
    const ba = new Y.Doc();
    Y.applyUpdate(ab, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(ab, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(ba, Y.encodeStateAsUpdate(a));
    const order = (doc: Y.Doc) => readMessages(doc, new Map(), CLIENT).map((m) => m.id);
    expect(order(ab)).toEqual(order(ba));
    expect(order(ab)).toHaveLength(10);
    const fromA = readMessages(ab, new Map(), CLIENT)
      .filter((m) => m.mine)
      .map((m) => m.text);
    expect(fromA).toEqual(["a0", "a1", "a2", "a3", "a4"]);
  });

  it("gives each message a timestamp after everything seen, so replies sort after what they answer", () => {
    const doc = new Y.Doc();
    messagesOf(doc).push([
      { id: "future-business", role: "business", author: {}, text: "hi", ts: Date.now() + 60_000 },
    ]);
    const reply = appendMessage(doc, CLIENT, "reply", undefined);
    expect(readMessages(doc, new Map(), CLIENT).map((m) => m.text)).toEqual(["hi", "reply"]);
    expect(reply.record.id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
  });

  it("derives status from the relay's stored state vector", () => {
    const doc = new Y.Doc();
    const first = appendMessage(doc, CLIENT, "one", undefined);
    const second = appendMessage(doc, CLIENT, "two", { tag: "x" });
    const stored = new Map([[doc.clientID, first.clock + 1]]);
    expect(readMessages(doc, stored, CLIENT).map((m) => m.status)).toEqual(["sent", "pending"]);
    expect(unstoredMessageIds(doc, stored)).toEqual([second.record.id]);
    expect(readMessages(doc, stored, CLIENT)[1]?.metadata).toEqual({ tag: "x" });
  });

  it("validates profile patches and writes the newest value per key", () => {
    const doc = new Y.Doc();
    appendProfileEntries(doc, profileEntries(doc, CLIENT, { givenName: "Ada", properties: { plan: "pro" } }));
    appendProfileEntries(doc, profileEntries(doc, CLIENT, { givenName: null, email: "ada@example.com" }));
    expect(readProfile(doc)).toEqual({ email: "ada@example.com", properties: { plan: "pro" } });
    expect(() => profileEntries(doc, CLIENT, { nickname: "x" })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(doc, CLIENT, { email: 42 })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(doc, CLIENT, { properties: { "bad name!": 1 } })).toThrow(InvalidArgumentError);
    expect(() => profileEntries(doc, CLIENT, null)).toThrow(InvalidArgumentError);
  });

  it("counts business messages after the user's read position and marks them read", () => {
    const doc = new Y.Doc();
    appendMessage(doc, CLIENT, "question", undefined);
    messagesOf(doc).push([
      { id: "answer-0001", role: "business", author: { name: "Bo" }, text: "a", ts: Date.now() + 5 },
    ]);
    messagesOf(doc).push([
      { id: "answer-0002", role: "business", author: { name: "Bo" }, text: "b", ts: Date.now() + 6 },
    ]);
    expect(countUnread(doc)).toBe(2);
    markAllRead(doc, CLIENT);
    expect(countUnread(doc)).toBe(0);
    expect([...readsOf(doc).keys()]).toEqual([CLIENT]);
  });
});
