#!/usr/bin/env node
// Parley against the stock y-websocket server and Hocuspocus, in one run on one machine (issue 7).
//
//   node bench/run.mjs            the whole suite (under 10 minutes); writes bench/results/*.json and docs/benchmarks.md
//   node bench/run.mjs --smoke    a few seconds of each scenario, to keep the code from rotting (no docs)
//   options: --out <dir> (results directory), --only <scenario,...>, --targets <id,...> (a part of the suite,
//            for development: results only, docs untouched), --profile (Parley runs with --cpu-prof; profiles
//            land in <out>/profiles), --render <results.json> (only rewrite docs/benchmarks.md from a saved run)
//
// Targets that need a server besides Node.js (PostgreSQL, Redis) are checked first. Named in --targets, one that
// cannot run ends the run with instructions; otherwise it is left out with a line saying why (and the report says
// so), so that `pnpm bench` works on a machine with Node.js alone.
//
// Each server is its own child process (its CPU and memory are read from /proc); this process is the load
// generator. All traffic goes to 127.0.0.1; every loop is bounded in count and time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { reconnects } from "./clients.mjs";
import { renderReport } from "./report.mjs";
import { capacity } from "./scenarios/capacity.mjs";
import { clusterPath } from "./scenarios/cluster-path.mjs";
import { largeConversation } from "./scenarios/large-conversation.mjs";
import { latency } from "./scenarios/latency.mjs";
import { loginMerge } from "./scenarios/login-merge.mjs";
import { throughput } from "./scenarios/throughput.mjs";
import { TARGETS, versions } from "./targets.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {typeof FULL} Size
 * @typedef {import("./targets.mjs").RunningTarget & {
 *   target: import("./targets.mjs").Target, restart: () => Promise<void>, stop: () => Promise<void> }} StartedTarget
 * @typedef {{ targets: import("./targets.mjs").Target[], startTarget: (target: import("./targets.mjs").Target) =>
 *   Promise<StartedTarget>, size: Size, log: (line: string) => void }} Context
 */

const FULL = {
  latencyWarmup: 500,
  latencySamples: 2_000,
  latencyRounds: 10,
  latencyIdle: 1_000,
  throughputRooms: 200,
  throughputWindow: 4,
  throughputMs: 10_000,
  throughputRounds: 2,
  capacitySteps: [1_000, 5_000],
  capacityTimeoutMs: 90_000,
  largeMessages: 100_000,
  largeRounds: 3,
  largeTimeoutMs: 60_000,
  appendBlocks: 4,
  appendsPerBlock: 100,
  mergeAnonymousMessages: 10_000,
  mergeUserMessages: 100_000,
  pathSamples: 2_000,
  pathRounds: 10,
  pathRooms: 100,
  pathLoadMs: 10_000,
  pathLoadRounds: 2,
  pathIdle: 1_000,
  /** Scales how long a server must stay idle to count as done with its stores. */
  quietScale: 1,
};

/** @type {Size} */
const SMOKE = {
  latencyWarmup: 10,
  latencySamples: 40,
  latencyRounds: 2,
  latencyIdle: 10,
  throughputRooms: 4,
  throughputWindow: 2,
  throughputMs: 500,
  throughputRounds: 1,
  capacitySteps: [10, 30],
  capacityTimeoutMs: 20_000,
  largeMessages: 2_000,
  largeRounds: 1,
  largeTimeoutMs: 20_000,
  appendBlocks: 2,
  appendsPerBlock: 5,
  mergeAnonymousMessages: 200,
  mergeUserMessages: 1_000,
  pathSamples: 40,
  pathRounds: 2,
  pathRooms: 4,
  pathLoadMs: 500,
  pathLoadRounds: 1,
  pathIdle: 10,
  quietScale: 0.1,
};

const SCENARIOS = {
  latency,
  throughput,
  capacity,
  largeConversation,
  loginMerge,
  clusterPath,
};

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    out: { type: "string", default: join(here, "results") },
    only: { type: "string" },
    targets: { type: "string" },
    profile: { type: "boolean", default: false },
    render: { type: "string" },
  },
});

if (values.render !== undefined) {
  // Re-renders docs/benchmarks.md from a saved run (e.g. bench/results/latest.json) without running anything.
  const docsPath = join(here, "../docs/benchmarks.md");
  writeFileSync(docsPath, renderReport(JSON.parse(readFileSync(values.render, "utf8")), docsPath));
  process.exit(0);
}

const size = values.smoke ? SMOKE : FULL;
const only = values.only?.split(",");
const chosen = values.targets?.split(",");
const unknown = chosen?.filter((id) => !TARGETS.some((target) => target.id === id)) ?? [];
if (unknown.length > 0) {
  console.error(`Unknown target(s) ${unknown.join(", ")}; the targets are ${TARGETS.map((t) => t.id).join(", ")}.`);
  process.exit(2);
}
const unknownScenarios = only?.filter((name) => !(name in SCENARIOS)) ?? [];
if (unknownScenarios.length > 0) {
  console.error(
    `Unknown scenario(s) ${unknownScenarios.join(", ")}; the scenarios are ${Object.keys(SCENARIOS).join(", ")}.`,
  );
  process.exit(2);
}
/** Targets this machine cannot run (a server they need is not reachable), with the reason. */
const leftOut = [];
/** @type {import("./targets.mjs").Target[]} */
const targets = [];
for (const target of TARGETS) {
  if (chosen !== undefined && !chosen.includes(target.id)) continue;
  const takesPart = only === undefined || only.some((name) => target.only === undefined || target.only.includes(name));
  const reason = takesPart ? await target.unavailable?.() : null;
  if (reason === null || reason === undefined) {
    targets.push(target);
  } else if (chosen !== undefined) {
    console.error(`Target ${target.id} cannot run: ${reason}`);
    process.exit(1);
  } else {
    leftOut.push({ id: target.id, name: target.name, reason });
    console.log(`Left out ${target.id} (run it with --targets ${target.id} once this is fixed): ${reason}`);
  }
}
const outDir = values.out;
mkdirSync(outDir, { recursive: true });
const profileDir = values.profile ? join(outDir, "profiles") : undefined;
const runStarted = Date.now();

/** @param {string} line */
function log(line) {
  const seconds = ((Date.now() - runStarted) / 1000).toFixed(1).padStart(6);
  console.log(`[${seconds} s] ${line}`);
}

/** Targets started and not stopped yet: a scenario that failed half-way leaves no server, schema or keys behind. */
const live = new Set();

/**
 * Starts a target in a fresh working directory; `restart` brings it back on the same data.
 * @param {import("./targets.mjs").Target} target
 * @returns {Promise<StartedTarget>}
 */
async function startTarget(target) {
  const workDir = mkdtempSync(join(tmpdir(), `parley-bench-${target.id.replace(/\W/g, "-")}-`));
  const options = profileDir === undefined ? {} : { profileDir };
  /** @type {StartedTarget} */
  const started = {
    ...(await target.start(workDir, options)),
    target,
    async restart() {
      await started.server.stop();
      Object.assign(started, await target.start(workDir, options));
    },
    async stop() {
      live.delete(started);
      await started.server.stop();
      await started.dispose?.();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  live.add(started);
  return started;
}

/** @type {Record<string, unknown>} */
const scenarios = {};
for (const [name, scenario] of Object.entries(SCENARIOS)) {
  if (only !== undefined && !only.includes(name)) continue;
  log(`${name}…`);
  const started = Date.now();
  try {
    const taking = targets.filter((target) => target.only === undefined || target.only.includes(name));
    scenarios[name] = { seconds: 0, results: await scenario({ targets: taking, startTarget, size, log }) };
  } catch (error) {
    log(`${name} failed: ${error instanceof Error ? error.stack : String(error)}`);
    scenarios[name] = { seconds: 0, error: String(error), results: {} };
  }
  for (const started of [...live]) {
    await started.stop().catch((/** @type {unknown} */ error) => log(`stopping ${started.target.id}: ${error}`));
  }
  /** @type {{ seconds: number }} */ (scenarios[name]).seconds = (Date.now() - started) / 1000;
}

const cpuList = cpus();
const report = {
  smoke: values.smoke,
  startedAt: new Date(runStarted).toISOString(),
  seconds: (Date.now() - runStarted) / 1000,
  machine: {
    cpu: cpuList[0]?.model ?? "unknown",
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
  },
  versions: versions(),
  size,
  targets: targets.map((target) => ({
    id: target.id,
    name: target.name,
    persistence: target.persistence,
    durable: target.durable,
    only: target.only ?? null,
    floor: target.floor ?? false,
  })),
  leftOut,
  reconnects,
  scenarios,
};
const json = JSON.stringify(report, null, 2);
const stamp = report.startedAt.replace(/[:.]/g, "-");
writeFileSync(join(outDir, `${values.smoke ? "smoke" : "run"}-${stamp}.json`), json);
writeFileSync(join(outDir, values.smoke ? "smoke-latest.json" : "latest.json"), json);
if (!values.smoke && only === undefined && chosen === undefined) {
  const docsPath = join(here, "../docs/benchmarks.md");
  writeFileSync(docsPath, renderReport(report, docsPath));
  log("wrote docs/benchmarks.md");
}
log(`done in ${report.seconds.toFixed(0)} s`);
process.exit(0);
