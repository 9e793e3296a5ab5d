/**
 * The conversation index on PostgreSQL (`@parley/relay`'s `ConversationIndex` capability; the contract is written
 * there): the `conversations` table, one row per indexed room with its summary as JSON and its sort key
 * (`last_activity`, `NULL` for an entry with nothing to list) in columns, so that a page is one range scan of
 * `(app_id[, kind], last_activity DESC, name DESC)` — the order the business API lists in — and no document is
 * read.
 *
 * Fencing: a put or remove locks the room's `rooms` row `FOR SHARE` where `epoch` equals its fence, in the same
 * statement as its write. A claim (or lease acquisition) bumps `epoch` with an UPDATE of that row, so the two
 * serialize: a put that locked first commits before the claim does; one that comes after re-checks the epoch
 * on the claimed row (READ COMMITTED) and writes nothing. The row's own `fence` column (the epoch it was written
 * under) is compared too, so no write ever replaces an entry of a newer writer.
 */
import { type ConversationSummary, FencedError, InvalidArgumentError, StorageError } from "@parley/protocol";
import {
  assertIndexEntry,
  assertPageArguments,
  type ConversationIndex,
  type ConversationIndexPage,
  type ConversationIndexPageOptions,
  DEFAULT_LIST_LIMIT,
  type Fence,
  type ListOptions,
  type ListPage,
  MAX_LIST_LIMIT,
} from "@parley/relay";
import type { Sql } from "postgres";
import { prefixEnd } from "./statements.js";

function failure(what: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  return new StorageError(`conversation index ${what} failed: ${(error as Error).message}`, { cause: error });
}

/** The PostgreSQL conversation index of one `PostgresStorage` (its `conversationIndex`). */
export class PostgresConversationIndex implements ConversationIndex {
  constructor(
    private readonly sql: Sql,
    private readonly s: string,
    private readonly migrated: Promise<void>,
  ) {}

  async put(name: string, summary: ConversationSummary | null, fence: Fence): Promise<void> {
    const ref = assertIndexEntry(name, summary, fence);
    await this.migrated;
    // Passed as text and cast in SQL: a parameter the server types as json would be stringified twice.
    const json = summary === null ? null : JSON.stringify(summary);
    const rows = await this.run(
      `put("${name}")`,
      `WITH live AS (SELECT name FROM ${this.s}.rooms WHERE name = $1 AND epoch = $6 FOR SHARE)
       INSERT INTO ${this.s}.conversations AS c (name, app_id, kind, last_activity, summary, fence)
       SELECT $1, $2, $3, $4, ($5::text)::json, $6 FROM live
       ON CONFLICT (name) DO UPDATE SET last_activity = EXCLUDED.last_activity, summary = EXCLUDED.summary,
         fence = EXCLUDED.fence, updated_at = now()
       WHERE c.fence <= EXCLUDED.fence
       RETURNING name`,
      [name, ref.appId, ref.kind, summary?.lastActivity ?? null, json, fence],
    );
    if (rows.length === 0) throw new FencedError(name);
  }

  async remove(name: string, fence: Fence): Promise<void> {
    assertIndexEntry(name, null, fence);
    await this.migrated;
    const rows = await this.run(
      `remove("${name}")`,
      `WITH live AS (SELECT name FROM ${this.s}.rooms WHERE name = $1 AND epoch = $2 FOR SHARE),
       d AS (DELETE FROM ${this.s}.conversations c USING live WHERE c.name = live.name AND c.fence <= $2)
       SELECT name FROM live`,
      [name, fence],
    );
    if (rows.length === 0) throw new FencedError(name);
  }

  async page(
    appId: string,
    kind: "user" | "anonymous" | null,
    options: ConversationIndexPageOptions,
  ): Promise<ConversationIndexPage> {
    assertPageArguments(appId, kind, options);
    await this.migrated;
    const { cursor, limit } = options;
    const params: Array<string | number> = [appId];
    const conditions = ["app_id = $1", "last_activity IS NOT NULL"];
    if (kind !== null) {
      params.push(kind);
      conditions.push(`kind = $${params.length}`);
    }
    if (cursor !== undefined) {
      params.push(cursor.lastActivity, cursor.name);
      conditions.push(`(last_activity, name) < ($${params.length - 1}::float8, $${params.length}::text)`);
    }
    params.push(limit + 1);
    const rows = await this.run<{ name: string; summary: ConversationSummary }>(
      `page("${appId}")`,
      `SELECT name, summary FROM ${this.s}.conversations WHERE ${conditions.join(" AND ")}
       ORDER BY last_activity DESC, name DESC LIMIT $${params.length}`,
      params,
    );
    const entries = rows.slice(0, limit).map((row) => ({ name: row.name, summary: row.summary }));
    const last = entries.at(-1);
    return {
      entries,
      next:
        rows.length > limit && last !== undefined ? { lastActivity: last.summary.lastActivity, name: last.name } : null,
    };
  }

  async unindexed(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (typeof prefix !== "string" || prefix.includes("\u0000")) {
      throw new InvalidArgumentError("prefix", "must be a string without NUL characters");
    }
    const { cursor, limit = DEFAULT_LIST_LIMIT } = options;
    if (cursor !== undefined && (typeof cursor !== "string" || cursor.includes("\u0000"))) {
      throw new InvalidArgumentError("cursor", "must be a cursor returned by unindexed()");
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidArgumentError("limit", `must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    await this.migrated;
    const params: Array<string | number> = [prefix];
    const conditions = ["r.stored", "r.name >= $1"];
    const to = prefixEnd(prefix);
    if (to !== null) {
      params.push(to);
      conditions.push(`r.name < $${params.length}`);
    }
    if (cursor !== undefined) {
      params.push(cursor);
      conditions.push(`r.name > $${params.length}`);
    }
    params.push(limit + 1);
    const rows = await this.run<{ name: string }>(
      `unindexed("${prefix}")`,
      `SELECT r.name FROM ${this.s}.rooms r WHERE ${conditions.join(" AND ")}
       AND NOT EXISTS (SELECT 1 FROM ${this.s}.conversations c WHERE c.name = r.name)
       ORDER BY r.name LIMIT $${params.length}`,
      params,
    );
    const names = rows.slice(0, limit).map((row) => row.name);
    return { names, cursor: rows.length > limit ? names[names.length - 1]! : null };
  }

  private async run<T>(what: string, text: string, params: Array<string | number | null>): Promise<T[]> {
    try {
      return await this.sql.unsafe<T[]>(text, params, { prepare: true });
    } catch (error) {
      throw failure(what, error);
    }
  }
}
