/**
 * Several relay nodes: `cluster` in the config file. Absent (the default), the relay is one process and
 * nothing of the cluster is loaded. Present, the CLI loads the optional `@parley/relay-cluster` package
 * (cluster/open-cluster.ts): PostgreSQL leases decide which node serves a room, Redis coordinates (node
 * heartbeats, a room → owner cache), and a node pipes a connection for a room another node serves to that
 * node. It needs `storage: { kind: "postgres" }`: the lease and the storage fence are one row there.
 *
 * The environment overrides the file: `PARLEY_CLUSTER_REDIS`, `PARLEY_CLUSTER_NODE_ID`,
 * `PARLEY_CLUSTER_ADVERTISE`, `PARLEY_CLUSTER_SECRET`.
 */
import { InvalidArgumentError } from "@parley/protocol";
import { assertKnownKeys } from "./known-keys.js";

/** The validated `cluster` option. */
export interface ClusterConfig {
  /** Redis URL (`redis://` or `rediss://`): heartbeats and the room → owner cache; it stores nothing durable. */
  redis: string;
  /** This node's name, unique in the cluster: 1-64 characters of `A-Z a-z 0-9 . _ -`. */
  nodeId: string;
  /** `host:port` where the other nodes reach this one (its relay port), e.g. `10.0.0.5:8080`. */
  advertise: string;
  /**
   * Shared by every node (at least 32 characters): a node trusts the client address another node passes
   * along with a piped connection only when it is signed with this secret.
   */
  secret: string;
  /**
   * How long a room lease lasts without renewal, in ms (renewed every third of it). A dead node's rooms
   * move to another node after at most this long. Default 10,000.
   */
  leaseMs: number;
  /** Prefix of every Redis key, so several clusters (or test runs) can share one Redis. Default `parley:`. */
  keyPrefix: string;
}

const CLUSTER_KEYS = ["redis", "nodeId", "advertise", "secret", "leaseMs", "keyPrefix"];
const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ADVERTISE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const KEY_PREFIX = /^[\x21-\x7e]{0,64}$/;

function fail(path: string, message: string): never {
  throw new InvalidArgumentError(`config.cluster${path}`, message);
}

/**
 * Validates the `cluster` option; `null` when absent. `storageKind` is the parsed storage's kind: a cluster
 * needs PostgreSQL.
 */
export function parseClusterConfig(raw: unknown, storageKind: "file" | "postgres"): ClusterConfig | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) fail("", "must be an object");
  const options = raw as Record<string, unknown>;
  assertKnownKeys(options, CLUSTER_KEYS, "cluster");
  if (storageKind !== "postgres") {
    fail("", 'needs storage { "kind": "postgres" }: PostgreSQL decides which node serves a room');
  }
  const { redis, nodeId, advertise, secret } = options;
  if (typeof redis !== "string" || !/^rediss?:\/\/./.test(redis)) fail(".redis", "must be a redis:// or rediss:// URL");
  if (typeof nodeId !== "string" || !NODE_ID.test(nodeId)) {
    fail(".nodeId", "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
  }
  const port = typeof advertise === "string" ? ADVERTISE.exec(advertise)?.[2] : undefined;
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
    fail(".advertise", "must be host:port, where the other nodes reach this relay (e.g. 10.0.0.5:8080)");
  }
  if (typeof secret !== "string" || secret.length < 32) fail(".secret", "must be a string of at least 32 characters");
  const leaseMs = options.leaseMs ?? 10_000;
  if (typeof leaseMs !== "number" || !Number.isInteger(leaseMs) || leaseMs < 1_000 || leaseMs > 600_000) {
    fail(".leaseMs", "must be an integer from 1000 to 600000");
  }
  const keyPrefix = options.keyPrefix ?? "parley:";
  if (typeof keyPrefix !== "string" || !KEY_PREFIX.test(keyPrefix)) {
    fail(".keyPrefix", "must be at most 64 printable ASCII characters without spaces");
  }
  return { redis, nodeId, advertise: advertise as string, secret, leaseMs, keyPrefix };
}

const ENV: Record<string, keyof ClusterConfig> = {
  PARLEY_CLUSTER_REDIS: "redis",
  PARLEY_CLUSTER_NODE_ID: "nodeId",
  PARLEY_CLUSTER_ADVERTISE: "advertise",
  PARLEY_CLUSTER_SECRET: "secret",
};

/** Applies `PARLEY_CLUSTER_*` to the file's raw `cluster` option (any of them makes a `cluster` object). */
export function clusterFromEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const given = Object.entries(ENV).filter(([name]) => env[name]);
  if (given.length === 0) return raw;
  const base = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return { ...base, ...Object.fromEntries(given.map(([name, key]) => [key, env[name]])) };
}
