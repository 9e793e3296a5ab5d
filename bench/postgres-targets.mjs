// The Parley relay on PostgreSQL: one node, and three nodes of a cluster (PostgreSQL + Redis) that clients reach
// round-robin, so that most connections are piped to their room's owner (issue 15).
//
// Each start gets a fresh schema (and, for the cluster, a fresh Redis key prefix), removed when the target is
// disposed of: the schema dropped, the prefix's keys deleted with SCAN + DEL (never FLUSHALL: the Redis is shared).
// PARLEY_BENCH_POSTGRES_URL and PARLEY_BENCH_REDIS_URL point elsewhere than the local servers.
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createClient } from "redis";
import { relayArgs, relayEndpoint, writeRelayConfig } from "./parley-relay.mjs";
import { combineServers, cpuNanos, startServer } from "./server-process.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
export const PG_URL = process.env.PARLEY_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.PARLEY_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const CLUSTER_NODES = 3;
/** What the cluster targets take part in: the scenarios that measure cost per message and per connection. */
const ONLY = ["latency", "throughput", "capacity"];

/** Server versions, filled in by the reachability checks. @type {Record<string, string>} */
const serverVersions = {};

/** Versions of the PostgreSQL and Redis pieces, for the report. */
export function postgresVersions() {
  const version = (/** @type {string} */ name) => {
    try {
      const dir = realpathSync(join(root, "node_modules", name));
      return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
    } catch {
      return "not installed";
    }
  };
  return {
    "@parley/relay-postgres": version("@parley/relay-postgres"),
    "@parley/relay-cluster": version("@parley/relay-cluster"),
    "postgres (client)": version("postgres"),
    "redis (client)": version("redis"),
    ...serverVersions,
  };
}

/** @returns {import("postgres").Sql} */
function admin() {
  return postgres(PG_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
}

/** Why PostgreSQL cannot be used, or null. */
async function postgresUnavailable() {
  const sql = admin();
  try {
    const [row] = await sql`SHOW server_version`;
    serverVersions.PostgreSQL = String(row?.server_version);
    return null;
  } catch (error) {
    return (
      `PostgreSQL is not reachable at ${PG_URL} (${error instanceof Error ? error.message : String(error)}). ` +
      "Start one (Debian: apt-get install postgresql && service postgresql start; or " +
      "docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16) " +
      "or set PARLEY_BENCH_POSTGRES_URL."
    );
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** A connected Redis client (errors go to the caller, not to an unhandled event). */
async function redisClient() {
  const redis = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  redis.on("error", () => {});
  await redis.connect();
  return redis;
}

/** Why Redis cannot be used, or null. */
async function redisUnavailable() {
  try {
    const redis = await redisClient();
    const info = await redis.info("server");
    serverVersions.Redis = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
    await redis.close();
    return null;
  } catch (error) {
    return (
      `Redis is not reachable at ${REDIS_URL} (${error instanceof Error ? error.message : String(error)}). ` +
      "Start one (Debian: apt-get install redis-server && service redis-server start; or " +
      "docker run -d -p 6379:6379 redis:7) or set PARLEY_BENCH_REDIS_URL."
    );
  }
}

/** A port nothing listens on right now (a cluster node must know its own port to advertise it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port")),
      );
    });
  });
}

/**
 * The schema and key prefix of one working directory: the same across a restart, unique to this run.
 * @param {string} workDir
 */
function namesFor(workDir) {
  const suffix = basename(workDir)
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(-6)
    .toLowerCase();
  const run = `${process.pid}_${suffix}`;
  return { schema: `parley_bench_${run}`, keyPrefix: `parley-bench-${run}:`, appName: `parley-bench-${run}` };
}

/**
 * The database URL a relay of this run is given: its connections carry `application_name` (a URL parameter
 * overrides the storage's own), so that their server processes can be found.
 * @param {string} appName
 */
function relayUrl(appName) {
  const url = new URL(PG_URL);
  url.searchParams.set("application_name", appName);
  return url.toString();
}

/**
 * The CPU of the PostgreSQL server processes serving the relays whose connections are named `appName` (their
 * connections' backends; read from /proc, so only with the database on this machine; shared work such as the WAL
 * writer and checkpoints is not counted). `null` when no backend of theirs is readable here.
 * @param {string} appName
 * @returns {import("./targets.mjs").DatabaseMeter}
 */
function databaseMeter(appName) {
  const sql = admin();
  return {
    async cpuNanos() {
      const rows = await sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${appName}`;
      let total = 0;
      let readable = 0;
      for (const row of rows) {
        const nanos = cpuNanos(Number(row.pid));
        if (nanos > 0) readable += 1;
        total += nanos;
      }
      return readable === 0 ? null : total;
    },
    close: () => sql.end({ timeout: 1 }).catch(() => {}),
  };
}

/** @param {string} schema */
async function dropSchema(schema) {
  const sql = admin();
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Deletes every key under `keyPrefix`, and nothing else. @param {string} keyPrefix */
async function forgetKeys(keyPrefix) {
  const redis = await redisClient();
  try {
    for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await redis.del(keys);
    }
  } finally {
    await redis.close();
  }
}

/** @type {import("./targets.mjs").Target[]} */
export const POSTGRES_TARGETS = [
  {
    id: "parley-postgres",
    name: "Parley relay on PostgreSQL",
    persistence: "PostgreSQL (@parley/relay-postgres: group commit across rooms, `synchronous_commit = on`)",
    durable: true,
    only: ONLY,
    unavailable: postgresUnavailable,
    async start(workDir, { profileDir }) {
      const { schema, appName } = namesFor(workDir);
      const dataPath = join(workDir, "parley-data");
      mkdirSync(dataPath, { recursive: true });
      const configPath = join(workDir, "parley.json");
      writeRelayConfig(configPath, dataPath, { storage: { kind: "postgres", url: relayUrl(appName), schema } });
      const server = await startServer({
        name: this.id,
        args: relayArgs(configPath, profileDir),
      });
      const database = databaseMeter(appName);
      return {
        server,
        dataPath: "",
        database,
        endpoint: relayEndpoint(() => server.port),
        async dispose() {
          await database.close();
          await dropSchema(schema);
        },
      };
    },
  },
  {
    id: "parley-cluster-3",
    name: "Parley relay, 3 nodes (PostgreSQL + Redis), clients round-robin",
    persistence:
      "PostgreSQL as above; Redis for routing hints and connection quotas; each client connects to the next node " +
      "in turn, which pipes it to its room's owner unless it is the owner",
    durable: true,
    only: [...ONLY, "clusterPath"],
    async unavailable() {
      const reasons = [await postgresUnavailable(), await redisUnavailable()].filter((reason) => reason !== null);
      return reasons.length === 0 ? null : reasons.join(" ");
    },
    async start(workDir, { profileDir }) {
      const { schema, keyPrefix, appName } = namesFor(workDir);
      /** @type {number[]} */
      const ports = [];
      for (let i = 0; i < CLUSTER_NODES; i++) ports.push(/** @type {number} */ (await freePort()));
      const nodes = await Promise.allSettled(
        ports.map((port, i) => {
          const dataPath = join(workDir, `node-${i}`);
          mkdirSync(dataPath, { recursive: true });
          const configPath = join(workDir, `node-${i}.json`);
          writeRelayConfig(configPath, dataPath, {
            port,
            storage: { kind: "postgres", url: relayUrl(appName), schema },
            cluster: {
              redis: REDIS_URL,
              nodeId: `node-${i}`,
              advertise: `127.0.0.1:${port}`,
              secret: "parley-bench-cluster-secret-0123456789",
              keyPrefix,
            },
          });
          return startServer({
            name: `${this.id} node-${i}`,
            args: relayArgs(configPath, profileDir),
          });
        }),
      );
      const started = nodes.flatMap((node) => (node.status === "fulfilled" ? [node.value] : []));
      const failed = nodes.find((node) => node.status === "rejected");
      if (failed !== undefined) {
        await Promise.all(started.map((handle) => handle.stop()));
        throw failed.reason;
      }
      const server = combineServers(started);
      const database = databaseMeter(appName);
      let next = 0;
      return {
        server,
        dataPath: "",
        database,
        nodes: CLUSTER_NODES,
        // Round-robin, as a load balancer without room affinity spreads connections.
        endpoint: relayEndpoint((subject) => {
          const node = subject.node ?? next++;
          return /** @type {number} */ (ports[node % CLUSTER_NODES]);
        }),
        async owners(documentNames) {
          const sql = admin();
          try {
            const rows = await sql.unsafe(`SELECT name, owner FROM "${schema}".rooms WHERE name = ANY($1)`, [
              documentNames,
            ]);
            const byName = new Map(rows.map((row) => [row.name, /^node-(\d+) /.exec(row.owner ?? "")?.[1]]));
            return documentNames.map((name) => {
              const node = byName.get(name);
              return node === undefined ? null : Number(node);
            });
          } finally {
            await sql.end({ timeout: 1 }).catch(() => {});
          }
        },
        async dispose() {
          await database.close();
          await dropSchema(schema);
          await forgetKeys(keyPrefix);
        },
      };
    },
  },
];
