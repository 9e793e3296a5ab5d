/**
 * The package's schema and how it gets there: numbered migrations, applied in order inside one transaction
 * that holds an advisory lock, and recorded in `<schema>.migrations`. Starting several relays at once is
 * safe (the lock serializes them; the later ones find nothing to do); starting an older package against a
 * newer schema fails instead of writing rows it does not understand.
 *
 * Tables:
 * - `rooms`: one row per document ever claimed. `epoch` is the write fence (claim and lease acquisition bump
 *   it; every write compares it in the same statement). `last_seq` is the sequence number of the newest update
 *   ever appended (never reused, not even after a remove). `snapshot` holds every update up to `snapshot_seq`.
 *   `stored` says whether the document exists for `list()`. `owner` / `lease_until` are the lease (migration 2).
 * - `updates`: the appended updates, `(room, seq)`; those at or below the room's `snapshot_seq` are deleted
 *   by the compaction that folded them into the snapshot.
 * - `secrets`: secrets every relay node on the schema shares, by name (`attestation`: the attestation key).
 * - `webhook_outbox`: one row per webhook delivery (an event to one endpoint), inserted by the append that stores
 *   the change it reports (webhook-outbox.ts). `next_attempt_at` is when it may be claimed next (a claim moves it
 *   forward by the claim's duration); `dead` rows were given up and are kept for operators. Delivered rows are
 *   deleted.
 * - `conversations`: the conversation index (conversation-index.ts), one row per indexed room: its app and kind,
 *   its summary as JSON and `last_activity` (both `NULL` for a stored room with nothing to list), and the `fence`
 *   (epoch) it was written under. Its room's writer upserts it; the business API pages it by
 *   `(app_id[, kind], last_activity DESC, name DESC)`.
 * - `revocations`: one row per revoked anonymous room (revocations.ts): `merged_into` is the userId of the
 *   merge that came first, or null after a logout that came first or an erasure. Rows are never deleted, and
 *   updated only by an erasure (which nulls `merged_into`). Indexed by `(merged_into, room)` where `merged_into` is
 *   set (migration 7), for erasing a user: the anonymous rooms claimed for them, by app (a range of room names).
 */
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import type { Sql } from "postgres";

interface Migration {
  version: number;
  name: string;
  /** The statements, given the quoted schema name. */
  sql(schema: string): string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "rooms and updates",
    sql: (s) => `
      CREATE TABLE ${s}.rooms (
        name text COLLATE "C" PRIMARY KEY,
        epoch bigint NOT NULL DEFAULT 1,
        last_seq bigint NOT NULL DEFAULT 0,
        snapshot bytea,
        snapshot_seq bigint NOT NULL DEFAULT 0,
        stored boolean NOT NULL DEFAULT false
      );
      CREATE INDEX rooms_stored_name ON ${s}.rooms (name) WHERE stored;
      CREATE TABLE ${s}.updates (
        room text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (room, seq)
      );`,
  },
  {
    version: 2,
    name: "room leases",
    sql: (s) => `
      ALTER TABLE ${s}.rooms ADD COLUMN owner text, ADD COLUMN lease_until timestamptz;`,
  },
  {
    version: 3,
    name: "relay secrets",
    sql: (s) => `
      CREATE TABLE ${s}.secrets (name text PRIMARY KEY, bytes bytea NOT NULL);`,
  },
  {
    version: 4,
    name: "webhook outbox",
    sql: (s) => `
      CREATE TABLE ${s}.webhook_outbox (
        id text PRIMARY KEY,
        app_id text NOT NULL,
        url text NOT NULL,
        event_id text NOT NULL,
        body text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        dead boolean NOT NULL DEFAULT false,
        failure text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX webhook_outbox_due ON ${s}.webhook_outbox (app_id, url, next_attempt_at) WHERE NOT dead;`,
  },
  {
    version: 5,
    name: "revocations",
    sql: (s) => `
      CREATE TABLE ${s}.revocations (
        room text COLLATE "C" PRIMARY KEY,
        merged_into text,
        revoked_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 6,
    name: "conversations",
    sql: (s) => `
      CREATE TABLE ${s}.conversations (
        name text COLLATE "C" PRIMARY KEY,
        app_id text COLLATE "C" NOT NULL,
        kind text NOT NULL CHECK (kind IN ('user', 'anonymous')),
        last_activity double precision,
        summary json,
        fence bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX conversations_by_activity ON ${s}.conversations (app_id, last_activity DESC, name DESC)
        WHERE last_activity IS NOT NULL;
      CREATE INDEX conversations_by_kind_activity ON ${s}.conversations (app_id, kind, last_activity DESC, name DESC)
        WHERE last_activity IS NOT NULL;`,
  },
  {
    version: 7,
    name: "revocations by user",
    sql: (s) => `
      CREATE INDEX revocations_merged_into ON ${s}.revocations (merged_into, room) WHERE merged_into IS NOT NULL;`,
  },
];

/** The versions of the migrations this package has, ascending (applied by set membership, not by count). */
export const MIGRATION_VERSIONS: readonly number[] = MIGRATIONS.map((migration) => migration.version).sort(
  (a, b) => a - b,
);

/** The newest schema version this package knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATION_VERSIONS);

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates a schema name (lower-case SQL identifier) and returns it quoted for SQL text. */
export function quoteSchema(schema: unknown, argument = "schema"): string {
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw new InvalidArgumentError(argument, "must be 1-63 characters of a-z, 0-9 and _, not starting with a digit");
  }
  return `"${schema}"`;
}

/**
 * Creates `schema` if needed and applies the migrations it lacks. Idempotent; concurrent callers are
 * serialized by a transaction-scoped advisory lock keyed on the schema name.
 * @returns the schema version after the call.
 */
export async function migrate(sql: Sql, schema: string): Promise<number> {
  const quoted = quoteSchema(schema);
  try {
    return await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`parley-relay-postgres:${schema}`}))`;
      await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${quoted}.migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const rows = await tx.unsafe<{ version: number }[]>(`SELECT version FROM ${quoted}.migrations`);
      const applied = new Set(rows.map((row) => row.version));
      const newest = Math.max(0, ...applied);
      if (newest > SCHEMA_VERSION) {
        throw new StorageError(
          `schema ${schema} is at version ${newest}; this @parley/relay-postgres knows up to ${SCHEMA_VERSION}: upgrade it`,
        );
      }
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await tx.unsafe(migration.sql(quoted));
        await tx.unsafe(`INSERT INTO ${quoted}.migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      return SCHEMA_VERSION;
    });
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(`cannot migrate schema ${schema}: ${(error as Error).message}`, { cause: error });
  }
}
