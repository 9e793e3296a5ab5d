import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { ErrorCode } from "./errors.js";
import { listMessages, type MessageRecord, messagesOf, newestMessages } from "./layout.js";
import { encodeRecent, MAX_TAIL, MessageType, parseTail, readRecent } from "./wire.js";

const msg = (id: string, ts: number): MessageRecord => ({ id, role: "user", client: "c1", text: id, ts });

/** A document whose array order is not display order: several writers, shuffled timestamps. */
function shuffledDoc(count: number): Y.Doc {
  const doc = new Y.Doc();
  const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
  for (let i = 0; i < count; i++) {
    const writer = writers[i % writers.length] as Y.Doc;
    // Timestamps collide in pairs so the id breaks ties; order of arrival is scrambled.
    const ts = 1_000 + ((i * 7919) % count) / 2;
    messagesOf(writer).push([msg(`m${String(i).padStart(7, "0")}`, Math.floor(ts))]);
  }
  for (const writer of writers) Y.applyUpdate(doc, Y.encodeStateAsUpdate(writer));
  return doc;
}

describe("newestMessages", () => {
  it("equals the end of listMessages, in display order, for every n", () => {
    const doc = shuffledDoc(600);
    const all = listMessages(doc);
    for (const n of [1, 2, 50, 200, 599, 600, 1_000]) {
      expect(newestMessages(doc, n)).toEqual(all.slice(-n));
    }
  });

  it("counts an id once, keeping the first occurrence in the array like listMessages", () => {
    const doc = new Y.Doc();
    messagesOf(doc).push([msg("aaaaaaaa", 1), msg("bbbbbbbb", 2), msg("aaaaaaaa", 9)]);
    expect(newestMessages(doc, 1)).toEqual([msg("bbbbbbbb", 2)]);
    expect(newestMessages(doc, 5)).toEqual(listMessages(doc));
  });

  it("returns nothing for an empty document or n < 1", () => {
    expect(newestMessages(new Y.Doc(), 5)).toEqual([]);
    expect(newestMessages(shuffledDoc(10), 0)).toEqual([]);
  });
});

describe("recent frames", () => {
  it("round-trip a preview", () => {
    const preview = {
      messages: [
        msg("aaaaaaaa", 1),
        { id: "bbbbbbbb", role: "business" as const, author: { name: "Dana" }, text: "hi", ts: 2, meta: { x: 1 } },
      ],
      reads: { user: 1, business: 2 },
    };
    const decoder = decoding.createDecoder(encodeRecent(preview));
    expect(decoding.readVarUint(decoder)).toBe(MessageType.recent);
    expect(readRecent(decoder)).toEqual(preview);
  });

  it("refuse a malformed preview with ERR_BAD_FRAME", () => {
    const frame = (body: string) => {
      const encoder = encoding.createEncoder();
      encoding.writeVarString(encoder, body);
      return decoding.createDecoder(encoding.toUint8Array(encoder));
    };
    const reads = { user: 0, business: 0 };
    for (const body of [
      "not json",
      JSON.stringify({ messages: [{ id: "short", role: "user", client: "c", text: "x", ts: 1 }], reads }),
      JSON.stringify({ messages: [{ ...msg("aaaaaaaa", 1), role: "admin" }], reads }),
      JSON.stringify({ messages: [], reads: { user: -1, business: 0 } }),
      JSON.stringify({ messages: Array.from({ length: MAX_TAIL + 1 }, (_, i) => msg(`m${i}xxxxxxx`, i)), reads }),
    ]) {
      expect(() => readRecent(frame(body))).toThrow(expect.objectContaining({ code: ErrorCode.BadFrame }));
    }
  });

  it("accept tail parameters 1 to MAX_TAIL only", () => {
    expect(parseTail("1")).toBe(1);
    expect(parseTail(String(MAX_TAIL))).toBe(MAX_TAIL);
    for (const bad of ["0", "", "-1", "1.5", "01", String(MAX_TAIL + 1), "1e2", "abc"])
      expect(parseTail(bad)).toBeNull();
  });
});
