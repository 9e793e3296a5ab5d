/**
 * Structs a client update carries that the document already has. Yjs skips them without reading their content,
 * so an honest copy passes unread: Yjs ids (clientID, clock) are unique, and the sender's copy is the stored one.
 * A copy that differs is a Yjs clientID two clients wrote with (a collision, or one client reusing another's
 * clientID, for instance through two nodes at once): its writer would keep, and show, what nobody else ever sees,
 * and a Parley client would even show it `sent` (the relay's `stored` ack covers its clock). The check refuses it.
 *
 * A refusal of an honest copy would cost its sender every later change (4409), so the comparison is made where
 * honest copies cannot differ:
 * - Clock by clock, never item by item: the relay and the client split and merge items at different places
 *   (an insert or a delete in the middle splits an item, cleanup merges neighbours), so boundaries differ.
 * - On the encoded values, as a peer receives them, not on the values in memory: the relay's own writes stay in
 *   its document as written, while every client holds them decoded. A lone surrogate is encoded as U+FFFD, and an
 *   own `__proto__` key (from `JSON.parse`) is dropped or turned into a prototype when decoded. The bytes are
 *   compared first; when they differ the stored values are compared once more as a client would re-encode them
 *   after decoding them.
 * - Only `ContentAny` values are compared (documents hold nothing else: update-check.ts refuses other content),
 *   and content deleted on either side is not compared (Yjs keeps none for it).
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";

/** The encoding of `content`'s values from offset `start` to `end`, as `ContentAny.write` writes them. */
function encodedValues(content: Y.ContentAny, start: number, end: number): Uint8Array {
  const encoder = encoding.createEncoder();
  for (let i = start; i < end; i++) encoding.writeAny(encoder, content.arr[i] as never);
  return encoding.toUint8Array(encoder);
}

/** `bytes` decoded (`count` values) and encoded again: what a client that received them would send back. */
function reencoded(bytes: Uint8Array, count: number): Uint8Array {
  const decoder = decoding.createDecoder(bytes);
  const encoder = encoding.createEncoder();
  for (let i = 0; i < count; i++) encoding.writeAny(encoder, decoding.readAny(decoder) as never);
  return encoding.toUint8Array(encoder);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether clocks `[from, to)` of two `ContentAny` items hold the same values, as peers receive them. `stored` is
 * the relay's copy (its own writes are in memory as written), `sent` a decoded one.
 */
export function sameValues(stored: Y.Item, sent: Y.Item, from: number, to: number): boolean {
  const theirs = encodedValues(stored.content as Y.ContentAny, from - stored.id.clock, to - stored.id.clock);
  const mine = encodedValues(sent.content as Y.ContentAny, from - sent.id.clock, to - sent.id.clock);
  return equalBytes(theirs, mine) || equalBytes(reencoded(theirs, to - from), mine);
}

/**
 * Whether the clocks `[struct.id.clock, end)` of `struct` are what `doc` stores at those ids: the same kind of
 * content with the same values, and the same map key. Content deleted on either side (Yjs keeps no content for it)
 * cannot be compared and passes. Work is linear in the stored structs and the values of the range.
 */
export function sameAsStored(doc: Y.Doc, struct: Y.Item | Y.GC, end: number): boolean {
  const stored = doc.store.clients.get(struct.id.client);
  if (!(struct instanceof Y.Item) || stored === undefined) return true;
  let clock = struct.id.clock;
  let index = Y.findIndexSS(stored, clock);
  while (clock < end && index < stored.length) {
    const found = stored[index] as Y.Item | Y.GC;
    const to = Math.min(end, found.id.clock + found.length);
    if (found instanceof Y.Item && !found.deleted) {
      if (found.content.constructor !== struct.content.constructor) {
        if (!(struct.content instanceof Y.ContentDeleted)) return false;
      } else if (found.content instanceof Y.ContentAny && !sameValues(found, struct, clock, to)) {
        return false;
      }
      // The key is encoded only on an item without origins; otherwise Yjs takes it from the origin.
      if (struct.parentSub !== null && found.parentSub !== struct.parentSub) return false;
    }
    clock = to;
    index++;
  }
  return true;
}
