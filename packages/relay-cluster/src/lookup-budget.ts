/**
 * How many room look-ups (Redis, then PostgreSQL) a client address may cause on a routing node: routing runs
 * before admission, so without a budget anyone could make a node query PostgreSQL once per upgrade. The
 * budget is the relay's own connection rate per address (`limits.connectsPerMinutePerIp`); past it the node
 * routes nothing for that address and answers it itself, where admission refuses it over the same rate (4529).
 */

/** Addresses remembered at most (about 100 bytes each); forgetting one early refills it, which only lets more through. */
const MAX_ADDRESSES = 100_000;

/** A token bucket per address: `perMinute` at once, refilled at `perMinute` a minute. */
export class LookupBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one look-up for `address`; `false` over the budget. */
  take(address: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(address) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60_000);
    bucket.at = now;
    // Re-inserted so the map stays in order of last use: the first key is the one to forget.
    this.buckets.delete(address);
    this.buckets.set(address, bucket);
    if (this.buckets.size > MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
