/**
 * The relay's storage on PostgreSQL. A document is a room row (its epoch is the write fence) plus its
 * updates numbered by a per-room sequence; see migrations.ts for the tables and statements.ts for the SQL.
 *
 * Durability: a write resolves once its statement committed (the server's `synchronous_commit` decides
 * what "committed" survives; `on`, the default, survives power loss). Appends from every room go through
 * one group-commit queue (write-queue.ts), so a burst across many rooms costs one round trip per tick.
 */
import { randomBytes } from "node:crypto";
import { FencedError, InvalidArgumentError, StorageError } from "@parley/protocol";
import {
  DEFAULT_LIST_LIMIT,
  type Fence,
  type ListOptions,
  type ListPage,
  MAX_LIST_LIMIT,
  type RelayStorage,
} from "@parley/relay";
import postgres, { type Sql } from "postgres";
import { PostgresConversationIndex } from "./conversation-index.js";
import { migrate, quoteSchema } from "./migrations.js";
import { PostgresRevocations } from "./revocations.js";
import { RoomOwnership } from "./room-ownership.js";
import * as statements from "./statements.js";
import { PostgresWebhookOutbox } from "./webhook-outbox.js";
import { type BatchOutcome, type QueuedAppend, WriteQueue, type WriteQueueStats } from "./write-queue.js";

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions {
  /** Connection URL, e.g. `postgres://parley@127.0.0.1:5432/parley`. */
  url: string;
  /** Schema of the tables, created and migrated on first use. Default `parley`. */
  schema?: string;
  /** Most connections the pool opens. Default 4 (writes use one at a time; loads and claims the rest). */
  maxConnections?: number;
}

function assertName(name: unknown, argument = "name"): asserts name is string {
  // PostgreSQL text cannot hold NUL; refusing it here keeps the error an argument error.
  if (typeof name !== "string" || name.length === 0 || name.length > 2048 || name.includes("\u0000")) {
    throw new InvalidArgumentError(argument, "must be a string of 1-2048 characters without NUL");
  }
}

function assertFence(fence: unknown): asserts fence is Fence {
  if (typeof fence !== "number" || !Number.isSafeInteger(fence) || fence < 1) {
    throw new InvalidArgumentError("fence", "must be a positive integer returned by claim()");
  }
}

function assertBytes(bytes: unknown, argument: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(argument, "must be a Uint8Array");
}

/** The driver hands out Buffers; callers get plain Uint8Array views of the same bytes. */
function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function failure(what: string, error: unknown): Error {
  if (error instanceof StorageError || error instanceof InvalidArgumentError) return error;
  return new StorageError(`${what} failed: ${(error as Error).message}`, { cause: error });
}

/**
 * A relay storage adapter on PostgreSQL, with fenced writes, group commit across rooms and
 * {@link RoomOwnership} leases on the same fence. Create it with {@link createPostgresStorage} to connect
 * and migrate up front, or with `new` to do so on first use.
 */
export class PostgresStorage implements RelayStorage {
  /** Room leases on the same rows and epochs as this storage's fences. */
  readonly ownership: RoomOwnership;
  /**
   * The durable webhook outbox (`@parley/relay`'s `WebhookOutbox` capability, which the webhooks extension
   * detects): deliveries attached to an update are inserted by the statement that appends it.
   */
  readonly webhookOutbox: PostgresWebhookOutbox;
  /**
   * The conversation index (`@parley/relay`'s `ConversationIndex` capability, which the business API detects):
   * the `conversations` table, paged by newest activity without loading a document.
   */
  readonly conversationIndex: PostgresConversationIndex;
  /**
   * The revocations of anonymous subjects (`@parley/relay`'s `RevocationStore` capability, which the relay
   * detects): one row per revoked anonymous room, the first claim's.
   */
  readonly revocations: PostgresRevocations;
  private readonly sql: Sql;
  private readonly s: string;
  private readonly queue: WriteQueue;
  private readonly migrated: Promise<void>;
  private closed = false;

  constructor(options: PostgresStorageOptions) {
    if (typeof options?.url !== "string" || !/^postgres(ql)?:\/\//.test(options.url)) {
      throw new InvalidArgumentError("url", "must be a postgres:// or postgresql:// URL");
    }
    const schema = options.schema ?? "parley";
    this.s = quoteSchema(schema);
    const max = options.maxConnections ?? 4;
    if (!Number.isInteger(max) || max < 1 || max > 100) {
      throw new InvalidArgumentError("maxConnections", "must be an integer from 1 to 100");
    }
    this.sql = postgres(options.url, {
      max,
      onnotice: () => {},
      connection: { application_name: "parley-relay" },
      // int8 (epochs, sequences) as numbers: they stay far below 2^53.
      types: { int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    });
    this.migrated = migrate(this.sql, schema).then(() => undefined);
    // A failed migration surfaces on every call; this keeps it from also being an unhandled rejection.
    this.migrated.catch(() => {});
    this.queue = new WriteQueue((batch) => this.commitAppends(batch));
    this.ownership = new RoomOwnership(this.sql, this.s, this.migrated);
    this.webhookOutbox = new PostgresWebhookOutbox(this.sql, this.s, this.migrated);
    this.conversationIndex = new PostgresConversationIndex(this.sql, this.s, this.migrated);
    this.revocations = new PostgresRevocations(this.sql, this.s, this.migrated);
  }

  /** Resolves once connected and migrated; rejects with a {@link StorageError} saying why not. */
  ready(): Promise<void> {
    return this.migrated;
  }

  /** Group-commit counters: appends and the statements that carried them. */
  get stats(): Readonly<WriteQueueStats> {
    return { ...this.queue.stats };
  }

  /** Makes the caller the room's only writer; returns a fence newer than every earlier one. */
  async claim(name: string): Promise<Fence> {
    assertName(name);
    await this.ready();
    try {
      const [row] = await this.sql.unsafe<{ epoch: number }[]>(statements.claim(this.s), [name], { prepare: true });
      return row!.epoch;
    } catch (error) {
      throw failure(`claim("${name}")`, error);
    }
  }

  /**
   * The attestation key in `secrets`: the first caller on a schema inserts random bytes, every node then reads
   * the row that won.
   */
  async attestationKey(): Promise<Uint8Array> {
    await this.ready();
    try {
      await this.sql.unsafe(
        `INSERT INTO ${this.s}.secrets (name, bytes) VALUES ('attestation', $1) ON CONFLICT DO NOTHING`,
        [randomBytes(32)],
      );
      const [row] = await this.sql.unsafe<{ bytes: Buffer }[]>(
        `SELECT bytes FROM ${this.s}.secrets WHERE name = 'attestation'`,
      );
      return new Uint8Array(row!.bytes);
    } catch (error) {
      throw failure("attestationKey()", error);
    }
  }

  /** The stored updates of `name`, snapshot first; `[]` if none. */
  async load(name: string): Promise<Uint8Array[]> {
    assertName(name);
    await this.ready();
    try {
      const rows = await this.sql.unsafe<{ bytes: Uint8Array }[]>(statements.load(this.s), [name], { prepare: true });
      return rows.map((row) => view(row.bytes));
    } catch (error) {
      throw failure(`load("${name}")`, error);
    }
  }

  /**
   * Appends one update; resolves once it (and every earlier append to `name`) is committed. Rejects with
   * {@link FencedError} if `fence` is no longer the room's (nothing stored), or a {@link StorageError}.
   */
  async append(name: string, update: Uint8Array, fence: Fence): Promise<void> {
    assertName(name);
    assertBytes(update, "update");
    assertFence(fence);
    this.assertOpen();
    // Copied before any await: the caller may reuse its buffer before the batch is sent. The deliveries attached
    // to this very object are taken now too, so they ride with this append and no other.
    const copy = update.slice();
    const deliveries = this.webhookOutbox.take(update);
    await this.ready();
    return this.queue.append(
      deliveries === undefined ? { name, fence, update: copy } : { name, fence, update: copy, deliveries },
    );
  }

  /** Replaces every update appended to `name` before this call with `snapshot`, in one transaction. */
  async compact(name: string, snapshot: Uint8Array, fence: Fence): Promise<void> {
    assertName(name);
    assertBytes(snapshot, "snapshot");
    assertFence(fence);
    this.assertOpen();
    const bytes = snapshot.slice();
    await this.ready();
    return this.queue.barrier(() =>
      this.fencedWrite("compact", name, statements.compact(this.s), [name, bytes, fence]),
    );
  }

  /** Erases the document durably; it is no longer listed and loads as `[]`. */
  async remove(name: string, fence: Fence): Promise<void> {
    assertName(name);
    assertFence(fence);
    this.assertOpen();
    await this.ready();
    return this.queue.barrier(() => this.fencedWrite("remove", name, statements.remove(this.s), [name, fence]));
  }

  /**
   * Names of stored documents starting with `prefix`, in byte order, `limit` (default and maximum: the
   * relay's `DEFAULT_LIST_LIMIT` and `MAX_LIST_LIMIT`) at a time; pass the returned `cursor` to get the next
   * page, `null` when there is none.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (typeof prefix !== "string" || prefix.includes("\u0000")) {
      throw new InvalidArgumentError("prefix", "must be a string without NUL characters");
    }
    const { cursor, limit = DEFAULT_LIST_LIMIT } = options;
    if (cursor !== undefined) assertName(cursor, "cursor");
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidArgumentError("limit", `must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    await this.ready();
    const to = statements.prefixEnd(prefix);
    const params: Array<string | number> = [prefix];
    if (to !== null) params.push(to);
    if (cursor !== undefined) params.push(cursor);
    params.push(limit + 1);
    try {
      const text = statements.list(this.s, { to: to !== null, cursor: cursor !== undefined });
      const rows = await this.sql.unsafe<{ name: string }[]>(text, params, { prepare: true });
      const names = rows.slice(0, limit).map((row) => row.name);
      return { names, cursor: rows.length > limit ? names[names.length - 1]! : null };
    } catch (error) {
      throw failure(`list("${prefix}")`, error);
    }
  }

  /** Waits for queued writes, then closes the connections. Later writes reject. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.drained();
    await this.sql.end({ timeout: 5 });
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError("storage is closed");
  }

  private async commitAppends(batch: QueuedAppend[]): Promise<BatchOutcome> {
    let rows: Array<{ name: string; epoch: number }>;
    const outbox = PostgresWebhookOutbox.columns(batch.map((append) => append.deliveries));
    try {
      rows = await this.sql.unsafe(
        statements.appendBatch(this.s),
        [
          batch.map((append) => append.name),
          batch.map((append) => append.fence),
          batch.map((append) => Buffer.from(append.update.buffer, append.update.byteOffset, append.update.byteLength)),
          outbox.ord,
          outbox.id,
          outbox.appId,
          outbox.url,
          outbox.eventId,
          outbox.body,
        ],
        { prepare: true },
      );
    } catch (error) {
      throw failure(`append of ${batch.length} update(s)`, error);
    }
    const written = new Set(rows.map((row) => `${row.epoch}:${row.name}`));
    return batch.map((append) =>
      written.has(`${append.fence}:${append.name}`) ? undefined : new FencedError(append.name),
    );
  }

  private async fencedWrite(what: string, name: string, text: string, params: unknown[]): Promise<void> {
    let rows: unknown[];
    try {
      rows = await this.sql.unsafe(text, params as never[], { prepare: true });
    } catch (error) {
      throw failure(`${what}("${name}")`, error);
    }
    if (rows.length === 0) throw new FencedError(name);
  }
}

/** Creates a {@link PostgresStorage} and waits until it is connected and its schema migrated. */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<PostgresStorage> {
  const storage = new PostgresStorage(options);
  try {
    await storage.ready();
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
  return storage;
}
