/**
 * A token bucket: `capacity` tokens, refilled at `perSecond`, starting full. A request for more tokens than
 * are left is refused and takes nothing, so a refused sender is not charged twice.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /** `now` returns milliseconds from a monotonic clock (injected in unit tests). */
  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes `count` tokens if there are that many; returns whether it did. */
  take(count = 1): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (count > this.tokens) return false;
    this.tokens -= count;
    return true;
  }
}
