// The report's PostgreSQL and cluster section (issue 15): Parley on PostgreSQL, one node and three, against its file
// store; what the pipe to a room's owner costs on each node; and what N nodes carry, computed from those figures.
import { ms, num, ratio, table } from "./format.mjs";

const FILE = "parley";
const PG = "parley-postgres";
const CLUSTER = "parley-cluster-3";
/** Per node, for the connections-per-node column. */
const MEMORY_BUDGET = 2 ** 30;

/**
 * The section, or "" when the run had none of these targets and left none out.
 * @param {any} report The object run.mjs writes as JSON.
 * @returns {string}
 */
export function clusterSection(report) {
  const ids = report.targets.map((/** @type {{ id: string }} */ target) => target.id);
  const leftOut = (report.leftOut ?? []).filter((/** @type {{ id: string }} */ t) => t.id === PG || t.id === CLUSTER);
  if (!ids.includes(PG) && !ids.includes(CLUSTER) && leftOut.length === 0) return "";
  const results = (/** @type {string} */ scenario) => report.scenarios[scenario]?.results ?? {};
  const lat = results("latency");
  const thr = results("throughput");
  const cap = results("capacity");
  const path = results("clusterPath")[CLUSTER];
  const lastStep = (/** @type {string} */ id) => cap[id]?.steps?.at(-1);
  const withDb = (/** @type {string} */ id) =>
    (thr[id]?.cpuPerMessageWithStoresUs ?? Number.NaN) + (thr[id]?.dbCpuPerMessageUs ?? 0);
  const steps = report.size.capacitySteps;
  const n = steps.at(-1);
  const piped =
    thr[CLUSTER]?.pipedClients === undefined
      ? "not counted in this run"
      : `${num(thr[CLUSTER].pipedClients)} of its ${num(thr[CLUSTER].clients)} clients were piped in this run`;

  const out = [];
  out.push("## PostgreSQL and three nodes (issue 15)");
  out.push("");
  for (const { id, reason } of leftOut) out.push(`**Left out of this run: ${id}.** ${reason}`, "");
  out.push(
    "Parley on PostgreSQL, one relay and a cluster of three (PostgreSQL + Redis; the clients connect to the nodes " +
      "in turn, as a round-robin load balancer spreads them), against Parley on its file store, same run. The " +
      "cluster's CPU and memory are the sums over its three processes. In the latency scenario a conversation's " +
      "two clients are on different nodes and the first one's node loads the room, so each message crosses one " +
      "pipe. In throughput the two connect at once; when both nodes try to load the room, the one that lost the " +
      "lease closes its client with 1001 and the client reconnects to the next node, so a room has one piped client " +
      `or none (${piped}). In capacity each connection is alone in its room, so none is piped. Database CPU is ` +
      "that of the PostgreSQL server processes serving the relays' connections (from " +
      "/proc; the server's shared WAL writer and checkpointer are not counted), from the start of each load window " +
      "until the relay went quiet.",
  );
  out.push("");
  out.push(
    table(
      [
        "target",
        "latency p50 / p99",
        "relay CPU / msg (with stores)",
        "database CPU / msg",
        "delivered msg/s",
        `memory / idle conn at ${num(n)}`,
        `open ${num(n)}`,
        "relay CPU / conn opened",
      ],
      [FILE, PG, CLUSTER]
        .filter((id) => ids.includes(id))
        .map((id) => {
          const q = lat[id]?.quiet;
          const t = thr[id];
          const c = lastStep(id);
          return [
            report.targets.find((/** @type {{ id: string }} */ target) => target.id === id).name,
            `${ms(q?.p50)} / ${ms(q?.p99)}`,
            `${num(t?.cpuPerMessageWithStoresUs, 1)} µs`,
            t?.dbCpuPerMessageUs === undefined ? "–" : `${num(t.dbCpuPerMessageUs, 1)} µs`,
            num(t?.deliveredPerSecond),
            c ? `${num(c.bytesPerConnection / 1024, 1)} KB` : (cap[id]?.error ?? "–"),
            c ? ms(c.openSeconds * 1000) : "–",
            c ? ms(c.cpuMicrosPerConnection / 1000) : "–",
          ];
        }),
    ),
  );
  out.push("");
  /** @param {(id: string) => number | undefined} pick */
  const ratios = (pick) => [ratio(pick(PG), pick(FILE)), ratio(pick(CLUSTER), pick(PG))];
  out.push(
    table(
      ["", "PostgreSQL ÷ file store (one node)", "3 nodes ÷ 1 node (both PostgreSQL)"],
      [
        ["latency p50", ...ratios((id) => lat[id]?.quiet?.p50)],
        ["latency p99", ...ratios((id) => lat[id]?.quiet?.p99)],
        ["relay CPU per message (with stores)", ...ratios((id) => thr[id]?.cpuPerMessageWithStoresUs)],
        ["relay + database CPU per message", ...ratios(withDb)],
        [`memory per idle connection (${num(n)})`, ...ratios((id) => lastStep(id)?.bytesPerConnection)],
        [`time to open ${num(n)}`, ...ratios((id) => lastStep(id)?.openSeconds)],
      ],
    ),
  );
  out.push("");
  if (path && !path.error) out.push(...pathPart(report, path, lastStep(PG)?.bytesPerConnection));
  else if (path?.error) out.push(`Cluster path: failed: ${path.error}`, "");
  return out.join("\n");
}

/**
 * The cluster-path scenario's figures, and what N nodes carry computed from them.
 * @param {any} report
 * @param {any} path
 * @param {number | undefined} ownerBytes Memory per idle connection in its own room on one PostgreSQL node.
 */
function pathPart(report, path, ownerBytes) {
  const out = [];
  const { latency, cpu, memory, ownership } = path;
  if (cpu.hashed === undefined) return [];
  out.push("### The pipe to a room's owner, node by node");
  out.push("");
  out.push(
    "Three nodes, started for this scenario; the node meant to own a room gets its first client and so loads it (the " +
      `leases said so for ${num(ownership.asPlanned)} of ${num(ownership.planned)} rooms). Memory first, on the ` +
      `fresh nodes; then latency: ${num(report.size.pathSamples)} ` +
      "messages one at a time per placement, in rounds rotating through them. CPU: " +
      `${num(cpu.rooms)} conversations × 2 clients per placement in a closed loop (as in throughput), ` +
      `${num(report.size.pathLoadMs / 1000)} s per placement in alternating windows, each node's CPU read apart.`,
  );
  out.push("");
  out.push(
    table(
      ["placement", "p50", "p99", "p50 added to direct", "lost"],
      [
        ["direct: both clients on the owner", latency.direct],
        ["one hop: the receiver on node 1, piped", latency.oneHop],
        ["two hops: sender on node 1, receiver on node 2", latency.twoHops],
      ].map(([label, l]) => [
        label,
        ms(l.p50),
        ms(l.p99),
        l === latency.direct ? "" : ms(l.p50 - latency.direct.p50),
        num(l.lost),
      ]),
    ),
  );
  out.push("");
  const perNode = (/** @type {any} */ load, /** @type {number} */ node) =>
    `${num(load.cpuNanosByNode[node] / 1e3 / Math.max(1, load.delivered), 1)} µs`;
  out.push(
    table(
      ["load", "delivered msg/s", "node 0 CPU / msg", "node 1", "node 2", "all nodes", "database"],
      [
        ["direct: every room on node 0, both clients there", cpu.direct, cpu.dbDirectUs],
        ["hashed: room r on node r mod 3, both clients there (no pipe)", cpu.hashed, cpu.dbHashedUs],
        ["one hop: node 0 owns, the second client on node 1 (one pipe per message)", cpu.oneHop, cpu.dbPipedUs],
      ].map(([label, load, db]) => [
        label,
        num(load.deliveredPerSecond),
        perNode(load, 0),
        perNode(load, 1),
        perNode(load, 2),
        `${num(load.cpuNanosByNode.reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0) / 1e3 / Math.max(1, load.delivered), 1)} µs`,
        Number.isFinite(db) ? `${num(db, 1)} µs` : "–",
      ]),
    ),
  );
  out.push("");
  out.push(
    `A node with nothing to do (node 2 under "direct" and "one hop") used ${num(cpu.idleNodeUsPerSecond / 1000, 2)} ms ` +
      "of CPU per second: heartbeats and lease renewals.",
  );
  out.push("");
  out.push(
    `Idle connections (${num(memory.connections)}, ${num(memory.failures)} failed): the owner's memory grew ` +
      `${num(memory.ownerBytesPerDirect / 1024, 1)} KB per connection opened directly (each in its own room), then ` +
      `the relaying node's ${num(memory.relayBytesPerPiped / 1024, 1)} KB and the owner's ` +
      `${num(memory.ownerBytesPerPiped / 1024, 1)} KB per second connection to those rooms through node 1.`,
  );
  out.push("");

  // What N nodes carry, from these figures: see the analysis for the model and its limits.
  const owner = cpu.ownerDirectUs;
  const pipe = cpu.relayUs + Math.max(0, cpu.ownerPipedUs - cpu.ownerDirectUs);
  const perConnection = ownerBytes ?? memory.ownerBytesPerDirect;
  out.push("### What N nodes carry, computed from this run");
  out.push("");
  out.push(
    `Per delivered message (one sender, one receiver): the owner's ${num(owner, 1)} µs, plus ${num(pipe, 1)} µs per ` +
      "pipe crossed (relaying node, plus the owner's extra for a piped client). A load balancer hashing on the room " +
      "pipes (almost) nothing; round-robin on N nodes pipes a client with probability (N−1)/N, so a message " +
      "crosses 2(N−1)/N pipes on average (its sender's and its receiver's). Memory per idle connection: " +
      `${num(perConnection / 1024, 1)} KB on its room's owner (one PostgreSQL node, capacity scenario), plus ` +
      `${num(memory.relayBytesPerPiped / 1024, 1)} KB on the relaying node when piped. The database's CPU per ` +
      `message (${num(cpu.dbDirectUs, 1)} µs here) is paid once, whatever N: its cores bound the cluster.`,
  );
  out.push("");
  const rows = [];
  for (const nodes of [1, 2, 3, 4, 8]) {
    for (const balancer of nodes === 1 ? ["—"] : ["room hash", "round-robin"]) {
      const piped = balancer === "round-robin" ? (nodes - 1) / nodes : 0;
      const perMessage = owner + 2 * piped * pipe;
      const bytes = perConnection + piped * memory.relayBytesPerPiped;
      const rate = (1e6 / perMessage) * nodes;
      rows.push([
        num(nodes),
        balancer,
        `${num(perMessage, 1)} µs`,
        num(rate),
        Number.isFinite(cpu.dbDirectUs) ? num((rate * cpu.dbDirectUs) / 1e6, 2) : "–",
        num(MEMORY_BUDGET / bytes),
        num((MEMORY_BUDGET / bytes) * nodes),
      ]);
    }
  }
  out.push(
    table(
      [
        "nodes",
        "load balancer",
        "relay CPU / msg (cluster)",
        "msg/s at one busy core per node",
        "database cores busy at that rate",
        "idle connections per GiB per node",
        "… whole cluster",
      ],
      rows,
    ),
  );
  out.push("");
  return out;
}
