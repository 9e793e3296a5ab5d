import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderReport } from "../bench/report.mjs";

// The benchmark suite in a few seconds, so its code cannot rot: every target, every scenario, real servers
// (PostgreSQL and Redis too, as the other integration tests). It asserts that each produced results and that the
// report renders them, never what the timings are.

interface SmokeReport {
  targets: Array<{ id: string }>;
  leftOut: Array<{ id: string; reason: string }>;
  scenarios: Record<string, { error?: string; results: Record<string, Record<string, unknown>> }>;
}

/** The sync servers, in every scenario. */
const TARGETS = ["y-websocket", "y-websocket+leveldb", "hocuspocus", "hocuspocus+sqlite", "parley"];
/** The floor (a bare WebSocket forward) takes part in latency, throughput and capacity only. */
const FLOOR = "ws-forward";
/** Parley with `fsync: "off"`, also in latency and throughput only. */
const VARIANT = "parley-fsync-off";
/**
 * Parley on PostgreSQL, one node and three (PostgreSQL + Redis): latency, throughput and capacity; the cluster
 * also in the cluster-path scenario. Without those servers the run leaves them out and says why (which fails here).
 */
const POSTGRES = ["parley-postgres", "parley-cluster-3"];
const outDir = mkdtempSync(join(tmpdir(), "parley-bench-smoke-"));

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function runSmoke(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bench/run.mjs", "--smoke", "--out", outDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 170_000);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
  });
}

describe("benchmark smoke run", () => {
  it("produces results for every target in every scenario", { timeout: 180_000 }, async () => {
    const { code, output } = await runSmoke();
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(outDir, "smoke-latest.json"), "utf8")) as SmokeReport;
    expect(report.leftOut).toEqual([]);
    expect(report.targets.map((target) => target.id)).toEqual([FLOOR, ...TARGETS, VARIANT, ...POSTGRES]);

    const { latency, throughput, capacity, largeConversation, loginMerge, clusterPath } = report.scenarios;
    for (const id of [FLOOR, ...TARGETS, VARIANT, ...POSTGRES]) {
      const lat = latency?.results[id] as {
        quiet: { count: number };
        withIdle: { count: number; idleFailures: number };
      };
      expect(lat, `latency ${id}`).toBeDefined();
      expect(lat.quiet.count, `latency ${id}`).toBeGreaterThan(0);
      expect(lat.withIdle.count, `latency ${id}`).toBeGreaterThan(0);
      expect(lat.withIdle.idleFailures, `latency ${id}`).toBe(0);

      const thr = throughput?.results[id] as { error?: string; delivered: number; closedEarly: number };
      expect(thr?.error, `throughput ${id}`).toBeUndefined();
      expect(thr.delivered, `throughput ${id}`).toBeGreaterThan(0);
      expect(thr.closedEarly, `throughput ${id}`).toBe(0);
      if (id === VARIANT) {
        expect(capacity?.results[id]).toBeUndefined();
        expect(largeConversation?.results[id]).toBeUndefined();
        continue;
      }

      const cap = capacity?.results[id] as { error?: string; steps: Array<{ opened: number; connections: number }> };
      expect(cap?.error, `capacity ${id}`).toBeUndefined();
      for (const step of cap.steps) expect(step.opened, `capacity ${id}`).toBe(step.connections);
      if (id === FLOOR || POSTGRES.includes(id)) {
        expect(largeConversation?.results[id]).toBeUndefined();
        continue;
      }

      const large = largeConversation?.results[id] as {
        error?: string;
        warm: Array<{ error?: string; syncedMs: number }>;
        append: { error?: string; long: { lost: number }; short: { lost: number } };
        cold?: { error?: string };
      };
      expect(large?.error, `large ${id}`).toBeUndefined();
      expect(large.warm.length, `large ${id}`).toBeGreaterThan(0);
      for (const sync of large.warm) expect(sync.error, `large ${id}`).toBeUndefined();
      expect(large.append.error, `large ${id}`).toBeUndefined();
      expect(large.append.long.lost + large.append.short.lost, `large ${id}`).toBe(0);
      if (large.cold !== undefined) expect(large.cold.error, `large cold ${id}`).toBeUndefined();
    }

    const path = clusterPath?.results["parley-cluster-3"] as {
      error?: string;
      latency: Record<"direct" | "oneHop" | "twoHops", { count: number; lost: number }>;
      cpu: { direct: { delivered: number }; oneHop: { delivered: number } };
      memory: { failures: number };
      ownership: { planned: number; asPlanned: number };
    };
    expect(path?.error).toBeUndefined();
    for (const placement of ["direct", "oneHop", "twoHops"] as const) {
      expect(path.latency[placement].count, placement).toBeGreaterThan(0);
      expect(path.latency[placement].lost, placement).toBe(0);
    }
    expect(path.cpu.direct.delivered).toBeGreaterThan(0);
    expect(path.cpu.oneHop.delivered).toBeGreaterThan(0);
    expect(path.memory.failures).toBe(0);
    // The figures per node mean what they say only if node 0 served the rooms, as the scenario planned.
    expect(path.ownership.asPlanned).toBe(path.ownership.planned);
    expect(Object.keys(clusterPath?.results ?? {})).toEqual(["parley-cluster-3"]);

    const merge = loginMerge?.results.parley as { error?: string; first: { messages: number }; userMessages: number };
    expect(merge?.error).toBeUndefined();
    expect(merge.first.messages).toBeGreaterThan(merge.userMessages);

    const markdown = renderReport(report);
    expect(markdown).toContain("## PostgreSQL and three nodes (issue 15)");
    expect(markdown).toContain("### The pipe to a room's owner, node by node");
    expect(markdown).toContain("### What N nodes carry, computed from this run");
  });
});
