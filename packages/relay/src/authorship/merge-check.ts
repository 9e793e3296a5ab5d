/**
 * The authorship check of a login merge: what of an anonymous document may be folded into a user's.
 *
 * A merge is an update like any other, held to the same rules ({@link UpdateCheck}) against the user
 * document, with the anonymous document's `owners` as the authors: each Yjs clientID is written by the
 * client that owned it there. On top of that:
 *
 * - Relay-only roots (`owners`, `clients`, `meta`) of the anonymous document are never copied: the relay's
 *   structs there travel as GC placeholders of the same clock range (nothing to integrate, and Yjs clocks
 *   stay contiguous). The relay's business messages and the business's read mark are carried over.
 * - A Yjs clientID the user document already has must have the same history in both documents (same
 *   neighbours, same root, same content): otherwise Yjs would skip the anonymous structs as known and
 *   resolve later ones against different neighbours, landing records in roots that were never checked.
 * - Every clientID of the anonymous document must have an owner there, and not another owner in the user's.
 * - Deletes name only clientIDs the merge brings, and never relay data the user's document already has.
 *
 * The whole merge is judged before anything is applied; a refusal stores nothing.
 */
import { encodeMergeUpdate, ownersOf, RELAY_OWNER } from "@parley/protocol";
import * as Y from "yjs";
import { runCheck } from "./authorship.js";
import { type FailureCode, refuse } from "./check-failure.js";
import type { AuthorPolicy } from "./update-check.js";

/** What {@link checkMerge} decided: the update to apply and the owners to record first, or why not. */
export type MergeVerdict =
  | { ok: true; update: Uint8Array; newOwners: Map<number, string> }
  | { ok: false; code: FailureCode; reason: string };

/** The root an integrated item lives in, or `null` for a nested type (not part of the layout). */
function rootOf(item: Y.Item): string | null {
  const parent = item.parent;
  if (!(parent instanceof Y.AbstractType) || parent._item !== null) return null;
  return Y.findRootTypeKey(parent);
}

const sameId = (a: Y.ID | null, b: Y.ID | null): boolean =>
  a === null || b === null ? a === b : a.client === b.client && a.clock === b.clock;

/** The left origin Yjs records for `clock` inside `item` (its own previous clock past the first). */
const originAt = (item: Y.Item, clock: number): Y.ID | null =>
  clock === item.id.clock ? item.origin : Y.createID(item.id.client, clock - 1);

/** Whether clocks `[clock, clock + length)` of two documents' structs are the same struct data. */
function sameSegment(a: Y.Item | Y.GC, b: Y.Item | Y.GC, clock: number, length: number): boolean {
  // A GC range carries nothing to compare: it is relay-only data an earlier merge replaced, or deleted data.
  if (!(a instanceof Y.Item) || !(b instanceof Y.Item)) return true;
  if (!sameId(originAt(a, clock), originAt(b, clock)) || !sameId(a.rightOrigin, b.rightOrigin)) return false;
  if (rootOf(a) !== rootOf(b) || a.parentSub !== b.parentSub) return false;
  if (a.deleted || b.deleted) return true; // a deleted item's content may be gone on one side
  if (!(a.content instanceof Y.ContentAny) || !(b.content instanceof Y.ContentAny)) {
    return a.content.constructor === b.content.constructor;
  }
  const slice = (item: Y.Item) =>
    JSON.stringify(item.content.getContent().slice(clock - item.id.clock, clock - item.id.clock + length));
  return slice(a) === slice(b);
}

/** Whether `client` wrote the same structs in both documents, as far as both have them. Linear in clocks. */
function sameHistory(anonymous: Y.Doc, user: Y.Doc, client: number): boolean {
  const left = anonymous.store.clients.get(client) ?? [];
  const right = user.store.clients.get(client) ?? [];
  const end = Math.min(Y.getState(anonymous.store, client), Y.getState(user.store, client));
  let i = 0;
  let j = 0;
  let clock = 0;
  while (clock < end) {
    const a = left[i] as Y.Item | Y.GC;
    const b = right[j] as Y.Item | Y.GC;
    const aEnd = a.id.clock + a.length;
    const bEnd = b.id.clock + b.length;
    const next = Math.min(aEnd, bEnd, end);
    if (!sameSegment(a, b, clock, next - clock)) return false;
    clock = next;
    if (clock >= aEnd) i++;
    if (clock >= bEnd) j++;
  }
  return true;
}

/**
 * Judges the merge of `anonymous` into `user` and, if it passes, returns the update to apply and the
 * `owners` entries to record before it. Reads both documents and changes neither.
 */
export function checkMerge(anonymous: Y.Doc, user: Y.Doc, now: number): MergeVerdict {
  const anonymousOwners = ownersOf(anonymous);
  const userOwners = ownersOf(user);
  const owners = new Map<number, string>();
  const newOwners = new Map<number, string>();
  for (const client of anonymous.store.clients.keys()) {
    const owner = anonymousOwners.get(String(client));
    if (typeof owner !== "string") return refused(`clientID ${client} of the anonymous document has no owner`);
    const current = userOwners.get(String(client));
    if (current !== undefined && current !== owner) return refused(`clientID ${client} belongs to another client`);
    if (user.store.clients.has(client) && !sameHistory(anonymous, user, client)) {
      return refused(`clientID ${client} has a different history in the user document`);
    }
    owners.set(client, owner);
    if (current === undefined) newOwners.set(client, owner);
  }
  // The same encoding the client merges its local copy with, so both arrive at the same structs.
  const update = encodeMergeUpdate(anonymous, owners);
  const policy: AuthorPolicy = {
    authorOf: (client) => owners.get(client) ?? refuse(`clientID ${client} is not part of the merge`),
    // The relay's deletes in the anonymous document are its own map overwrites there: they may not reach
    // relay data the user's document already has (a business message must never be hidden by a merge).
    mayDelete: (client) =>
      owners.has(client) && (owners.get(client) !== RELAY_OWNER || !user.store.clients.has(client)),
  };
  const result = runCheck(user, update, policy, now);
  return result.ok ? { ok: true, update, newOwners } : result;
}

function refused(reason: string): MergeVerdict {
  return { ok: false, code: "authorship", reason };
}
