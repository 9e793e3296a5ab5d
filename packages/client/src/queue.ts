/**
 * The client's operation queue: identity changes (start, login, switch, logout, following another tab,
 * garbage collection) run one at a time, in call order, and writes are ordered with them — a message sent
 * after `logout()` was called goes to the identity that results. The one exception: while a login only
 * waits for the relay's answer (its merged conversation is already in place), writes go straight through.
 */
import { ClientDestroyedError } from "@parley/protocol";

export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private bypassing = 0;

  /** `isDestroyed` is checked before every task: a destroyed client runs nothing more. */
  constructor(private readonly isDestroyed: () => boolean) {}

  /** Runs `task` after every task enqueued before it (whether they succeeded or not). */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const guarded = async () => {
      if (this.isDestroyed()) throw new ClientDestroyedError();
      return task();
    };
    const run = this.tail.then(guarded, guarded);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Whether writes may skip the queue now (see {@link OperationQueue.letWritesThrough}). */
  get writesThrough(): boolean {
    return this.bypassing > 0;
  }

  /** Lets writes skip the queue while `waiting` runs (a task of the queue that only waits). */
  async letWritesThrough<T>(waiting: () => Promise<T>): Promise<T> {
    this.bypassing += 1;
    try {
      return await waiting();
    } finally {
      this.bypassing -= 1;
    }
  }
}
