/**
 * Claiming a room's write fence at its first write instead of at load, for an anonymous room nothing is stored
 * in: a visitor who opens the widget and never writes leaves nothing on disk — no document, and no fence either
 * (the file store's claim creates the room's directory, a fence file and a manifest).
 *
 * It keeps the storage contract's order, "claim, then load, then write": at the first write it claims, then loads
 * again, and writes only if the room is still empty. Anything stored by then was written by another writer after
 * this load (another relay that claimed the room, an erasure's tombstone) and is missing from this load's
 * document, so the write fails with `FencedError`, as a write under a stale fence does: the room closes its
 * clients with 1001 and they reconnect to a fresh load.
 */
import { FencedError } from "@parley/protocol";
import type { Fence, RelayStorage } from "../storage/storage.js";

/** The fence a room loaded through {@link claimOnFirstWrite} hands its write path: never passed to storage. */
export const UNCLAIMED: Fence = 0;

/** A storage whose writes claim at the first of them; `claimed` is the fence once that claim held. */
export type ClaimingStorage = RelayStorage & { readonly claimed: Fence | null };

/**
 * `storage` for the one unclaimed, empty document `name`: its writes wait for the claim (issued once, by the
 * first of them) and go to `storage` in the order they were made, under the claimed fence. The fence given to
 * them is ignored.
 */
export function claimOnFirstWrite(storage: RelayStorage, name: string): ClaimingStorage {
  let claimed: Promise<Fence> | undefined;
  let held: Fence | null = null;
  const fence = (): Promise<Fence> => {
    claimed ??= (async () => {
      const fence = await storage.claim(name);
      if ((await storage.load(name)).length > 0) throw new FencedError(name);
      held = fence;
      return fence;
    })();
    return claimed;
  };
  // Each write is chained on the one claim, so their callbacks (and the storage calls) run in the order made.
  return {
    get claimed() {
      return held;
    },
    claim: (doc) => storage.claim(doc),
    load: (doc) => storage.load(doc),
    append: (doc, update) => fence().then((f) => storage.append(doc, update, f)),
    compact: (doc, snapshot) => fence().then((f) => storage.compact(doc, snapshot, f)),
    remove: (doc) => fence().then((f) => storage.remove(doc, f)),
    list: (prefix, options) => storage.list(prefix, options),
    attestationKey: () => storage.attestationKey(),
    close: () => storage.close(),
  };
}
