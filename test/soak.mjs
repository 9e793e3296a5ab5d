#!/usr/bin/env node
/**
 * `pnpm soak`: runs many randomized schedules (test/randomized-schedules.test.ts) against real relays,
 * printing every seed and its outcome, and the seeds that failed at the end.
 *
 *   pnpm soak                      seeds 1..1000
 *   pnpm soak --from 5000 --count 2000
 *   pnpm soak --seed 1234          replays one seed and prints its steps and what happened
 *
 * Seeds run in chunks of `--chunk` (default 50) per vitest process, two schedules at a time at most.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    from: { type: "string", default: "1" },
    count: { type: "string", default: "1000" },
    chunk: { type: "string", default: "50" },
  },
});

function runSeeds(spec, verbose) {
  const result = spawnSync(
    "npx",
    ["vitest", "run", "test/randomized-schedules.test.ts", "--reporter=verbose", "--maxWorkers=1"],
    {
      env: { ...process.env, PARLEY_SCHEDULE_SEEDS: spec, PARLEY_SCHEDULE_VERBOSE: verbose ? "1" : "0" },
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal colours vitest may add
  const output = `${result.stdout}${result.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
  const failed = [...output.matchAll(/×.*? > seed (\d+) /g)].map((m) => Number(m[1]));
  const passed = [...output.matchAll(/✓.*? > seed (\d+) /g)].map((m) => Number(m[1]));
  return { output, failed: [...new Set(failed)], passed: [...new Set(passed)], status: result.status };
}

if (values.seed !== undefined) {
  const { output, status } = runSeeds(values.seed, true);
  process.stdout.write(output);
  process.exit(status ?? 1);
}

const from = Number(values.from);
const count = Number(values.count);
const chunk = Number(values.chunk);
const failures = [];
for (let start = from; start < from + count; start += chunk) {
  const end = Math.min(from + count, start + chunk) - 1;
  const { output, failed, passed } = runSeeds(`${start}-${end}`, false);
  for (let seed = start; seed <= end; seed++) {
    const outcome = failed.includes(seed) ? "FAIL" : passed.includes(seed) ? "ok" : "not run";
    console.log(`seed ${seed} ${outcome}`);
    if (outcome !== "ok") failures.push(seed);
  }
  if (failed.length > 0 || passed.length !== end - start + 1) process.stdout.write(output);
}
console.log(`${count - failures.length}/${count} schedules passed`);
if (failures.length > 0) {
  console.log(`failed seeds: ${failures.join(", ")} (replay one: pnpm soak --seed N)`);
  process.exit(1);
}
