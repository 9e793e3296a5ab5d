/**
 * Randomized schedules: a seed picks a sequence of steps (sends, network cuts, logins, logouts, client
 * and relay restarts) for a few clients of a few users. The sequence depends on the seed only — never on
 * what happened while running it — so a failing seed replays the same steps (timing may differ; the
 * invariants must hold whatever the timing).
 */
import * as prng from "lib0/prng";

/** One step of a schedule. `client` is a slot index; `user` an index into the schedule's users. */
export type Step =
  | { kind: "send"; client: number }
  | { kind: "wait"; ms: number }
  | { kind: "cut"; client: number }
  | { kind: "heal"; client: number }
  | { kind: "login"; client: number; user: number; discardUnsent: boolean }
  | { kind: "logout"; client: number; discardUnsent: boolean }
  | { kind: "restart-client"; client: number }
  | { kind: "kill-relay"; downMs: number };

/** A schedule: who takes part and what happens. */
export interface Schedule {
  seed: number;
  /** Per slot: the kind of store the client keeps (a directory on disk, or an in-memory store object). */
  stores: Array<"directory" | "memory">;
  /** The userIds of this schedule (unique per seed). */
  users: string[];
  steps: Step[];
}

const WEIGHTS: Array<[Step["kind"], number]> = [
  ["send", 30],
  ["wait", 12],
  ["cut", 9],
  ["heal", 9],
  ["login", 14],
  ["logout", 9],
  ["restart-client", 6],
  ["kill-relay", 3],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);

/** Builds the schedule of `seed`: `clients` slots, `users` users, `length` steps. */
export function makeSchedule(
  seed: number,
  options: { clients?: number; users?: number; length?: number } = {},
): Schedule {
  const gen = prng.create(seed);
  const clients = options.clients ?? 4;
  const userCount = options.users ?? 2;
  const length = options.length ?? 40;
  const stores = Array.from({ length: clients }, (_, i): "directory" | "memory" =>
    i === clients - 1 ? "memory" : "directory",
  );
  const users = Array.from({ length: userCount }, (_, i) => `sched-${seed}-u${i}`);
  const steps: Step[] = [];
  for (let n = 0; n < length; n++) {
    let pick = prng.int32(gen, 0, TOTAL_WEIGHT - 1);
    let kind: Step["kind"] = "send";
    for (const [candidate, weight] of WEIGHTS) {
      if (pick < weight) {
        kind = candidate;
        break;
      }
      pick -= weight;
    }
    const client = prng.int32(gen, 0, clients - 1);
    switch (kind) {
      case "send":
      case "cut":
      case "heal":
      case "restart-client":
        steps.push({ kind, client });
        break;
      case "wait":
        steps.push({ kind, ms: prng.int32(gen, 0, 150) });
        break;
      case "login":
        steps.push({ kind, client, user: prng.int32(gen, 0, userCount - 1), discardUnsent: prng.bool(gen) });
        break;
      case "logout":
        steps.push({ kind, client, discardUnsent: prng.bool(gen) });
        break;
      case "kill-relay":
        steps.push({ kind, downMs: prng.int32(gen, 0, 300) });
        break;
    }
  }
  return { seed, stores, users, steps };
}

/** One line per step, for a failure report. */
export function describeStep(step: Step, users: string[]): string {
  switch (step.kind) {
    case "send":
    case "cut":
    case "heal":
    case "restart-client":
      return `${step.kind} c${step.client}`;
    case "wait":
      return `wait ${step.ms}ms`;
    case "login":
      return `login c${step.client} as ${users[step.user]}${step.discardUnsent ? " (discardUnsent)" : ""}`;
    case "logout":
      return `logout c${step.client}${step.discardUnsent ? " (discardUnsent)" : ""}`;
    case "kill-relay":
      return `SIGKILL relay, restart after ${step.downMs}ms`;
  }
}
