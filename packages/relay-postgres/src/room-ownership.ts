/**
 * Room ownership across relay nodes: a lease on the room row, held by an owner id until `lease_until`
 * (PostgreSQL's clock, so nodes' clocks do not matter). Acquiring bumps the room's epoch, so the fence a
 * lease hands out is the storage write fence: an owner that was paused past its lease and replaced finds
 * its renewals refused and every write it still sends refused too (`ERR_FENCED`), with nothing stored.
 */
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import type { Sql } from "postgres";

/** A held lease: who owns the room, with which fence, until when (the database's clock). */
export interface Lease {
  owner: string;
  fence: number;
  expiresAt: Date;
}

const MAX_LEASE_MS = 3_600_000;

function assertText(value: unknown, argument: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256 || value.includes("\u0000")) {
    throw new InvalidArgumentError(argument, "must be a non-empty string of at most 256 characters without NUL");
  }
}

function assertLeaseMs(leaseMs: unknown): asserts leaseMs is number {
  if (typeof leaseMs !== "number" || !Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
    throw new InvalidArgumentError("leaseMs", `must be an integer from 1 to ${MAX_LEASE_MS}`);
  }
}

function assertFence(fence: unknown): asserts fence is number {
  if (typeof fence !== "number" || !Number.isSafeInteger(fence) || fence < 1) {
    throw new InvalidArgumentError("fence", "must be a positive integer returned by acquire()");
  }
}

interface LeaseRow {
  epoch: number;
  owner: string;
  lease_until: Date;
}

function lease(row: LeaseRow | undefined): Lease | null {
  return row ? { owner: row.owner, fence: row.epoch, expiresAt: row.lease_until } : null;
}

/**
 * Leases on rooms, sharing the rows and epochs of a {@link PostgresStorage} (get it as `storage.ownership`).
 */
export class RoomOwnership {
  /** @internal Created by PostgresStorage, which owns the pool and the migration. */
  constructor(
    private readonly sql: Sql,
    private readonly s: string,
    private readonly ready: Promise<void>,
  ) {}

  /**
   * Takes the room for `owner` for `leaseMs` if nobody else holds a live lease on it (a free room, an
   * expired lease, or `owner`'s own). Always returns a new fence: any earlier writer, including an earlier
   * incarnation of `owner`, is fenced off. `null` if another owner's lease is live.
   */
  async acquire(name: string, owner: string, leaseMs: number): Promise<Lease | null> {
    assertText(name, "name");
    assertText(owner, "owner");
    assertLeaseMs(leaseMs);
    const rows = await this.run<LeaseRow>(
      "acquire",
      `INSERT INTO ${this.s}.rooms AS r (name, owner, lease_until)
       VALUES ($1, $2, now() + $3::int * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET epoch = r.epoch + 1, owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
       WHERE r.owner IS NULL OR r.lease_until <= now() OR r.owner = EXCLUDED.owner
       RETURNING epoch, owner, lease_until`,
      [name, owner, leaseMs],
    );
    return lease(rows[0]);
  }

  /**
   * Extends `owner`'s lease to `leaseMs` from now, if `fence` is still the room's (nobody acquired or claimed
   * it since, even if the lease had run out). `null` means the room is lost: stop writing to it.
   */
  async renew(name: string, owner: string, fence: number, leaseMs: number): Promise<Lease | null> {
    assertText(name, "name");
    assertText(owner, "owner");
    assertFence(fence);
    assertLeaseMs(leaseMs);
    const rows = await this.run<LeaseRow>(
      "renew",
      `UPDATE ${this.s}.rooms SET lease_until = now() + $4::int * interval '1 millisecond'
       WHERE name = $1 AND owner = $2 AND epoch = $3
       RETURNING epoch, owner, lease_until`,
      [name, owner, fence, leaseMs],
    );
    return lease(rows[0]);
  }

  /**
   * {@link RoomOwnership.renew} for many rooms in one statement (a node renews every room it holds at once).
   * Returns the rooms still held, with their new expiry; a room missing from the result is lost.
   */
  async renewAll(
    owner: string,
    held: ReadonlyArray<{ name: string; fence: number }>,
    leaseMs: number,
  ): Promise<Array<{ name: string; fence: number; expiresAt: Date }>> {
    assertText(owner, "owner");
    assertLeaseMs(leaseMs);
    for (const { name, fence } of held) {
      assertText(name, "name");
      assertFence(fence);
    }
    if (held.length === 0) return [];
    await this.ready;
    try {
      const rows = await this.sql.unsafe<Array<{ name: string; epoch: number; lease_until: Date }>>(
        `UPDATE ${this.s}.rooms AS r SET lease_until = now() + $4::int * interval '1 millisecond'
         FROM unnest($1::text[], $2::bigint[]) AS h(name, epoch)
         WHERE r.name = h.name AND r.epoch = h.epoch AND r.owner = $3
         RETURNING r.name, r.epoch, r.lease_until`,
        [held.map((lease) => lease.name), held.map((lease) => lease.fence), owner, leaseMs] as never[],
        { prepare: true },
      );
      return rows.map((row) => ({ name: row.name, fence: row.epoch, expiresAt: row.lease_until }));
    } catch (error) {
      throw new StorageError(`renewAll failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Gives the room up so another owner need not wait for the lease to run out. `false` if it was not held. */
  async release(name: string, owner: string, fence: number): Promise<boolean> {
    assertText(name, "name");
    assertText(owner, "owner");
    assertFence(fence);
    const rows = await this.run(
      "release",
      `UPDATE ${this.s}.rooms SET owner = NULL, lease_until = NULL
       WHERE name = $1 AND owner = $2 AND epoch = $3 RETURNING name`,
      [name, owner, fence],
    );
    return rows.length > 0;
  }

  /** The live lease on the room, or `null` if nobody holds one (never leased, released or expired). */
  async owner(name: string): Promise<Lease | null> {
    assertText(name, "name");
    const rows = await this.run<LeaseRow>(
      "owner",
      `SELECT epoch, owner, lease_until FROM ${this.s}.rooms
       WHERE name = $1 AND owner IS NOT NULL AND lease_until > now()`,
      [name],
    );
    return lease(rows[0]);
  }

  private async run<T>(what: string, text: string, params: Array<string | number>): Promise<T[]> {
    await this.ready;
    try {
      return await this.sql.unsafe<T[]>(text, params, { prepare: true });
    } catch (error) {
      throw new StorageError(`${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
