import { MessageType } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import { describe, expect, it } from "vitest";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { FullStateCache, MAX_DELTA_BYTES } from "./full-state-cache.js";

/** The sync message type of a frame and the update it carries. */
function read(frame: Uint8Array): { syncType: number; update: Uint8Array } {
  const decoder = decoding.createDecoder(frame);
  expect(decoding.readVarUint(decoder)).toBe(MessageType.sync);
  const syncType = decoding.readVarUint(decoder);
  return { syncType, update: decoding.readVarUint8Array(decoder) };
}

/** A new document that applied `frames` in order. */
function received(frames: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const frame of frames) Y.applyUpdate(doc, read(frame).update);
  return doc;
}

function sameState(a: Y.Doc, b: Y.Doc): void {
  expect(Y.decodeStateVector(Y.encodeStateVector(a))).toEqual(Y.decodeStateVector(Y.encodeStateVector(b)));
  expect(a.getMap("m").toJSON()).toEqual(b.getMap("m").toJSON());
  expect(a.getArray("a").toJSON()).toEqual(b.getArray("a").toJSON());
}

function documentWithHistory(): Y.Doc {
  const doc = new Y.Doc();
  for (let i = 0; i < 200; i++) doc.getArray("a").push([{ i, text: `message ${i}` }]);
  doc.getMap("m").set("record", { seen: 0 });
  return doc;
}

const EMPTY = new Uint8Array([0]);

describe("FullStateCache", () => {
  it("answers a client that knows nothing with one shared step 2 while the document is unchanged", () => {
    const doc = documentWithHistory();
    const cache = new FullStateCache(doc);
    const first = cache.replyFrames(EMPTY);
    expect(first).toHaveLength(1);
    expect(read(first[0] as Uint8Array).syncType).toBe(syncProtocol.messageYjsSyncStep2);
    expect(cache.replyFrames(EMPTY)[0]).toBe(first[0]);
    expect(read(first[0] as Uint8Array).update).toEqual(cache.fullUpdate());
    sameState(received(first), doc);
  });

  it("after a small change, sends the kept encoding as a sync update, then a step 2 with what changed", () => {
    const doc = documentWithHistory();
    const cache = new FullStateCache(doc);
    const kept = cache.replyFrames(EMPTY)[0] as Uint8Array;
    doc.getMap("m").set("record", { seen: 1 }); // overwrites: the kept encoding's entry is deleted
    doc.getArray("a").push([{ i: 200, text: "one more" }]);

    const frames = cache.replyFrames(EMPTY);
    expect(frames).toHaveLength(2);
    const [base, rest] = frames.map(read) as [ReturnType<typeof read>, ReturnType<typeof read>];
    expect(base.syncType).toBe(syncProtocol.messageYjsUpdate);
    expect(base.update).toEqual(read(kept).update);
    expect(rest.syncType).toBe(syncProtocol.messageYjsSyncStep2);
    expect(rest.update.length).toBeLessThan(base.update.length / 10);
    sameState(received(frames), doc);
    // The sync update frame is made once and shared.
    doc.getMap("m").set("record", { seen: 2 });
    const again = cache.replyFrames(EMPTY);
    expect(again[0]).toBe(frames[0]);
    sameState(received(again), doc);
  });

  it("encodes the document again once what changed exceeds MAX_DELTA_BYTES", () => {
    const doc = documentWithHistory();
    const cache = new FullStateCache(doc);
    cache.replyFrames(EMPTY);
    doc.getArray("a").push(["x".repeat(MAX_DELTA_BYTES + 1)]);
    const frames = cache.replyFrames(EMPTY);
    expect(frames).toHaveLength(1);
    expect(read(frames[0] as Uint8Array).syncType).toBe(syncProtocol.messageYjsSyncStep2);
    sameState(received(frames), doc);
    expect(cache.replyFrames(EMPTY)[0]).toBe(frames[0]);
  });

  it("answers a client that holds part of the document with one step 2 of what it lacks", () => {
    const doc = documentWithHistory();
    const cache = new FullStateCache(doc);
    cache.replyFrames(EMPTY);
    const client = received(cache.replyFrames(EMPTY));
    doc.getArray("a").push([{ i: 200, text: "one more" }]);
    const frames = cache.replyFrames(Y.encodeStateVector(client));
    expect(frames).toHaveLength(1);
    const { syncType, update } = read(frames[0] as Uint8Array);
    expect(syncType).toBe(syncProtocol.messageYjsSyncStep2);
    expect(update.length).toBeLessThan(cache.fullUpdate().length / 10);
    Y.applyUpdate(client, update);
    sameState(client, doc);
  });
});
