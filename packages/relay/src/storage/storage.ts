/**
 * The relay's storage adapter: where documents live between loads, and who may write them.
 *
 * A document is a sequence of Yjs updates under a name (the room name). The relay appends every update
 * it applies, in the order it applied them, and now and then replaces everything with one snapshot.
 *
 * Fencing contract (several relay nodes, or a relay restarted while the old process is paused, may each
 * believe they serve a room; the storage decides which one writes):
 * - `claim(name)` returns a fence newer than every fence handed out for `name` before, by any instance on
 *   the same backing store, and makes its caller the only writer. A writer claims, then loads, then
 *   writes with that fence. Fences stay newer after `remove`: a removed room's stale writer stays fenced.
 * - `append`, `compact` and `remove` carrying any other fence than the newest reject with
 *   {@link FencedError} (a StorageError, code `ERR_FENCED`) and store nothing: no later `load` returns
 *   any part of them. A write racing the claim that fences it may reject and still be stored (as any
 *   rejected write may be), but one that resolved is in every later `load`.
 *
 * Durability contract (every adapter must keep it; the relay's `stored` acknowledgements rest on it):
 * - `append(name, update, fence)` resolves only once the update is durable (on disk per the adapter's
 *   policy, or committed in a database). Appends to one name are applied in call order; when an append
 *   resolves, every earlier append to that name is durable too. A rejected append means "maybe not stored".
 * - `load(name)` returns every update durably appended (and not compacted away), snapshot first, in order;
 *   `[]` for a name never written or removed. Replaying them into an empty Y.Doc yields the stored document.
 * - `compact(name, snapshot, fence)` replaces everything stored for `name` before the call — what the
 *   writer loaded after its claim and appended since — with `snapshot`, which must contain it all. Appends
 *   issued after the call stay after it, and since only the fence holder writes, no other writer's append
 *   can fall between the snapshot and the call. A crash part-way must leave either the old updates or the
 *   snapshot (or both: replaying Yjs updates twice is harmless), never neither.
 * - `remove(name, fence)` erases the document durably: once it resolves, `load` returns `[]` and `list`
 *   leaves the name out. Writing the name again takes a new `claim`.
 * - `list(prefix, { cursor, limit })` returns, in ascending order (JavaScript string order; room names
 *   are ASCII, so also byte order), up to `limit` names of stored documents that start with `prefix`, and
 *   a cursor to pass back for the next page (`null` after the last page). Pages do not repeat or skip a
 *   name that exists throughout the listing.
 *
 * Attestation key contract:
 * - `attestationKey()` returns 32 secret bytes, the same from every instance on the same backing store and
 *   across restarts, for as long as the store exists. The relay signs what it forwards before it is durable
 *   with it, and checks those tags when clients hand the updates back after a crash (see `attestation.ts` in
 *   `@parley/protocol`); a key that changed would refuse them, one that leaked would let clients forge them.
 *
 * These are the operations a PostgreSQL table (`name, seq, bytes` plus a row per name holding its epoch)
 * or a Redis stream also offers, so scale-out backends fit the same interface. `@parley/relay/testing`
 * exports the conformance suite every adapter must pass.
 */

import { FencedError, InvalidArgumentError } from "@parley/protocol";
import { MemoryConversationIndex } from "./memory-conversation-index.js";
import { MemoryRevocationStore } from "./memory-revocation-store.js";
import { MemoryWebhookOutbox } from "./memory-webhook-outbox.js";

/** A write fence: the epoch a writer got from {@link RelayStorage.claim}; a write carrying an older fence is refused. */
export type Fence = number;

/** Options of {@link RelayStorage.list}. */
export interface ListOptions {
  /** Where to continue: the `cursor` of the previous page. */
  cursor?: string;
  /** Most names per page, 1–{@link MAX_LIST_LIMIT}. Default {@link DEFAULT_LIST_LIMIT}. */
  limit?: number;
}

/** One page of {@link RelayStorage.list}. */
export interface ListPage {
  names: string[];
  /** Pass as `cursor` to get the next page; `null` when this was the last one. */
  cursor: string | null;
}

/** Default page size of {@link RelayStorage.list}. */
export const DEFAULT_LIST_LIMIT = 1000;
/** Largest page size of {@link RelayStorage.list}. */
export const MAX_LIST_LIMIT = 10_000;

/** A durable, fenced store of documents as append-only update logs. See the contracts above. */
export interface RelayStorage {
  /** Makes the caller the only writer of `name`: a fence newer than any before; older fences are refused from now on. */
  claim(name: string): Promise<Fence>;
  /** Every stored update of `name`, snapshot first; `[]` if none. */
  load(name: string): Promise<Uint8Array[]>;
  /** Appends one update; resolves once it (and every earlier append to `name`) is durable. */
  append(name: string, update: Uint8Array, fence: Fence): Promise<void>;
  /** Replaces everything stored for `name` before this call with `snapshot`. */
  compact(name: string, snapshot: Uint8Array, fence: Fence): Promise<void>;
  /** Erases `name` durably. */
  remove(name: string, fence: Fence): Promise<void>;
  /** One page of the names of stored documents starting with `prefix`, in ascending order. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** The store's attestation key: 32 secret bytes, the same on every instance and across restarts. */
  attestationKey(): Promise<Uint8Array>;
  /** Waits for pending writes and releases resources. */
  close(): Promise<void>;
}

/** Throws {@link InvalidArgumentError} unless `name` is a document name adapters accept (1–2048 characters). */
export function assertDocumentName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > 2048) {
    throw new InvalidArgumentError("name", "must be a string of 1-2048 characters");
  }
}

/** Throws {@link InvalidArgumentError} unless `fence` could have come from `claim` (a positive safe integer). */
export function assertFence(fence: unknown): asserts fence is Fence {
  if (typeof fence !== "number" || !Number.isSafeInteger(fence) || fence < 1) {
    throw new InvalidArgumentError("fence", "must be a fence returned by claim()");
  }
}

/** Validates `list` arguments; returns the page size. */
export function listLimit(prefix: unknown, options: ListOptions | undefined): number {
  if (typeof prefix !== "string") throw new InvalidArgumentError("prefix", "must be a string");
  if (options?.cursor !== undefined && typeof options.cursor !== "string") {
    throw new InvalidArgumentError("cursor", "must be a cursor returned by list()");
  }
  const limit = options?.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError("limit", `must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  return limit;
}

/**
 * One page out of `names` (any order): those starting with `prefix` and after `cursor`, sorted. The
 * cursor is the last name of the page, so a page continues after it whatever was added or removed since.
 */
export function pageOf(names: Iterable<string>, prefix: string, options: ListOptions | undefined): ListPage {
  const limit = listLimit(prefix, options);
  const after = options?.cursor;
  const matching: string[] = [];
  for (const name of names) {
    if (name.startsWith(prefix) && (after === undefined || name > after)) matching.push(name);
  }
  matching.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const page = matching.slice(0, limit);
  return { names: page, cursor: matching.length > limit ? page[page.length - 1]! : null };
}

/**
 * An in-memory {@link RelayStorage} for unit tests and embedding: durable only as long as the process,
 * fenced within it (every writer of one instance shares its epochs). With `{ webhookOutbox: true }` it also
 * offers the in-memory twin of the `WebhookOutbox` capability (memory-webhook-outbox.ts), with
 * `{ conversationIndex: true }` that of the `ConversationIndex` capability (memory-conversation-index.ts),
 * and `{ revocations: true }` that of the `RevocationStore` capability (memory-revocation-store.ts).
 */
export class MemoryStorage implements RelayStorage {
  /** The webhook outbox, if asked for at construction. */
  readonly webhookOutbox?: MemoryWebhookOutbox;
  /** The conversation index, if asked for at construction. */
  readonly conversationIndex?: MemoryConversationIndex;
  /** The revocations of anonymous subjects, if asked for at construction. */
  readonly revocations?: MemoryRevocationStore;
  private readonly documents = new Map<string, Uint8Array[]>();
  /** Newest fence per name; kept after `remove` so fences keep growing. */
  private readonly fences = new Map<string, Fence>();
  /** Lives as long as the documents do: this instance is the whole medium. */
  private readonly key = crypto.getRandomValues(new Uint8Array(32));

  constructor(options: { webhookOutbox?: boolean; conversationIndex?: boolean; revocations?: boolean } = {}) {
    if (options.webhookOutbox === true) this.webhookOutbox = new MemoryWebhookOutbox();
    if (options.conversationIndex === true) {
      this.conversationIndex = new MemoryConversationIndex({
        fenceOf: (name) => this.fences.get(name),
        storedNames: () => this.documents.keys(),
      });
    }
    if (options.revocations === true) this.revocations = new MemoryRevocationStore();
  }

  async claim(name: string): Promise<Fence> {
    assertDocumentName(name);
    const fence = (this.fences.get(name) ?? 0) + 1;
    this.fences.set(name, fence);
    return fence;
  }

  async load(name: string): Promise<Uint8Array[]> {
    assertDocumentName(name);
    return [...(this.documents.get(name) ?? [])];
  }

  async append(name: string, update: Uint8Array, fence: Fence): Promise<void> {
    // Taken before the check: a refused append stores its webhook deliveries never, not later.
    const storeDeliveries = this.webhookOutbox?.appended(update);
    this.check(name, fence);
    const updates = this.documents.get(name) ?? [];
    updates.push(update.slice());
    this.documents.set(name, updates);
    storeDeliveries?.();
  }

  async compact(name: string, snapshot: Uint8Array, fence: Fence): Promise<void> {
    this.check(name, fence);
    this.documents.set(name, [snapshot.slice()]);
  }

  async remove(name: string, fence: Fence): Promise<void> {
    this.check(name, fence);
    this.documents.delete(name);
    // The remover's fence is spent: writing the name again takes a new claim.
    this.fences.set(name, fence + 1);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return pageOf(this.documents.keys(), prefix, options);
  }

  async attestationKey(): Promise<Uint8Array> {
    return this.key.slice();
  }

  async close(): Promise<void> {}

  private check(name: string, fence: Fence): void {
    assertDocumentName(name);
    assertFence(fence);
    if (this.fences.get(name) !== fence) throw new FencedError(name);
  }
}
