/**
 * Token buckets per key (an address, a room): how often something may happen per key. Buckets that have
 * refilled are forgotten, so the map holds only keys that were active within one refill period.
 */
import { TokenBucket } from "./token-bucket.js";

/** At most `capacity` events at once per key, refilled at `perSecond`. */
export class KeyedRate {
  private readonly buckets = new Map<string, { bucket: TokenBucket; last: number }>();
  private lastSweep: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastSweep = now();
  }

  /** Takes one event for `key`; returns whether it was within the rate. */
  take(key: string): boolean {
    const now = this.now();
    this.sweep(now);
    let entry = this.buckets.get(key);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(this.capacity, this.perSecond, this.now), last: now };
      this.buckets.set(key, entry);
    }
    entry.last = now;
    return entry.bucket.take();
  }

  /** Number of keys remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Forgets buckets idle long enough to be full again; at most once per refill period, linear in keys. */
  private sweep(now: number): void {
    const refillMs = (this.capacity / this.perSecond) * 1000;
    if (now - this.lastSweep < refillMs) return;
    this.lastSweep = now;
    for (const [key, entry] of this.buckets) if (now - entry.last >= refillMs) this.buckets.delete(key);
  }
}
