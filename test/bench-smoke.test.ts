import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The benchmark suite in a few seconds, so its code cannot rot: every target, every scenario, real servers.
// It asserts that each produced results, never what the timings are.

interface SmokeReport {
  targets: Array<{ id: string }>;
  scenarios: Record<string, { error?: string; results: Record<string, Record<string, unknown>> }>;
}

/** The sync servers, in every scenario. */
const TARGETS = ["y-websocket", "y-websocket+leveldb", "hocuspocus", "hocuspocus+sqlite", "parley"];
/** The floor (a bare WebSocket forward) takes part in latency, throughput and capacity only. */
const FLOOR = "ws-forward";
/** Parley with `fsync: "off"`, also in latency and throughput only. */
const VARIANT = "parley-fsync-off";
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
    expect(report.targets.map((target) => target.id)).toEqual([FLOOR, ...TARGETS, VARIANT]);

    const { latency, throughput, capacity, largeConversation, loginMerge } = report.scenarios;
    for (const id of [FLOOR, ...TARGETS, VARIANT]) {
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
      if (id === FLOOR) {
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

    const merge = loginMerge?.results.parley as { error?: string; first: { messages: number }; userMessages: number };
    expect(merge?.error).toBeUndefined();
    expect(merge.first.messages).toBeGreaterThan(merge.userMessages);
  });
});
