// Cluster path (targets of several nodes): what the pipe from the node a client reached to its room's owner
// costs, on nodes whose roles are known. A room's first client connects to the node meant to own it, which loads it
// (checked against the leases in PostgreSQL while the clients are connected). On fresh nodes, in this order:
// - Memory: idle connections opened on node 0, each in its own room, then a second connection to each of those
//   rooms through node 1: node 1's growth per connection is a piped connection's cost on the relaying node.
// - Latency, one message at a time, rounds rotating through three placements of one room owned by node 0:
//   direct (both clients on node 0), one hop (receiver on node 1), two hops (sender on node 1, receiver on node 2).
// - CPU: closed-loop load (as the throughput scenario) in alternating windows, each node's CPU read apart, on rooms
//   placed "direct" (both clients on node 0), "hashed" (both clients of room r on node r mod N: a load balancer
//   hashing on the room, the load spread without pipes) and "one hop" (node 0 owns, the second client on node 1).
//   Node 1's CPU per message in "one hop" is the relaying node's cost of a piped message; node 2's CPU in
//   "direct" and "one hop" is the cluster's background (heartbeats, lease renewals).
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
 * @typedef {object} Nodes
 * @property {import("../run.mjs").StartedTarget} running
 * @property {import("../server-process.mjs").ServerHandle[]} parts
 * @property {(documentNames: string[], expected: number[]) => Promise<void>} checkOwners Counts the rooms whose
 *   lease is held by the node expected.
 */

/**
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../run.mjs").Size} size
 * @param {(line: string) => void} log
 */
async function measure(running, size, log) {
  const parts = running.server.parts;
  const owners = running.owners;
  if (parts === undefined || parts.length < 3 || owners === undefined) {
    throw new Error("clusterPath needs a target of at least three nodes that reports its rooms' owners");
  }
  /** Rooms whose owner must be the planned node for the figures to mean what they say, and how many were. */
  const ownership = { planned: 0, asPlanned: 0 };
  /** @type {Nodes} */
  const nodes = {
    running,
    parts,
    async checkOwners(documentNames, expected) {
      const found = await owners(documentNames);
      ownership.planned += documentNames.length;
      ownership.asPlanned += found.filter((owner, i) => owner === expected[i]).length;
    },
  };
  const memory = await idleMemory(nodes, size);
  log(`clusterPath memory: ${JSON.stringify(memory)}`);
  const latency = await hopLatency(nodes, size);
  log(
    `clusterPath latency p50: ${Object.entries(latency)
      .map(([k, l]) => `${k} ${l.p50.toFixed(3)} ms`)
      .join(", ")}`,
  );
  const cpu = await loadByNode(nodes, size);
  log(
    `clusterPath CPU/msg: owner direct ${cpu.ownerDirectUs.toFixed(1)} µs, hashed (all nodes) ` +
      `${cpu.hashedUs.toFixed(1)} µs, owner piped ${cpu.ownerPipedUs.toFixed(1)} µs, relaying node ${cpu.relayUs.toFixed(1)} µs`,
  );
  return { nodes: parts.length, latency, cpu, memory, ownership };
}

/**
 * @param {Nodes} nodes
 * @param {import("../run.mjs").Size} size
 */
async function idleMemory({ running, parts, checkOwners }, size) {
  const rssByNode = () => parts.map((part) => part.rssBytes());
  const quiet = () => waitForQuiet(running.server, { quietMs: 1_000 * size.quietScale, timeoutMs: 15_000 });
  // One round trip through each path first, so lazily loaded code is in the baselines.
  const warm = [
    ...(await openIdle(running, 5, "path-warm", { node: 0 })).connections,
    ...(await openIdle(running, 5, "path-warm", { node: 1 })).connections,
  ];
  await closeAll(warm);
  await quiet();
  const baseline = rssByNode();
  const deadline = () => Date.now() + size.capacityTimeoutMs;
  const first = await openIdle(running, size.pathIdle, "path-idle", { node: 0, deadline: deadline() });
  await quiet();
  const afterDirect = rssByNode();
  const second = await openIdle(running, size.pathIdle, "path-idle", { node: 1, deadline: deadline() });
  await quiet();
  const afterPiped = rssByNode();
  const rooms = first.connections.map((connection) => connection.endpoint.documentName);
  await checkOwners(
    rooms,
    rooms.map(() => 0),
  );
  await closeAll([...second.connections, ...first.connections]);
  const grew = (/** @type {number[]} */ to, /** @type {number[]} */ from, /** @type {number} */ node, count = 1) =>
    (at(to, node) - at(from, node)) / Math.max(1, count);
  return {
    connections: size.pathIdle,
    failures: first.failures + second.failures,
    firstError: first.firstError || second.firstError,
    baselineRssByNode: baseline,
    ownerBytesPerDirect: grew(afterDirect, baseline, 0, first.connections.length),
    relayBytesPerPiped: grew(afterPiped, afterDirect, 1, second.connections.length),
    ownerBytesPerPiped: grew(afterPiped, afterDirect, 0, second.connections.length),
  };
}

/**
 * @param {Nodes} nodes
 * @param {import("../run.mjs").Size} size
 */
async function hopLatency({ running, checkOwners }, size) {
  const direct = [await openClient(running, "path-direct", { node: 0 })];
  direct.push(await openClient(running, "path-direct", { node: 0 }));
  const oneHop = [await openClient(running, "path-one-hop", { node: 0 })];
  oneHop.push(await openClient(running, "path-one-hop", { node: 1 }));
  const holder = await openClient(running, "path-two-hops", { node: 0 });
  const twoHops = [
    await openClient(running, "path-two-hops", { node: 1 }),
    await openClient(running, "path-two-hops", { node: 2 }),
  ];
  /** @type {Record<string, import("../clients.mjs").ConversationClient[]>} */
  const pairs = { direct, oneHop, twoHops };
  const names = Object.keys(pairs);
  await checkOwners(
    [direct, oneHop, twoHops].map(([a]) => roomOf(/** @type {import("../clients.mjs").ConversationClient} */ (a))),
    [0, 0, 0],
  );
  const pair = (/** @type {string} */ name) =>
    /** @type {[import("../clients.mjs").ConversationClient, import("../clients.mjs").ConversationClient]} */ (
      pairs[name]
    );
  for (const name of names) await oneWayLatency(...pair(name), size.latencyWarmup);
  /** @type {Record<string, { samples: number[], lost: number }>} */
  const collected = Object.fromEntries(names.map((name) => [name, { samples: [], lost: 0 }]));
  const perRound = Math.ceil(size.pathSamples / size.pathRounds);
  for (let round = 0; round < size.pathRounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = /** @type {string} */ (names[(round + k) % names.length]);
      const { samples, lost } = await oneWayLatency(...pair(name), perRound);
      const into = /** @type {{ samples: number[], lost: number }} */ (collected[name]);
      into.samples.push(...samples);
      into.lost += lost;
    }
  }
  await Promise.all([...direct, ...oneHop, ...twoHops, holder].map((client) => client.close()));
  return Object.fromEntries(
    Object.entries(collected).map(([name, { samples, lost }]) => [name, { ...summarize(samples), lost }]),
  );
}

/**
 * @param {Nodes} nodes
 * @param {import("../run.mjs").Size} size
 */
async function loadByNode({ running, parts, checkOwners }, size) {
  const count = parts.length;
  const cpuByNode = () => parts.map((part) => part.cpuNanos());
  /** Room `room`'s first client on `ownerOf(room)`, the second on `secondOf(room)`. */
  const placed =
    (
      /** @type {string} */ prefix,
      /** @type {(room: number) => number} */ ownerOf,
      /** @type {(room: number) => number} */ secondOf,
    ) =>
    async (/** @type {number} */ room) => {
      const first = await openClient(running, `${prefix}-${room}`, { node: ownerOf(room) });
      return [first, await openClient(running, `${prefix}-${room}`, { node: secondOf(room) })];
    };
  const placements = {
    direct: { ownerOf: () => 0, secondOf: () => 0 },
    hashed: { ownerOf: (/** @type {number} */ r) => r % count, secondOf: (/** @type {number} */ r) => r % count },
    oneHop: { ownerOf: () => 0, secondOf: () => 1 },
  };
  /** @type {Record<string, import("./throughput.mjs").Load>} */
  const loads = {};
  for (const [name, { ownerOf, secondOf }] of Object.entries(placements)) {
    const load = await prepare(running, size, {
      rooms: size.pathRooms,
      openPair: placed(`path-${name}`, ownerOf, secondOf),
    });
    loads[name] = load;
    const firsts = load.clients.filter((_, i) => i % 2 === 0);
    await checkOwners(
      firsts.map(roomOf),
      firsts.map((_, room) => ownerOf(room)),
    );
  }
  /** @type {Record<string, { delivered: number, seconds: number, cpuNanosByNode: number[], dbCpuNanos?: number }>} */
  const totals = Object.fromEntries(
    Object.keys(loads).map((name) => [name, { delivered: 0, seconds: 0, cpuNanosByNode: parts.map(() => 0) }]),
  );
  const names = Object.keys(loads);
  const windowMs = size.pathLoadMs / size.pathLoadRounds;
  for (let round = 0; round < size.pathLoadRounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = /** @type {string} */ (names[(round + k) % names.length]);
      const load = /** @type {import("./throughput.mjs").Load} */ (loads[name]);
      const into =
        /** @type {{ delivered: number, seconds: number, cpuNanosByNode: number[], dbCpuNanos?: number }} */ (
          totals[name]
        );
      await waitForQuiet(running.server, { quietMs: 1_000 * size.quietScale, timeoutMs: 10_000 });
      const dbBefore = await running.database?.cpuNanos();
      const before = cpuByNode();
      const { delivered, seconds, partsAtEnd } = await load.run(windowMs);
      const dbAfter = await running.database?.cpuNanos();
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
  await Promise.all(Object.values(loads).flatMap((load) => load.clients.map((client) => client.close())));

  const total = (/** @type {string} */ name) =>
    /** @type {{ delivered: number, seconds: number, cpuNanosByNode: number[], dbCpuNanos?: number }} */ (totals[name]);
  const perMessageUs = (/** @type {string} */ name, /** @type {number[]} */ nodesCounted) =>
    nodesCounted.reduce((sum, node) => sum + at(total(name).cpuNanosByNode, node), 0) /
    1e3 /
    Math.max(1, total(name).delivered);
  const dbUs = (/** @type {string} */ name) =>
    (total(name).dbCpuNanos ?? Number.NaN) / 1e3 / Math.max(1, total(name).delivered);
  const all = parts.map((_, i) => i);
  return {
    rooms: size.pathRooms,
    ...Object.fromEntries(
      names.map((name) => [
        name,
        {
          ...total(name),
          deliveredPerSecond: total(name).delivered / total(name).seconds,
          latency: summarize(/** @type {import("./throughput.mjs").Load} */ (loads[name]).latencies),
        },
      ]),
    ),
    ownerDirectUs: perMessageUs("direct", [0]),
    hashedUs: perMessageUs("hashed", all),
    ownerPipedUs: perMessageUs("oneHop", [0]),
    relayUs: perMessageUs("oneHop", [1]),
    /** The idle node's CPU per second of load: the cluster's background work on every node. */
    idleNodeUsPerSecond:
      (at(total("direct").cpuNanosByNode, 2) + at(total("oneHop").cpuNanosByNode, 2)) /
      1e3 /
      (total("direct").seconds + total("oneHop").seconds),
    dbDirectUs: dbUs("direct"),
    dbHashedUs: dbUs("hashed"),
    dbPipedUs: dbUs("oneHop"),
  };
}

/** @param {import("../clients.mjs").ConversationClient} client */
function roomOf(client) {
  return client.connection.endpoint.documentName;
}

/** @param {number[]} values @param {number} i */
function at(values, i) {
  return values[i] ?? 0;
}
