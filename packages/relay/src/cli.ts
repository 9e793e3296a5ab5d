/**
 * `parley-relay`: runs the relay with JSON-line logs on stdout. See {@link USAGE}. SIGTERM and SIGINT close
 * connections (1001), wait for pending writes and exit 0. SIGHUP reloads the config file and the environment
 * (`relay.reload()`: keys, token denylists, the admin token; a bad file is logged and changes nothing). `storage: { kind: "postgres" }` in the config loads
 * the optional `@parley/relay-postgres` package (storage/open-storage.ts); `cluster` loads the optional
 * `@parley/relay-cluster` package (cluster/open-cluster.ts).
 */
import { createRequire } from "node:module";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { openCluster } from "./cluster/open-cluster.js";
import { loadConfig } from "./config/config.js";
import { privateRooms } from "./core/log-privacy.js";
import { createJsonLogger } from "./core/logger.js";
import { createRelay, defaultExtensions } from "./core/relay.js";
import { openStorage } from "./storage/open-storage.js";

const USAGE = `Usage: parley-relay --config <file>

Runs a Parley relay: JWT-gated y-websocket rooms on durable storage, the business API and webhooks.

Options:
  -c, --config <file>  the JSON config (see relay.example.json in @parley/relay); or set PARLEY_CONFIG
  -h, --help           print this help
  -v, --version        print the version

Environment (overrides the file): PARLEY_CONFIG, PARLEY_PORT, PARLEY_HOST, PARLEY_DATA_DIR,
PARLEY_STORAGE_URL and PARLEY_STORAGE_SCHEMA (PostgreSQL storage through @parley/relay-postgres),
PARLEY_CLUSTER_REDIS, PARLEY_CLUSTER_NODE_ID, PARLEY_CLUSTER_ADVERTISE and PARLEY_CLUSTER_SECRET (several
nodes through @parley/relay-cluster), PARLEY_ADMIN_TOKEN.
Logs are JSON lines on stdout; GET /healthz answers {"ok":true}; GET /metrics serves Prometheus metrics.
SIGHUP (or POST /v1/admin/reload with Authorization: Bearer <admin.token>) reloads the config: app keys,
denyTokenIds, audience/issuer and admin.token apply at once; other changes need a restart.
Documentation: the README of @parley/relay (configuration, close codes, durability, operations).
`;

function version(): string {
  // dist/cli.js sits one level below the package's package.json, in the workspace and once installed.
  const manifest = createRequire(import.meta.url)("../package.json") as { version: string };
  return manifest.version;
}

async function main(): Promise<void> {
  let values: { config?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    }));
  } catch (error) {
    process.stderr.write(`parley-relay: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const { storage: storageConfig, cluster: clusterConfig, ...config } = loadConfig(values.config);
  const logger = createJsonLogger({ level: config.logLevel });
  const storage = await openStorage(storageConfig);
  // parseConfig refuses a cluster without PostgreSQL storage, so `storage` is set whenever this is.
  const cluster =
    clusterConfig && storage ? await openCluster(clusterConfig, storage, privateRooms(logger)) : undefined;
  // A reload reads the same file and environment as the start; storage and the cluster are opened once and stay.
  const configSource = () => {
    const { storage: nextStorage, cluster: nextCluster, ...reloaded } = loadConfig(values.config);
    // The relay never sees these (it gets the opened adapter and the cluster's parts), so its restartNeeded cannot
    // name them.
    const restartNeeded = [
      ...(isDeepStrictEqual(nextStorage, storageConfig) ? [] : ["storage"]),
      ...(isDeepStrictEqual(nextCluster, clusterConfig) ? [] : ["cluster"]),
    ];
    if (restartNeeded.length > 0) {
      logger.warn("config reload: settings that need a restart kept their running values", { restartNeeded });
    }
    return reloaded;
  };
  const relay = createRelay({
    ...config,
    ...(storage ? { storage } : {}),
    ...(cluster
      ? {
          leases: cluster.leases,
          admission: cluster.admission,
          extensions: [cluster.extension, ...defaultExtensions({ cluster })],
        }
      : {}),
    logger,
    configSource,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    relay.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("close failed", { error });
        process.exit(1);
      },
    );
  };
  // A failed promise somewhere must not take every room down with it; it is a bug to log and fix.
  process.on("unhandledRejection", (error) => logger.error("unhandled rejection", { error }));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // The reloader logs the outcome, success or refusal; a refused reload keeps the running config.
  process.on("SIGHUP", () => {
    logger.info("reloading", { signal: "SIGHUP" });
    relay.reload().catch(() => {});
  });
  await relay.listen();
}

main().catch((error: unknown) => {
  // Once, for people; the process exit code tells supervisors.
  process.stderr.write(`parley-relay: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
