/**
 * The revocations of anonymous subjects on PostgreSQL (`@parley/relay`'s `RevocationStore` capability; the
 * contract is written there): one row per revoked anonymous room in `revocations` (migration 5). A claim is one
 * statement, `INSERT … ON CONFLICT (room) DO UPDATE SET room = excluded.room RETURNING merged_into`: the no-op
 * update makes the statement return the row that holds whether it inserted it or another transaction did,
 * after waiting for that transaction to commit, so claims racing from two nodes both return the first one.
 * (`DO NOTHING` would return no row on conflict, and a second statement could miss a row not yet committed.)
 * `claimedBy` reads the index on `(merged_into, room)` (migration 7) over the app's range of anonymous room names.
 */
import { StorageError } from "@parley/protocol";
import {
  type AnonymousRevocation,
  assertRevocationArguments,
  type ClaimedByPage,
  claimedByQuery,
  type RevocationStore,
} from "@parley/relay";
import type { Sql } from "postgres";

function failure(what: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  return new StorageError(`revocation ${what} failed: ${(error as Error).message}`, { cause: error });
}

function record(mergedInto: string | null): AnonymousRevocation {
  return mergedInto === null ? {} : { mergedInto };
}

/** The PostgreSQL revocations of one `PostgresStorage` (its `revocations`). */
export class PostgresRevocations implements RevocationStore {
  constructor(
    private readonly sql: Sql,
    private readonly s: string,
    private readonly migrated: Promise<void>,
  ) {}

  async claim(room: string, mergedInto?: string): Promise<AnonymousRevocation> {
    assertRevocationArguments(room, mergedInto);
    await this.migrated;
    try {
      const [row] = await this.sql.unsafe<{ merged_into: string | null }[]>(
        `INSERT INTO ${this.s}.revocations (room, merged_into) VALUES ($1, $2)
         ON CONFLICT (room) DO UPDATE SET room = excluded.room
         RETURNING merged_into`,
        [room, mergedInto ?? null],
        { prepare: true },
      );
      return record(row!.merged_into);
    } catch (error) {
      throw failure("claim", error);
    }
  }

  async claimedBy(appId: string, userId: string, page?: ClaimedByPage): Promise<string[]> {
    const query = claimedByQuery(appId, userId, page);
    if (query === undefined) return [];
    await this.migrated;
    try {
      const rows = await this.sql.unsafe<{ room: string }[]>(
        `SELECT room FROM ${this.s}.revocations
         WHERE merged_into = $1 AND room > $2 AND room < $3
         ORDER BY room LIMIT $4`,
        [query.userId, query.after, query.end, query.limit],
        { prepare: true },
      );
      return rows.map((row) => row.room);
    } catch (error) {
      throw failure("listing", error);
    }
  }

  async erase(room: string): Promise<void> {
    assertRevocationArguments(room);
    await this.migrated;
    try {
      await this.sql.unsafe(
        `INSERT INTO ${this.s}.revocations (room) VALUES ($1)
         ON CONFLICT (room) DO UPDATE SET merged_into = NULL`,
        [room],
        { prepare: true },
      );
    } catch (error) {
      throw failure("erasure", error);
    }
  }

  async lookup(room: string): Promise<AnonymousRevocation | undefined> {
    assertRevocationArguments(room);
    await this.migrated;
    try {
      const [row] = await this.sql.unsafe<{ merged_into: string | null }[]>(
        `SELECT merged_into FROM ${this.s}.revocations WHERE room = $1`,
        [room],
        { prepare: true },
      );
      return row === undefined ? undefined : record(row.merged_into);
    } catch (error) {
      throw failure("look-up", error);
    }
  }
}
