/**
 * Randomized, replayable schedules (what Yjs's test helper is to Yjs): a seed drives clients of several
 * users through network cuts, sends, logins (merge, repeat, switch), logouts with and without discarding,
 * client restarts and relay SIGKILLs; after settling, every message reported sent is on every client of
 * its owner exactly once, nothing shows in another user's thread, all clients of a user agree on the order,
 * a logout or switch left nothing of the user in the store's files, and a refused one lost nothing.
 *
 * A few seeds run here; `pnpm soak` runs thousands and `pnpm soak --seed N` replays one
 * (PARLEY_SCHEDULE_SEEDS, e.g. `7` or `100-199,250`, selects the seeds of this file).
 */
import { describe, expect, it } from "vitest";
import { runSchedule } from "./support/schedule/runner.js";
import { describeStep, makeSchedule } from "./support/schedule/schedule.js";

/** `PARLEY_SCHEDULE_SEEDS`: comma-separated seeds and ranges (`7`, `100-199`); default a few fixed seeds. */
function seeds(): number[] {
  const spec = process.env.PARLEY_SCHEDULE_SEEDS;
  if (spec === undefined || spec === "") return [1, 2, 3];
  return spec.split(",").flatMap((part) => {
    const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (range === null) return [Number(part)];
    const [from, to] = [Number(range[1]), Number(range[2])];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

describe("randomized schedules", () => {
  for (const seed of seeds()) {
    it(`seed ${seed} keeps every sent message, isolates users and wipes what logout leaves`, async () => {
      const schedule = makeSchedule(seed);
      const { problems, log } = await runSchedule(schedule);
      if (problems.length > 0 || process.env.PARLEY_SCHEDULE_VERBOSE === "1") {
        console.log(
          [
            `seed ${seed}: ${schedule.stores.join(", ")}`,
            ...schedule.steps.map((s) => describeStep(s, schedule.users)),
            "--- run:",
            ...log,
          ].join("\n"),
        );
      }
      expect(problems, `seed ${seed} (replay: pnpm soak --seed ${seed})`).toEqual([]);
    }, 120_000);
  }
});
