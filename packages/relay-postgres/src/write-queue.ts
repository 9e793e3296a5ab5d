/**
 * Group commit: every write of one storage instance goes through this queue, in call order, one statement
 * in flight at a time. Appends issued in the same tick (or while the previous statement was in flight) go
 * to PostgreSQL as one statement — one round trip and one commit for many rooms. Compactions and removes
 * are barriers: they run alone, after every write called before them and before every write called after.
 *
 * One statement at a time is what keeps "when an append resolves, every earlier append to that room is
 * durable": statements on one queue never commit out of order, and a failed batch fails only its own writes.
 * A batch stops at {@link MAX_BATCH_APPENDS} appends or {@link MAX_BATCH_BYTES} bytes (always at least one
 * append), so a burst of large updates is several statements rather than one of unbounded size.
 */

import type { NewWebhookDelivery } from "@parley/relay";

/** Most appends in one statement. */
export const MAX_BATCH_APPENDS = 1000;
/** Most update bytes in one statement (one update larger than this still goes, alone). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** An append waiting for its batch. */
export interface QueuedAppend {
  name: string;
  fence: number;
  update: Uint8Array;
  /** Webhook deliveries stored in the same transaction, if the append is (webhook-outbox.ts). */
  deliveries?: readonly NewWebhookDelivery[];
}

/** What a batch did with each append, by index: `undefined` = stored, an error = refused or failed. */
export type BatchOutcome = ReadonlyArray<Error | undefined>;

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Entry =
  | { kind: "append"; append: QueuedAppend; pending: Pending<void> }
  | { kind: "barrier"; run(): Promise<void>; pending: Pending<void> };

/** Counters for operators and the group-commit measurement. */
export interface WriteQueueStats {
  /** Appends committed or refused. */
  appends: number;
  /** Append statements sent (round trips). `appends / appendBatches` is the group-commit factor. */
  appendBatches: number;
}

export class WriteQueue {
  private entries: Entry[] = [];
  private running = false;
  private scheduled = false;
  private idle: Array<() => void> = [];
  readonly stats: WriteQueueStats = { appends: 0, appendBatches: 0 };

  constructor(private readonly commitAppends: (batch: QueuedAppend[]) => Promise<BatchOutcome>) {}

  /** Queues an append; resolves once its batch committed, rejects with the batch's error or a refusal. */
  append(append: QueuedAppend): Promise<void> {
    return new Promise((resolve, reject) => {
      this.entries.push({ kind: "append", append, pending: { resolve, reject } });
      this.schedule();
    });
  }

  /** Queues `run` to go alone, after every write queued before it. */
  barrier(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.entries.push({ kind: "barrier", run, pending: { resolve, reject } });
      this.schedule();
    });
  }

  /** Resolves once every queued write has settled. */
  drained(): Promise<void> {
    if (!this.running && this.entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every append issued in this tick of the event loop joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.entries.length > 0) {
      const first = this.entries[0]!;
      if (first.kind === "barrier") {
        this.entries.shift();
        await first.run().then(first.pending.resolve, first.pending.reject);
        continue;
      }
      await this.runBatch(this.takeBatch());
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** The appends at the head of the queue, up to the first barrier or the batch limits. */
  private takeBatch(): Array<Extract<Entry, { kind: "append" }>> {
    let count = 0;
    let bytes = 0;
    for (const entry of this.entries) {
      if (entry.kind !== "append" || count === MAX_BATCH_APPENDS) break;
      if (count > 0 && bytes + entry.append.update.byteLength > MAX_BATCH_BYTES) break;
      count += 1;
      bytes += entry.append.update.byteLength;
    }
    return this.entries.splice(0, count) as Array<Extract<Entry, { kind: "append" }>>;
  }

  private async runBatch(batch: Array<Extract<Entry, { kind: "append" }>>): Promise<void> {
    this.stats.appendBatches += 1;
    this.stats.appends += batch.length;
    let outcome: BatchOutcome;
    try {
      outcome = await this.commitAppends(batch.map((entry) => entry.append));
    } catch (error) {
      for (const entry of batch) entry.pending.reject(error);
      return;
    }
    for (const [i, entry] of batch.entries()) {
      const error = outcome[i];
      if (error) entry.pending.reject(error);
      else entry.pending.resolve();
    }
  }
}
