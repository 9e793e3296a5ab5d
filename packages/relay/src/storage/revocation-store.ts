/**
 * An optional capability of a {@link RelayStorage}: the revocations of anonymous subjects, kept apart from their
 * documents, so that every relay node sharing the store can answer "is this anonymous secret still good, and
 * into which user was it merged?" with one look-up, without loading (or, in a cluster, taking over) the
 * anonymous document, and so that two nodes cannot merge one anonymous subject into two different users.
 *
 * `RelayStorage` itself gains nothing: a storage offers it by having a `revocations` property (see
 * {@link revocationStoreOf}). The relay uses it when present (login merges claim here first, logouts and
 * erasures claim here, upgrades are refused from here); without it (the file store) the revocation kept in the
 * anonymous document (`meta.revoked`, `meta.mergedInto`, identity/revocation.ts) is the only one, and merges of
 * one subject are serialized within the process. The relay writes that in-document revocation in both cases.
 * The PostgreSQL storage of `@parley/relay-postgres` implements it with a table keyed by the room.
 *
 * Contract:
 * - {@link RevocationStore.claim} is atomic and the first claim of a room wins for good: it records the
 *   revocation if the room has none and returns the record that holds afterwards. A merge claims with the
 *   userId (`mergedInto`); a logout or an erasure claims without. So a merge into another user than the first
 *   claim's gets the earlier record back (and must refuse), a merge into the same user gets its own record
 *   back (and may proceed again: that is how an interrupted merge is retried), and a logout after a merge
 *   keeps `mergedInto`. Two claims racing from two nodes get the same record.
 * - A claim (or erasure) that resolved is durable (as durable as a stored document); one that rejected may or may not be.
 * - {@link RevocationStore.lookup} returns the record of a room, or `undefined` if it was never claimed.
 * - {@link RevocationStore.erase} (an erasure) leaves the room revoked and forgets `mergedInto`.
 */
import { assertUserId, InvalidArgumentError, parseRoomName } from "@parley/protocol";
import type { RelayStorage } from "./storage.js";

/** What is recorded about a revoked anonymous room. */
export interface AnonymousRevocation {
  /** The userId the anonymous subject was merged into; absent after a logout (or an erasure) that came first. */
  readonly mergedInto?: string;
}

/** The revocations of a storage that offers them; see the module comment for the contract. */
export interface RevocationStore {
  /**
   * Revokes the anonymous room `room` (its document name) unless it is already revoked, and returns the
   * record that holds afterwards: the first claim's, whoever made it.
   * @param mergedInto - the userId a merge folds the subject into; omitted for a logout.
   * @throws `InvalidArgumentError` for a malformed `room` or `mergedInto`; `StorageError` if the store failed.
   */
  claim(room: string, mergedInto?: string): Promise<AnonymousRevocation>;
  /** The record of `room`, or `undefined` if it was never claimed. */
  lookup(room: string): Promise<AnonymousRevocation | undefined>;
  /**
   * Erasure: records `room` as revoked without `mergedInto`, whether or not it was claimed before, so the
   * record names no user any more (the erased user, or the user an erased anonymous subject was merged into).
   * The only change ever made to a record.
   */
  erase(room: string): Promise<void>;
}

/** The revocation store `storage` offers, if any (a `revocations` property). */
export function revocationStoreOf(storage: RelayStorage): RevocationStore | undefined {
  const store = (storage as { revocations?: unknown }).revocations;
  return typeof store === "object" && store !== null ? (store as RevocationStore) : undefined;
}

/**
 * Throws `InvalidArgumentError` unless `room` is an anonymous room's name and `mergedInto` (if given) a userId
 * as room names allow it (without NUL): the arguments every {@link RevocationStore} accepts.
 */
export function assertRevocationArguments(room: unknown, mergedInto?: unknown): asserts room is string {
  if (typeof room !== "string" || parseRoomName(room)?.kind !== "anonymous") {
    throw new InvalidArgumentError("room", "must be the name of an anonymous room");
  }
  if (mergedInto === undefined) return;
  assertUserId(mergedInto, "mergedInto");
  // Room names can carry it (base64url), but a SQL text column cannot.
  if (mergedInto.includes("\u0000")) throw new InvalidArgumentError("mergedInto", "must not contain NUL");
}
