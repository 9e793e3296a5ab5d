/**
 * Cluster tests' access to PostgreSQL and Redis, and relay nodes started as a cluster on them: a schema and a
 * Redis key prefix per run. Without either server the tests fail with instructions; they never skip.
 */
import { createServer } from "node:net";
import type { Sql } from "postgres";
import { createClient as createRedisClient, type RedisClientType } from "redis";
import { afterAll, beforeAll } from "vitest";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./postgres.js";
import { type RelayHandle, startRelay } from "./relay.js";

export { PG_URL } from "./postgres.js";
/** `PARLEY_TEST_REDIS_URL`, default the local server. */
export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A relay node of a test cluster. */
export interface ClusterNode {
  id: string;
  port: number;
  relay: RelayHandle;
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Connections to both servers, or an error saying how to start the missing one. */
export async function clusterServices(): Promise<{ admin: Sql; redis: RedisClientType }> {
  const admin = postgresAdmin();
  try {
    await assertPostgresReachable(admin);
  } catch (error) {
    await admin.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  const redis: RedisClientType = createRedisClient({
    url: REDIS_URL,
    socket: { connectTimeout: 2_000, reconnectStrategy: false },
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    await admin.end({ timeout: 1 }).catch(() => {});
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(error as Error).message}). Start one ` +
        "(Debian: apt-get install redis-server && service redis-server start; or docker run -d -p 6379:6379 redis:7) " +
        "or set PARLEY_TEST_REDIS_URL.",
    );
  }
  return { admin, redis };
}

/**
 * Starts `count` relay nodes (`node-0`, …) of one cluster on `schema` and `keyPrefix`, reaching Redis at
 * `redisUrl` (default {@link REDIS_URL}) and PostgreSQL at `postgresUrlOf(index)` (default {@link PG_URL}: a
 * test puts a proxy in front of one node's database); `extraConfig` is merged into each node's config.
 */
export async function startClusterNodes(
  count: number,
  options: {
    schema: string;
    keyPrefix: string;
    leaseMs: number;
    redisUrl?: string;
    postgresUrlOf?: (index: number) => string;
    extraConfig?: object;
  },
): Promise<ClusterNode[]> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const relays = await Promise.all(
    ports.map((port, i) =>
      startRelay({
        port,
        extraConfig: {
          roomGraceMs: 300,
          logLevel: "debug",
          ...options.extraConfig,
          storage: { kind: "postgres", url: options.postgresUrlOf?.(i) ?? PG_URL, schema: options.schema },
          cluster: {
            redis: options.redisUrl ?? REDIS_URL,
            nodeId: `node-${i}`,
            advertise: `127.0.0.1:${port}`,
            secret: "test-cluster-secret-0123456789-abcdefgh",
            leaseMs: options.leaseMs,
            keyPrefix: options.keyPrefix,
          },
        },
      }),
    ),
  );
  return relays.map((relay, i) => ({ id: `node-${i}`, port: ports[i]!, relay }));
}

/** Deletes every key of `keyPrefix`: what a FLUSHALL does to that cluster, without touching other users. */
export async function forgetRedisData(redis: RedisClientType, keyPrefix: string): Promise<number> {
  let removed = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) removed += await redis.del(keys);
  }
  return removed;
}

/** A schema and a Redis key prefix of their own for one run of a test file's cluster (`name` tells them apart). */
export function clusterRunNames(name: string): { schema: string; keyPrefix: string } {
  const run = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return { schema: `parley_cluster_${name}_${run}`, keyPrefix: `parley-test-${name}-${run}:` };
}

/** Drops the run's schema and Redis keys, and closes both connections. */
export async function removeClusterData(
  services: { admin: Sql; redis: RedisClientType },
  schema: string,
  keyPrefix: string,
): Promise<void> {
  await services.admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await services.admin.end();
  if (!services.redis.isOpen) return;
  await forgetRedisData(services.redis, keyPrefix);
  await services.redis.close();
}

/**
 * Starts `count` nodes on a fresh schema and key prefix (named after `name`) before a test file's tests; after them
 * runs `beforeStop` (close the test's own sockets and clients), stops the nodes and removes the schema and keys.
 * Read `nodes` inside the tests.
 */
export function clusterForThisFile(
  name: string,
  count: number,
  options: { leaseMs: number; extraConfig?: object; beforeStop?: () => Promise<void> | void },
): { readonly nodes: ClusterNode[] } {
  const { schema, keyPrefix } = clusterRunNames(name);
  let services: { admin: Sql; redis: RedisClientType } | undefined;
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    services = await clusterServices();
    const { leaseMs, extraConfig } = options;
    nodes = await startClusterNodes(count, { schema, keyPrefix, leaseMs, ...(extraConfig ? { extraConfig } : {}) });
  }, 90_000);
  afterAll(async () => {
    await options.beforeStop?.();
    for (const node of nodes) await node.relay.stop();
    if (services !== undefined) await removeClusterData(services, schema, keyPrefix);
  });
  return {
    get nodes() {
      return nodes;
    },
  };
}
