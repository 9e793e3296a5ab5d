/**
 * An optional capability of a {@link RelayStorage}: the conversation index, one entry per stored conversation
 * holding its summary, kept in the same store as the documents. Listing an app's conversations by newest
 * activity (the business API's `GET /v1/apps/<appId>/users`) then reads one indexed page, loads no document and
 * opens no room — on whichever relay node the request reaches.
 *
 * `RelayStorage` itself gains nothing: a storage offers the index by having a `conversationIndex` property (see
 * {@link conversationIndexOf}); the business API uses it when present and otherwise summarizes the stored
 * documents itself (the file store's case). The PostgreSQL storage of `@parley/relay-postgres` implements it with
 * a table; `MemoryStorage` has an in-memory twin (`new MemoryStorage({ conversationIndex: true })`).
 *
 * Who writes (the business API extension, business-summaries.ts): only the writer of the room, under the fence
 * its document writes carry, from the document it serves:
 * - after the room's changes are durable, at most about once a second per room (a chatty room is debounced),
 *   and at once after a business API write, before its answer;
 * - when the room loads, so an entry a crash left behind its document (the owner died between a durable change
 *   and its summary) is repaired by the next load;
 * - the eraser removes the entry under the fence it claimed, before it erases the document (a crash in between
 *   leaves a document without an entry, never an erased conversation's text in the list).
 *
 * What is stale when: an entry may lag its document by the debounce while the room is loaded, and by more only
 * if the room's writer died before writing it (until the room loads again). Documents stored before the index
 * existed have no entry: {@link ConversationIndex.unindexed} names them, for the reader to summarize.
 *
 * Contract:
 * - {@link ConversationIndex.put} and {@link ConversationIndex.remove} are fenced like `append`: they change the
 *   entry only if `fence` is the newest fence of `name` on this store, and otherwise reject with `FencedError`
 *   (code `ERR_FENCED`) and change nothing. A writer that lost the room (its lease expired, an eraser claimed it)
 *   therefore cannot overwrite what the new writer wrote — comparing last activity would not do: a summary
 *   changes without newer activity (a read mark, a logout, a merge), and a writer that lost its room may
 *   summarize changes that were never stored.
 * - An entry's summary may be `null`: the document is stored but has nothing to list (an erased anonymous
 *   subject's tombstone). Such entries are never in a page, but count as indexed.
 * - {@link ConversationIndex.page} returns the entries of an app (optionally of one kind) with a summary,
 *   ordered by `summary.lastActivity` descending, then by name descending (string order), starting strictly
 *   after `cursor` in that order; `next` is the position of the page's last entry, or `null` after the last
 *   page. Pages do not repeat or skip an entry whose position does not change during the listing.
 * - {@link ConversationIndex.unindexed} pages, like `list`, through the names of stored documents starting with
 *   a prefix that have no entry.
 */
import { type ConversationSummary, InvalidArgumentError, parseRoomName, type RoomRef } from "@parley/protocol";
import { assertFence, type Fence, type ListOptions, type ListPage, type RelayStorage } from "./storage.js";

/** Where a page of {@link ConversationIndex.page} starts (exclusive), or where the next one does. */
export interface ConversationPosition {
  lastActivity: number;
  /** The room name. */
  name: string;
}

/** Options of {@link ConversationIndex.page}. */
export interface ConversationIndexPageOptions {
  /** Start strictly after this position (the `next` of the previous page). */
  cursor?: ConversationPosition;
  /** Most entries per page, 1–1000. */
  limit: number;
}

/** One page of {@link ConversationIndex.page}. */
export interface ConversationIndexPage {
  entries: Array<{ name: string; summary: ConversationSummary }>;
  /** Pass as `cursor` for the next page; `null` when this was the last one. */
  next: ConversationPosition | null;
}

/** Largest page of {@link ConversationIndex.page}. */
export const MAX_CONVERSATION_PAGE = 1000;

/** The conversation index of a storage that offers one; see the module comment for the contract. */
export interface ConversationIndex {
  /**
   * Stores `summary` (or `null`: stored, nothing to list) as the entry of the room `name` (a room name per
   * `@parley/protocol`, whose kind and subject `summary` must match). Rejects with `FencedError`, changing
   * nothing, unless `fence` is the room's newest fence.
   */
  put(name: string, summary: ConversationSummary | null, fence: Fence): Promise<void>;
  /** Removes the entry of `name`. Fenced like {@link ConversationIndex.put}. */
  remove(name: string, fence: Fence): Promise<void>;
  /** A page of the listed conversations of `appId` (of `kind`, or both), newest activity first. */
  page(
    appId: string,
    kind: "user" | "anonymous" | null,
    options: ConversationIndexPageOptions,
  ): Promise<ConversationIndexPage>;
  /** A page of the names of stored documents starting with `prefix` that have no entry, as `list` pages. */
  unindexed(prefix: string, options?: ListOptions): Promise<ListPage>;
}

/** The conversation index `storage` offers, if any (a `conversationIndex` property). */
export function conversationIndexOf(storage: RelayStorage): ConversationIndex | undefined {
  const index = (storage as { conversationIndex?: unknown }).conversationIndex;
  return typeof index === "object" && index !== null ? (index as ConversationIndex) : undefined;
}

/** Whether entry position `a` comes before `b` in page order (newest activity first, then name descending). */
export function comesBefore(a: ConversationPosition, b: ConversationPosition): boolean {
  if (a.lastActivity !== b.lastActivity) return a.lastActivity > b.lastActivity;
  return a.name > b.name;
}

/**
 * Validates the arguments of {@link ConversationIndex.put} (for adapters); returns the room the name denotes.
 * A summary must be about the room it is stored for, and its activity a finite number: it is the sort key.
 */
export function assertIndexEntry(name: unknown, summary: unknown, fence: unknown): RoomRef {
  const ref = typeof name === "string" && name.length <= 2048 ? parseRoomName(name) : null;
  if (ref === null) throw new InvalidArgumentError("name", "must be a room name");
  assertFence(fence);
  if (summary === null) return ref;
  const given = summary as Partial<ConversationSummary> | undefined;
  if (typeof given !== "object" || given.kind !== ref.kind || given.id !== ref.subject) {
    throw new InvalidArgumentError("summary", "must be null or the summary of the room's subject");
  }
  if (typeof given.lastActivity !== "number" || !Number.isFinite(given.lastActivity)) {
    throw new InvalidArgumentError("summary", "must have a finite lastActivity");
  }
  return ref;
}

/** Validates the arguments of {@link ConversationIndex.page} (for adapters). */
export function assertPageArguments(appId: unknown, kind: unknown, options: unknown): void {
  if (typeof appId !== "string" || appId.length === 0) throw new InvalidArgumentError("appId", "must be an app id");
  if (kind !== null && kind !== "user" && kind !== "anonymous") {
    throw new InvalidArgumentError("kind", 'must be "user", "anonymous" or null');
  }
  const { limit, cursor } = (options ?? {}) as Partial<ConversationIndexPageOptions>;
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_CONVERSATION_PAGE) {
    throw new InvalidArgumentError("limit", `must be an integer from 1 to ${MAX_CONVERSATION_PAGE}`);
  }
  if (
    cursor !== undefined &&
    (typeof cursor !== "object" ||
      cursor === null ||
      typeof cursor.lastActivity !== "number" ||
      !Number.isFinite(cursor.lastActivity) ||
      typeof cursor.name !== "string")
  ) {
    throw new InvalidArgumentError("cursor", "must be a position a page returned");
  }
}
