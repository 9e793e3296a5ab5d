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
 * - {@link RevocationStore.claimedBy} lists the anonymous rooms of an app whose record names a user, a page at a
 *   time, in ascending order of room name (code-unit order: the names are ASCII), so that erasing the user also
 *   erases the subjects claimed by a merge that never reached the user's document (`meta.merged`). A room whose
 *   record was erased is not listed. The userIds are an app's own, so only that app's rooms are listed.
 */
import { assertAppId, assertUserId, InvalidArgumentError, parseRoomName, roomNamePrefix } from "@parley/protocol";
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
  /**
   * The anonymous rooms of `appId` whose record names `userId` as `mergedInto`: at most `page.limit` of them
   * (default {@link CLAIMED_BY_DEFAULT_LIMIT}, at most {@link CLAIMED_BY_MAX_LIMIT}), the first ones after
   * `page.after` (a room name a previous page ended with) in ascending order. A page shorter than its limit is
   * the last one. A person merges a few anonymous subjects at most, so one page is the usual answer.
   * @throws `InvalidArgumentError` for a malformed `appId`, `userId`, `after` (not an anonymous room of `appId`)
   *   or `limit` (not an integer in 1..{@link CLAIMED_BY_MAX_LIMIT}); `StorageError` if the store failed.
   */
  claimedBy(appId: string, userId: string, page?: ClaimedByPage): Promise<string[]>;
}

/** Which page of {@link RevocationStore.claimedBy} to return. */
export interface ClaimedByPage {
  /** Return only rooms after this room name (the last one of the previous page). */
  readonly after?: string;
  /** The most rooms to return. */
  readonly limit?: number;
}

/** The page size of {@link RevocationStore.claimedBy} when none is given. */
export const CLAIMED_BY_DEFAULT_LIMIT = 100;
/** The largest page {@link RevocationStore.claimedBy} accepts. */
export const CLAIMED_BY_MAX_LIMIT = 1_000;

/** A validated {@link RevocationStore.claimedBy} query: the rooms `r` with `after < r < end`, `limit` of them. */
export interface ClaimedByQuery {
  readonly userId: string;
  /** Exclusive lower bound: the page's `after`, or the app's anonymous-room prefix (no room name equals it). */
  readonly after: string;
  /** Exclusive upper bound: the prefix with its last character (`/`) raised by one, so every name under it is below. */
  readonly end: string;
  readonly limit: number;
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

/**
 * Validates the arguments of {@link RevocationStore.claimedBy} (throwing `InvalidArgumentError` as it documents)
 * and returns them as a range of room names; `undefined` if no record can match (a userId with NUL, which
 * {@link RevocationStore.claim} refuses).
 */
export function claimedByQuery(appId: unknown, userId: unknown, page: ClaimedByPage = {}): ClaimedByQuery | undefined {
  assertAppId(appId);
  assertUserId(userId);
  const prefix = roomNamePrefix(appId, "anonymous");
  const { after, limit = CLAIMED_BY_DEFAULT_LIMIT } = page;
  if (!Number.isInteger(limit) || limit < 1 || limit > CLAIMED_BY_MAX_LIMIT) {
    throw new InvalidArgumentError("limit", `must be an integer from 1 to ${CLAIMED_BY_MAX_LIMIT}`);
  }
  if (after !== undefined) {
    const ref = typeof after === "string" ? parseRoomName(after) : null;
    if (ref?.kind !== "anonymous" || ref.appId !== appId) {
      throw new InvalidArgumentError("after", `must be the name of an anonymous room of app "${appId}"`);
    }
  }
  if (userId.includes("\u0000")) return undefined;
  // "/" + 1 is "0": the names under the prefix are exactly those between it and this bound.
  const end = `${prefix.slice(0, -1)}0`;
  return { userId, after: after ?? prefix, end, limit };
}
