import { messagesOf, profileLogOf } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { appendMessage, appendProfileEntries, markReadUpTo, profileEntries } from "./conversation.js";
import { MessageIndex } from "./message-index.js";
import { describeUnsent, nothingUnsent, unsentChanges } from "./unsent.js";

const CLIENT = "C".repeat(22);
const OTHER = "D".repeat(22);

describe("unsent changes", () => {
  it("names this client's unstored messages, profile fields and read mark, and nothing of others", () => {
    const doc = new Y.Doc();
    const index = new MessageIndex(doc);
    const sent = appendMessage(doc, index.maxTimestamp(), CLIENT, "sent", undefined);
    const stored = new Map([[doc.clientID, Y.getState(doc.store, doc.clientID)]]);
    const unsent = appendMessage(doc, index.maxTimestamp(), CLIENT, "unsent", undefined);
    appendProfileEntries(doc, profileEntries(index, CLIENT, { givenName: "Ada", properties: { plan: "pro" } }));
    markReadUpTo(doc, index.maxTimestamp(), CLIENT);
    // Another client's message and profile entry, written by another Yjs client and never acknowledged.
    const other = new Y.Doc();
    messagesOf(other).push([{ id: "other-message-01", role: "user", client: OTHER, text: "hi", ts: 1 }]);
    profileLogOf(other).push([{ key: "email", value: "x@example.com", ts: 1, client: OTHER }]);
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other));

    const changes = unsentChanges(doc, index, stored, CLIENT);
    expect(changes.messageIds).toEqual([unsent.record.id]);
    expect(changes.messageIds).not.toContain(sent.record.id);
    expect(changes.profileFields.sort()).toEqual(["givenName", "properties.plan"]);
    expect(changes.readPosition).toBe(true);
    expect(nothingUnsent(changes)).toBe(false);
    expect(describeUnsent(changes)).toBe(
      "1 message(s), profile field(s) givenName, properties.plan, the read position",
    );

    const everything = new Map([[doc.clientID, Y.getState(doc.store, doc.clientID)]]);
    expect(nothingUnsent(unsentChanges(doc, index, everything, CLIENT))).toBe(true);
  });
});
