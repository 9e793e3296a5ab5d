/**
 * The new-Yjs-clientID budgets: each new clientID is a permanent entry of the document's `owners` map,
 * so how many a frame, a connection and a document may introduce is bounded, and counted before the
 * authorship check runs (it is cheap: `Y.parseUpdateMeta` and set lookups).
 */
import { CloseCode, ownersOf } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as Y from "yjs";
import { Refusal } from "../core/refusal.js";
import type { Limits } from "./limits.js";
import { TokenBucket } from "./token-bucket.js";

const perDocument = new WeakMap<Y.Doc, TokenBucket>();

function documentBudget(doc: Y.Doc, limits: Limits): TokenBucket {
  let bucket = perDocument.get(doc);
  if (bucket === undefined) {
    bucket = new TokenBucket(limits.newClientIdsPerDocumentBurst, limits.newClientIdsPerDocumentPerMinute / 60);
    perDocument.set(doc, bucket);
  }
  return bucket;
}

/**
 * How many Yjs clientIDs `update` writes that no one owns yet in `doc`. Throws if it is undecodable. When the
 * update's first number (its count of clientID blocks) exceeds what the document owns by more than `cap`, that
 * count is returned at once: at least that many must be new, and reading the rest would be the expensive part.
 */
export function countNewClientIds(doc: Y.Doc, update: Uint8Array, cap = Number.POSITIVE_INFINITY): number {
  const owners = ownersOf(doc);
  const blocks = decoding.readVarUint(decoding.createDecoder(update));
  if (blocks - owners.size > cap) return blocks - owners.size;
  let count = 0;
  for (const id of Y.parseUpdateMeta(update).from.keys()) if (!owners.has(String(id))) count++;
  return count;
}

/**
 * Charges `count` new clientIDs of a sync step 2 to the per-frame bound and to the document's budget;
 * throws a {@link Refusal} (4529) over either, taking nothing.
 */
export function chargeSyncClientIds(doc: Y.Doc, count: number, limits: Limits): void {
  if (count === 0) return;
  if (count > limits.maxNewClientIdsPerSync) {
    throw new Refusal(CloseCode.RateLimited, "sync-client-ids", "too many new Yjs clientIDs in one sync step 2");
  }
  chargeDocument(doc, count, limits);
}

/** Charges `count` new clientIDs to the document's budget; throws a {@link Refusal} (4529) over it. */
export function chargeDocument(doc: Y.Doc, count: number, limits: Limits): void {
  if (count > 0 && !documentBudget(doc, limits).take(count)) {
    throw new Refusal(CloseCode.RateLimited, "document-client-ids", "too many new Yjs clientIDs in this document");
  }
}
