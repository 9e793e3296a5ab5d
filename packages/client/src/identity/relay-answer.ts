/**
 * Waiting for the relay's answer to a login or a token renewal on the current conversation: the first
 * synced connection (accepted), a permanent close (refused), or nothing within `loginTimeoutMs`.
 */
import type { ParleyError } from "@parley/protocol";

/** What the relay answered. */
export type RelayOutcome = { kind: "synced" } | { kind: "refused"; error: ParleyError } | { kind: "timeout" };

export class RelayAnswer {
  private waiter: ((outcome: RelayOutcome) => void) | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Whether someone waits for the answer (a refusal is then theirs to handle). */
  get awaited(): boolean {
    return this.waiter !== undefined;
  }

  /** Waits for the answer; `alreadySynced` settles it at once (the connection synced before the wait). */
  wait(alreadySynced: boolean): Promise<RelayOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.waiter === finish) this.waiter = undefined;
        resolve({ kind: "timeout" });
      }, this.timeoutMs);
      const finish = (outcome: RelayOutcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.waiter = finish;
      if (alreadySynced) this.settle({ kind: "synced" });
    });
  }

  /** Hands `outcome` to the waiter, if any; returns whether there was one. */
  settle(outcome: RelayOutcome): boolean {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(outcome);
    return waiter !== undefined;
  }
}
