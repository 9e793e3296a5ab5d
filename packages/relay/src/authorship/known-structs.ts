/**
 * Structs a client update carries that the document already has. Yjs skips them without reading their content,
 * so an honest copy passes unread: Yjs ids (clientID, clock) are unique, and the sender's copy is the stored one.
 * A copy that differs is a Yjs clientID two clients wrote with (a collision, or one client reusing another's
 * clientID, for instance through two nodes at once): its writer would keep, and show, what nobody else ever sees,
 * and a Parley client would even show it `sent` (the relay's `stored` ack covers its clock). The check refuses it.
 */
import * as Y from "yjs";

/** The values of `content` from `start` to `end` (offsets), or null if they cannot be compared (deleted). */
function valuesOf(content: Y.Item["content"], start: number, end: number): unknown[] | null {
  if (content instanceof Y.ContentDeleted) return null;
  return content.getContent().slice(start, end);
}

/**
 * Whether the clocks `[struct.id.clock, end)` of `struct` are what `doc` stores at those ids: the same kind of
 * content with the same values, and the same map key. Content deleted on either side (Yjs keeps no content for it)
 * cannot be compared and passes.
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
      } else {
        const theirs = valuesOf(found.content, clock - found.id.clock, to - found.id.clock);
        const mine = valuesOf(struct.content, clock - struct.id.clock, to - struct.id.clock);
        if (theirs !== null && mine !== null && JSON.stringify(theirs) !== JSON.stringify(mine)) return false;
      }
      // The key is encoded only on an item without origins; otherwise Yjs takes it from the origin.
      if (struct.parentSub !== null && found.parentSub !== struct.parentSub) return false;
    }
    clock = to;
    index++;
  }
  return true;
}
