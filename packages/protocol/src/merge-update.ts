/**
 * What a login merge folds of an anonymous document into the user's: everything the anonymous user's
 * clients wrote, and the business data the relay wrote (business messages, the business's read mark);
 * never the relay-only roots (`owners`, `clients`, `meta`). Their structs travel as GC placeholders of the
 * same clock range, so Yjs clocks stay contiguous and there is nothing to integrate.
 *
 * The relay merges its copy of the anonymous room this way, and a client merges its stored copy the same
 * way at once (offline too), so both arrive at the same structs and neither side sees the other write or
 * delete relay data it may not touch.
 */
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import { BUSINESS_READ_KEY, ownersOf, RELAY_OWNER, Root } from "./layout.js";

/** The root an integrated item lives in, or `null` for a nested type (not part of the layout). */
function rootOf(item: Y.Item): string | null {
  const parent = item.parent;
  if (!(parent instanceof Y.AbstractType) || parent._item !== null) return null;
  return Y.findRootTypeKey(parent);
}

/** Whether a relay-written item of the anonymous document is business data a merge carries over. */
export function carriedOverByMerge(item: Y.Item): boolean {
  const root = rootOf(item);
  return (
    (root === Root.messages && item.parentSub === null) || (root === Root.reads && item.parentSub === BUSINESS_READ_KEY)
  );
}

/**
 * Encodes `anonymous` as one v1 update for a login merge, with the relay-only structs of the clientIDs
 * `owners` gives to the relay (default: the document's own `owners` map) as GC placeholders.
 */
export function encodeMergeUpdate(
  anonymous: Y.Doc,
  owners: ReadonlyMap<number, string> = new Map(
    [...ownersOf(anonymous).entries()].map(([client, owner]) => [Number(client), owner]),
  ),
): Uint8Array {
  const encoder = new Y.UpdateEncoderV1();
  const clients = [...anonymous.store.clients.entries()].filter(([, structs]) => structs.length > 0);
  encoding.writeVarUint(encoder.restEncoder, clients.length);
  for (const [client, structs] of clients) {
    encoding.writeVarUint(encoder.restEncoder, structs.length);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, (structs[0] as Y.Item | Y.GC).id.clock);
    const relay = owners.get(client) === RELAY_OWNER;
    for (const struct of structs) {
      if (relay && struct instanceof Y.Item && !carriedOverByMerge(struct)) {
        new Y.GC(struct.id, struct.length).write(encoder, 0);
      } else struct.write(encoder, 0);
    }
  }
  // The delete set, as Yjs writes it (v1: client count, then per client its ranges).
  const deletes = Y.createDeleteSetFromStructStore(anonymous.store).clients;
  encoding.writeVarUint(encoder.restEncoder, deletes.size);
  for (const [client, ranges] of deletes) {
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, ranges.length);
    for (const range of ranges) {
      encoding.writeVarUint(encoder.restEncoder, range.clock);
      encoding.writeVarUint(encoder.restEncoder, range.len);
    }
  }
  return encoder.toUint8Array();
}
