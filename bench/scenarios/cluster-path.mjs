// Cluster path (targets of several nodes): what the pipe from the node a client reached to its room's owner
// costs, on nodes whose roles are known. A room's first client connects to node 0, which loads it and so owns
// it (checked against the leases in PostgreSQL afterwards). Placements of the second client (or of both):
//   direct    both clients on node 0: no pipe (what a load balancer hashing on the room gets)
//   one hop   the other client on node 1, piped to node 0
//   two hops  a third client holds the room on node 0; sender on node 1, receiver on node 2
// Latency: one message at a time, rounds rotating through the placements. CPU: closed-loop load (as the throughput
// scenario) on rooms placed direct, then one hop, in alternating windows, with each node's CPU read apart: node 1's
// CPU per message is the relaying node's cost of a piped message, node 0's the owner's, node 2 idles (the cluster's
// background: heartbeats, lease renewals). Memory: idle connections opened on node 0 (each its own room), then a
// second connection to each of those rooms through node 1: node 1's growth per connection is a piped connection's
// cost on the relaying node.
import { closeAll, oneWayLatency, openClient, openIdle } from "../clients.mjs";
import { waitForQuiet } from "../server-process.mjs";
import { summarize } from "../stats.mjs";
import { prepare } from "./throughput.mjs";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function clusterPath({ targets, startTarget, size, log }) {
  /** @type {Record<string, unknown>} */
  const results = {};
  // Only the targets that name this scenario: the others, which take part in every scenario, have one node.
  for (const target of targets.filter((candidate) => candidate.only?.includes("clusterPath"))) {
    const running = await startTarget(target);
    try {
      results[target.id] = await measure(running, size, log);
    } catch (error) {
      results[target.id] = { error: String(error) };
      log(`clusterPath ${target.id}: ${String(error)}`);
    } finally {
      await running.stop();
    }
  }
  return results;
}

/**
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../run.mjs").Size} size
 * @param {(line: string) => void} log
 */
async function measure(running, size, log) {
  const { server } = running;
  const parts = server.parts;
  if (parts === undefined || parts.length < 3 || running.owners === undefined) {
    throw new Error("clusterPath needs a target of at least three nodes that reports its rooms' owners");
  }
  const owners = running.owners;
  const cpuByNode = () => parts.map((part) => part.cpuNanos());
  const rssByNode = () => parts.map((part) => part.rssBytes());
  /** Rooms whose owner must be node 0 for the figures to mean what they say, and how many were. */
  const ownership = { planned: 0, asPlanned: 0 };
  /** Asks the leases who serves `documentNames` (while their clients are connected). @param {string[]} documentNames */
  const checkOwners = async (documentNames) => {
    const found = await owners(documentNames);
    ownership.planned += documentNames.length;
    ownership.asPlanned += found.filter((owner) => owner === 0).length;
  };
  /** @param {import("../clients.mjs").ConversationClient} client */
  const roomOf = (client) => client.connection.endpoint.documentName;

  // Latency.
  const direct = [await openClient(running, "path-direct", { node: 0 })];
  direct.push(await openClient(running, "path-direct", { node: 0 }));
  const oneHop = [await openClient(running, "path-one-hop", { node: 0 })];
  oneHop.push(await openClient(running, "path-one-hop", { node: 1 }));
  const holder = await openClient(running, "path-two-hops", { node: 0 });
  const twoHops = [
    await openClient(running, "path-two-hops", { node: 1 }),
    await openClient(running, "path-two-hops", { node: 2 }),
  ];
  const pairs = { direct, oneHop, twoHops };
  await checkOwners(Object.values(pairs).map(([a]) => roomOf(/** @type {any} */ (a))));
  for (const [a, b] of Object.values(pairs)) await oneWayLatency(a, b, size.latencyWarmup);
  /** @type {Record<string, { samples: number[], lost: number }>} */
  const collected = {
    direct: { samples: [], lost: 0 },
    oneHop: { samples: [], lost: 0 },
    twoHops: { samples: [], lost: 0 },
  };
  const names = Object.keys(pairs);
  const perRound = Math.ceil(size.pathSamples / size.pathRounds);
  for (let round = 0; round < size.pathRounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = /** @type {keyof typeof pairs} */ (names[(round + k) % names.length]);
      const [a, b] = pairs[name];
      const { samples, lost } = await oneWayLatency(a, b, perRound);
      collected[name].samples.push(...samples);
      collected[name].lost += lost;
    }
  }
  const latency = Object.fromEntries(
    Object.entries(collected).map(([name, { samples, lost }]) => [name, { ...summarize(samples), lost }]),
  );
  log(
    `clusterPath latency p50: ${names.map((name) => `${name} ${/** @type {any} */ (latency[name]).p50.toFixed(3)} ms`).join(", ")}`,
  );
  await Promise.all([...direct, ...oneHop, ...twoHops, holder].map((client) => client.close()));

  // CPU per message, by node.
  /** @param {string} prefix @param {number} secondNode */
  const pairOn = (prefix, secondNode) => async (/** @type {number} */ room) => {
    const first = await openClient(running, `${prefix}-${room}`, { node: 0 });
    return [first, await openClient(running, `${prefix}-${room}`, { node: secondNode })];
  };
  const loads = {
    direct: await prepare(running, size, { rooms: size.pathRooms, openPair: pairOn("path-load-direct", 0) }),
    oneHop: await prepare(running, size, { rooms: size.pathRooms, openPair: pairOn("path-load-piped", 1) }),
  };
  await checkOwners([...loads.direct.clients, ...loads.oneHop.clients].map(roomOf));
  /** @type {Record<string, { delivered: number, seconds: number, cpuNanosByNode: number[], dbCpuNanos?: number }>} */
  const load = {
    direct: { delivered: 0, seconds: 0, cpuNanosByNode: parts.map(() => 0) },
    oneHop: { delivered: 0, seconds: 0, cpuNanosByNode: parts.map(() => 0) },
  };
  const loadNames = /** @type {Array<keyof typeof loads>} */ (Object.keys(loads));
  const windowMs = size.pathLoadMs / size.pathLoadRounds;
  for (let round = 0; round < size.pathLoadRounds; round++) {
    for (let k = 0; k < loadNames.length; k++) {
      const name = /** @type {keyof typeof loads} */ (loadNames[(round + k) % loadNames.length]);
      await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 10_000 });
      const dbBefore = await running.database?.cpuNanos();
      const before = cpuByNode();
      const { delivered, seconds, partsAtEnd } = await loads[name].run(windowMs);
      const dbAfter = await running.database?.cpuNanos();
      const into =
        /** @type {{ delivered: number, seconds: number, cpuNanosByNode: number[], dbCpuNanos?: number }} */ (
          load[name]
        );
      into.delivered += delivered;
      into.seconds += seconds;
      if (typeof dbBefore === "number" && typeof dbAfter === "number") {
        into.dbCpuNanos = (into.dbCpuNanos ?? 0) + dbAfter - dbBefore;
      }
      (partsAtEnd ?? cpuByNode()).forEach((end, i) => {
        into.cpuNanosByNode[i] = at(into.cpuNanosByNode, i) + end - at(before, i);
      });
    }
  }
  const perMessageUs = (/** @type {{ delivered: number, cpuNanosByNode: number[] }} */ l, /** @type {number} */ node) =>
    at(l.cpuNanosByNode, node) / 1e3 / Math.max(1, l.delivered);
  const cpu = {
    rooms: size.pathRooms,
    direct: {
      ...load.direct,
      deliveredPerSecond: load.direct.delivered / load.direct.seconds,
      latency: summarize(loads.direct.latencies),
    },
    oneHop: {
      ...load.oneHop,
      deliveredPerSecond: load.oneHop.delivered / load.oneHop.seconds,
      latency: summarize(loads.oneHop.latencies),
    },
    ownerDirectUs: perMessageUs(load.direct, 0),
    ownerPipedUs: perMessageUs(load.oneHop, 0),
    relayUs: perMessageUs(load.oneHop, 1),
    /** The idle node's CPU per second of load: the cluster's background work on every node. */
    idleNodeUsPerSecond:
      (at(load.direct.cpuNanosByNode, 2) + at(load.oneHop.cpuNanosByNode, 2)) /
      1e3 /
      (load.direct.seconds + load.oneHop.seconds),
    dbDirectUs: (load.direct.dbCpuNanos ?? Number.NaN) / 1e3 / Math.max(1, load.direct.delivered),
    dbPipedUs: (load.oneHop.dbCpuNanos ?? Number.NaN) / 1e3 / Math.max(1, load.oneHop.delivered),
  };
  log(
    `clusterPath CPU/msg: owner direct ${cpu.ownerDirectUs.toFixed(1)} µs, owner piped ${cpu.ownerPipedUs.toFixed(1)} µs, ` +
      `relaying node ${cpu.relayUs.toFixed(1)} µs`,
  );
  await Promise.all([...loads.direct.clients, ...loads.oneHop.clients].map((client) => client.close()));

  // Memory per idle connection: direct on the owner, then piped through node 1 to the same rooms.
  await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 15_000 });
  const baseline = rssByNode();
  const deadline = () => Date.now() + size.capacityTimeoutMs;
  const first = await openIdle(running, size.pathIdle, "path-idle", { node: 0, deadline: deadline() });
  await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 15_000 });
  const afterDirect = rssByNode();
  const second = await openIdle(running, size.pathIdle, "path-idle", { node: 1, deadline: deadline() });
  await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 15_000 });
  const afterPiped = rssByNode();
  const grew = (
    /** @type {number[]} */ to,
    /** @type {number[]} */ from,
    /** @type {number} */ node,
    /** @type {number} */ count,
  ) => /** @type {number} */ (to[node] - /** @type {number} */ (from[node])) / Math.max(1, count);
  const memory = {
    connections: size.pathIdle,
    failures: first.failures + second.failures,
    firstError: first.firstError || second.firstError,
    baselineRssByNode: baseline,
    ownerBytesPerDirect: grew(afterDirect, baseline, 0, first.connections.length),
    relayBytesPerPiped: grew(afterPiped, afterDirect, 1, second.connections.length),
    ownerBytesPerPiped: grew(afterPiped, afterDirect, 0, second.connections.length),
  };
  log(`clusterPath memory: ${JSON.stringify(memory)}`);
  await checkOwners(first.connections.map((connection) => connection.endpoint.documentName));
  await closeAll([...second.connections, ...first.connections]);

  return { nodes: parts.length, latency, cpu, memory, ownership };
}

/** @param {number[]} values @param {number} i */
function at(values, i) {
  return values[i] ?? 0;
}
