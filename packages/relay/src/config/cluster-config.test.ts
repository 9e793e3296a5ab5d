import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { openCluster } from "../cluster/open-cluster.js";
import { silentLogger } from "../core/logger.js";
import { createRelay } from "../core/relay.js";
import { MemoryStorage } from "../storage/storage.js";
import { clusterFromEnv, parseClusterConfig } from "./cluster-config.js";
import { loadConfig, parseConfig } from "./config.js";

const apps = [{ id: "app", keys: [{ kid: "k1", alg: "HS256", secret: "s".repeat(32) }] }];
const storage = { kind: "postgres", url: "postgres://u@h:5432/db" };
const cluster = {
  redis: "redis://127.0.0.1:6379",
  nodeId: "node-1",
  advertise: "10.0.0.5:8080",
  secret: "c".repeat(32),
};

function problem(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).argument;
  }
  return undefined;
}

describe("cluster config", () => {
  it("is off by default, and the embedded default stays the file store", () => {
    expect(parseConfig({ apps })).toMatchObject({ storage: { kind: "file" }, cluster: null });
  });

  it("accepts redis, nodeId, advertise and secret on PostgreSQL storage, with defaults", () => {
    expect(parseConfig({ apps, storage, cluster }).cluster).toEqual({
      ...cluster,
      leaseMs: 10_000,
      keyPrefix: "parley:",
    });
    expect(
      parseClusterConfig({ ...cluster, advertise: "[::1]:9000", leaseMs: 3000, keyPrefix: "t1:" }, "postgres"),
    ).toMatchObject({ advertise: "[::1]:9000", leaseMs: 3000, keyPrefix: "t1:" });
  });

  it("refuses a cluster on the file store, saying it needs PostgreSQL", () => {
    expect(() => parseConfig({ apps, cluster })).toThrow(/postgres/);
    expect(problem(() => parseConfig({ apps, cluster }))).toBe("config.cluster");
  });

  it.each([
    [[], "config.cluster"],
    [{ ...cluster, redis: "http://h:6379" }, "config.cluster.redis"],
    [{ ...cluster, nodeId: "node 1" }, "config.cluster.nodeId"],
    [{ ...cluster, nodeId: undefined }, "config.cluster.nodeId"],
    [{ ...cluster, advertise: "10.0.0.5" }, "config.cluster.advertise"],
    [{ ...cluster, advertise: "10.0.0.5:70000" }, "config.cluster.advertise"],
    [{ ...cluster, secret: "short" }, "config.cluster.secret"],
    [{ ...cluster, leaseMs: 10 }, "config.cluster.leaseMs"],
    [{ ...cluster, keyPrefix: "a b" }, "config.cluster.keyPrefix"],
    [{ ...cluster, nodeID: "x" }, "config.cluster.nodeID"],
  ])("refuses %j naming %s", (raw, argument) => {
    expect(problem(() => parseClusterConfig(raw, "postgres"))).toBe(argument);
  });

  it("takes PARLEY_CLUSTER_* from the environment over the file", () => {
    expect(clusterFromEnv(undefined, {})).toBeUndefined();
    expect(
      clusterFromEnv({ ...cluster }, { PARLEY_CLUSTER_NODE_ID: "node-2", PARLEY_CLUSTER_ADVERTISE: "h:1" }),
    ).toEqual({ ...cluster, nodeId: "node-2", advertise: "h:1" });
    const dir = mkdtempSync(join(tmpdir(), "parley-cluster-config-"));
    const file = join(dir, "relay.json");
    writeFileSync(file, JSON.stringify({ apps, storage }));
    const env = {
      PARLEY_CLUSTER_REDIS: cluster.redis,
      PARLEY_CLUSTER_NODE_ID: cluster.nodeId,
      PARLEY_CLUSTER_ADVERTISE: cluster.advertise,
      PARLEY_CLUSTER_SECRET: cluster.secret,
    };
    expect(loadConfig(file, env).cluster).toMatchObject(cluster);
  });

  it("is for the CLI: createRelay refuses a cluster option instead of ignoring it", () => {
    expect(problem(() => createRelay({ apps: parseConfig({ apps }).apps, cluster } as never))).toBe("cluster");
  });

  it("opens through the optional @parley/relay-cluster package, which refuses a storage without leases", async () => {
    const parsed = parseClusterConfig(cluster, "postgres")!;
    await expect(openCluster(parsed, new MemoryStorage(), silentLogger)).rejects.toMatchObject({
      argument: "storage",
    });
  });
});
