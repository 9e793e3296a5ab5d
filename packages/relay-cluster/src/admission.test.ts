/**
 * The Redis admission counters against the real Redis (`PARLEY_TEST_REDIS_URL`, default the local server),
 * with a key prefix per run; without Redis these fail with instructions, never skip. Redis going away is a
 * TCP proxy in front of it that is cut.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import type { Logger } from "@parley/relay";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisAdmission } from "./admission.js";

const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const run = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const keyPrefix = `parley-test-admission-${run}:`;
const HEARTBEAT_MS = 100;
const admin = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
admin.on("error", () => {});
const started: RedisAdmission[] = [];

beforeAll(async () => {
  try {
    await admin.connect();
    await admin.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(error as Error).message}). Start one ` +
        "(Debian: apt-get install redis-server && service redis-server start; or docker run -d -p 6379:6379 redis:7) " +
        "or set PARLEY_TEST_REDIS_URL.",
    );
  }
});

afterEach(async () => {
  for (const backend of started.splice(0)) await backend.stop();
});

afterAll(async () => {
  if (!admin.isOpen) return;
  for await (const keys of admin.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await admin.del(keys);
  }
  await admin.close();
});

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => {};
  return { debug: ignore, info: ignore, error: ignore, warn: (msg: string) => warnings.push(msg), warnings };
}

async function backend(nodeId: string, url = REDIS_URL, logger: Logger = recordingLogger()): Promise<RedisAdmission> {
  const admission = new RedisAdmission({ url, keyPrefix, nodeId, heartbeatMs: HEARTBEAT_MS, logger });
  started.push(admission);
  await admission.start(500);
  return admission;
}

/** Polls until `condition` resolves true (liveness only: the timeout is generous). */
async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A TCP proxy to Redis that can be cut (every connection reset, new ones refused) and healed. */
async function redisProxy(): Promise<{ url: string; cut(): void; heal(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const open = new Set<Socket>();
  let isCut = false;
  const server: Server = createServer((downstream) => {
    if (isCut) return void downstream.resetAndDestroy();
    const upstream = tcpConnect(Number(target.port || 6379), target.hostname);
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        open.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      isCut = true;
      for (const socket of open) socket.resetAndDestroy();
    },
    heal() {
      isCut = false;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("RedisAdmission", () => {
  it("makes two nodes share one limit of open connections, per kind and key", async () => {
    const [a, b] = [await backend("node-a"), await backend("node-b")];
    const first = await a.takeSlot("per-user", "app/u/ann", 2);
    expect(first).not.toBeNull();
    expect(await b.takeSlot("per-user", "app/u/ann", 2)).not.toBeNull();
    expect(await a.takeSlot("per-user", "app/u/ann", 2)).toBeNull();
    expect(await b.takeSlot("per-user", "app/u/ann", 2)).toBeNull();
    // Other keys and kinds are counted apart.
    expect(await b.takeSlot("per-address", "app/u/ann", 2)).not.toBeNull();
    expect(await b.takeSlot("per-user", "app/u/bob", 2)).not.toBeNull();
    // A slot given back on one node (twice: once counts) is free on the other.
    first?.();
    first?.();
    await eventually(async () => (await b.takeSlot("per-user", "app/u/ann", 2)) !== null, "the slot given back");
    expect(await a.takeSlot("per-user", "app/u/ann", 2)).toBeNull();
  });

  it("shares connection rates and counts an anonymous identity once per window across nodes", async () => {
    const [a, b] = [await backend("node-a"), await backend("node-b")];
    const rate = { capacity: 3, perSecond: 3 / 3600 };
    const taken = [
      await a.takeEvent("connect", "10.0.0.1", rate),
      await b.takeEvent("connect", "10.0.0.1", rate),
      await a.takeEvent("connect", "10.0.0.1", rate),
      await b.takeEvent("connect", "10.0.0.1", rate),
    ];
    expect(taken).toEqual([true, true, true, false]);
    expect(await b.takeEvent("connect", "10.0.0.2", rate)).toBe(true);

    const anonymous = { capacity: 2, perSecond: 2 / 3600 };
    expect(await a.takeFirst("anonymous", "10.0.0.1", "x", anonymous, 3_600_000)).toBe(true);
    // The same identity coming back through the other node is not new.
    for (let i = 0; i < 3; i++)
      expect(await b.takeFirst("anonymous", "10.0.0.1", "x", anonymous, 3_600_000)).toBe(true);
    expect(await b.takeFirst("anonymous", "10.0.0.1", "y", anonymous, 3_600_000)).toBe(true);
    expect(await a.takeFirst("anonymous", "10.0.0.1", "z", anonymous, 3_600_000)).toBe(false);
    expect(await a.takeFirst("anonymous", "10.0.0.2", "z", anonymous, 3_600_000)).toBe(true);
  });

  it("gives back the slots of a node that died, three heartbeats after its last one", async () => {
    const [a, b] = [await backend("node-a"), await backend("node-b")];
    expect(await a.takeSlot("per-address", "10.0.0.9", 2)).not.toBeNull();
    expect(await a.takeSlot("per-address", "10.0.0.9", 2)).not.toBeNull();
    expect(await b.takeSlot("per-address", "10.0.0.9", 2)).toBeNull();
    a.abandon(); // no release, no goodbye: a SIGKILL
    started.splice(started.indexOf(a), 1);
    await eventually(async () => (await b.takeSlot("per-address", "10.0.0.9", 2)) !== null, "the dead node's slots");
    expect(await b.takeSlot("per-address", "10.0.0.9", 2)).not.toBeNull();
    expect(await b.takeSlot("per-address", "10.0.0.9", 2)).toBeNull();
  });

  it("writes its slots again within a heartbeat when Redis lost its keys", async () => {
    const [a, b] = [await backend("node-a"), await backend("node-b")];
    expect(await a.takeSlot("per-user", "app/u/dan", 2)).not.toBeNull();
    expect(await a.takeSlot("per-user", "app/u/dan", 2)).not.toBeNull();
    const slots = `${keyPrefix}slots:per-user:app/u/dan`;
    for await (const keys of admin.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await eventually(async () => Object.values(await admin.hGetAll(slots)).includes("2"), "node-a's slots again");
    expect(await b.takeSlot("per-user", "app/u/dan", 2)).toBeNull();
  });

  it("counts per node while Redis is unreachable, logs it once, and writes its slots to Redis when it is back", async () => {
    const proxy = await redisProxy();
    try {
      const logger = recordingLogger();
      const [a, b] = [await backend("node-a", proxy.url, logger), await backend("node-b")];
      const held = await a.takeSlot("per-user", "app/u/cy", 3);
      expect(held).not.toBeNull();
      const slots = `${keyPrefix}slots:per-user:app/u/cy`;
      const holdersBefore = Object.keys(await admin.hGetAll(slots));
      proxy.cut();
      // This node alone: its own limit (one held, two more), whatever the other node holds.
      expect(await b.takeSlot("per-user", "app/u/cy", 3)).not.toBeNull();
      const during = [await a.takeSlot("per-user", "app/u/cy", 3), await a.takeSlot("per-user", "app/u/cy", 3)];
      expect(during.every((slot) => slot !== null)).toBe(true);
      expect(await a.takeSlot("per-user", "app/u/cy", 3)).toBeNull();
      expect(await a.takeEvent("connect", "10.0.0.3", { capacity: 1, perSecond: 1 / 60 })).toBe(true);
      expect(await a.takeEvent("connect", "10.0.0.3", { capacity: 1, perSecond: 1 / 60 })).toBe(false);
      during[0]?.(); // given back while Redis is away: Redis still counts it until this node is back
      expect(logger.warnings.filter((msg) => msg.startsWith("redis unavailable"))).toHaveLength(1);

      proxy.heal();
      // Back: a new holder for node-a, holding its two slots; with node-b's one they fill the limit of three.
      await eventually(async () => {
        const holders = Object.keys(await admin.hGetAll(slots));
        return holders.some((holder) => holder.startsWith("node-a.") && !holdersBefore.includes(holder));
      }, "node-a's slots written again");
      expect(await b.takeSlot("per-user", "app/u/cy", 3)).toBeNull();
      held?.();
      await eventually(async () => (await b.takeSlot("per-user", "app/u/cy", 3)) !== null, "a slot given back");
      expect(await a.takeSlot("per-user", "app/u/cy", 3)).toBeNull();
    } finally {
      for (const admission of started.splice(0)) await admission.stop();
      await proxy.close();
    }
  });
});
