/**
 * Where the relay keeps documents: `storage` in the config file. The embedded file store (`dataDir`,
 * `fsync`) is the default and needs no server; `{ "kind": "postgres", "url": ..., "schema": ... }` selects
 * PostgreSQL through the optional `@parley/relay-postgres` package (see open-storage.ts). The environment's
 * `PARLEY_STORAGE_URL` (a `postgres://` URL, which may hold a password) and `PARLEY_STORAGE_SCHEMA` override it.
 */
import { InvalidArgumentError } from "@parley/protocol";
import { assertKnownKeys } from "./known-keys.js";

/** The storage the relay CLI opens. */
export type StorageConfig =
  | { kind: "file" }
  | {
      kind: "postgres";
      /** `postgres://user:password@host:port/database`. */
      url: string;
      /** Schema of the relay's tables (created and migrated at start). Default `parley`. */
      schema?: string;
    };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function fail(path: string, message: string): never {
  throw new InvalidArgumentError(`config.storage${path}`, message);
}

/** Validates the `storage` option; absent means the file store. */
export function parseStorageConfig(raw: unknown): StorageConfig {
  if (raw === undefined) return { kind: "file" };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail("", "must be an object");
  const options = raw as Record<string, unknown>;
  if (options.kind === "file") {
    assertKnownKeys(options, ["kind"], "storage");
    return { kind: "file" };
  }
  if (options.kind !== "postgres") fail(".kind", 'must be "file" or "postgres"');
  assertKnownKeys(options, ["kind", "url", "schema"], "storage");
  if (typeof options.url !== "string" || !/^postgres(ql)?:\/\/./.test(options.url)) {
    fail(".url", "must be a postgres:// or postgresql:// URL");
  }
  if (options.schema === undefined) return { kind: "postgres", url: options.url };
  if (typeof options.schema !== "string" || !SCHEMA_NAME.test(options.schema)) {
    fail(".schema", "must be 1-63 characters of a-z, 0-9 and _, not starting with a digit");
  }
  return { kind: "postgres", url: options.url, schema: options.schema };
}

/** Applies `PARLEY_STORAGE_URL` / `PARLEY_STORAGE_SCHEMA` to the file's raw `storage` option. */
export function storageFromEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const url = env.PARLEY_STORAGE_URL;
  const schema = env.PARLEY_STORAGE_SCHEMA;
  if (!url && !schema) return raw;
  const base = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return { ...base, kind: "postgres", ...(url ? { url } : {}), ...(schema ? { schema } : {}) };
}
