/**
 * Opens the storage a config names, for the CLI. PostgreSQL lives in the optional `@parley/relay-postgres`
 * package, imported only when the config asks for it: embedded users and the quick start never load (or
 * install) a database driver, and `@parley/relay` does not depend on it.
 */
import { InvalidArgumentError } from "@parley/protocol";
import type { StorageConfig } from "../config/storage-config.js";
import type { RelayStorage } from "./storage.js";

/** What the CLI needs of `@parley/relay-postgres`. */
interface PostgresModule {
  createPostgresStorage(options: { url: string; schema?: string }): Promise<RelayStorage>;
}

// A variable, so that neither TypeScript nor the bundler tries to resolve the optional package.
const POSTGRES_PACKAGE = "@parley/relay-postgres";

/**
 * The adapter for `config`, connected and migrated; `undefined` for the file store (createRelay's default).
 * Throws {@link InvalidArgumentError} when PostgreSQL is chosen and the package is not installed.
 */
export async function openStorage(config: StorageConfig): Promise<RelayStorage | undefined> {
  if (config.kind === "file") return undefined;
  let module: PostgresModule;
  try {
    module = (await import(POSTGRES_PACKAGE)) as PostgresModule;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" || !String((error as Error).message).includes(POSTGRES_PACKAGE)) throw error;
    throw new InvalidArgumentError(
      "config.storage.kind",
      `"postgres" needs the ${POSTGRES_PACKAGE} package next to @parley/relay: npm install ${POSTGRES_PACKAGE}`,
    );
  }
  const { url, schema } = config;
  return module.createPostgresStorage(schema === undefined ? { url } : { url, schema });
}
