/**
 * Admission counters: the seam through which the relay counts, per address and per user, the connections
 * it holds open and how often they are opened. A single relay counts in its own memory ({@link LocalAdmission},
 * the default); the nodes of a cluster count together in Redis (`@parley/relay-cluster`), so that a limit is
 * one limit for the whole cluster instead of one per node.
 *
 * Contract:
 * - {@link AdmissionBackend.takeSlot} holds one of at most `limit` open-connection slots of a key. The
 *   function it resolves with gives the slot back; the relay calls it once, when the socket closes (calling
 *   it again does nothing). It never throws.
 * - {@link AdmissionBackend.takeEvent} takes one event of a key's token bucket (`capacity` at once, refilled
 *   at `perSecond`); a refused event takes nothing. {@link AdmissionBackend.takeFirst} does the same for a
 *   (key, member) pair counted once per `windowMs`: a member already counted within the window passes
 *   without taking an event (an anonymous visitor coming back is not a new identity).
 * - No method rejects: a shared backend that cannot reach its store counts in this node's memory meanwhile
 *   (the per-node limits of a single relay) and says so in the log once. Counting may get looser while the
 *   store is away or after it lost its data, never stricter than the limit, so it never locks users out.
 * - Slots of a node that died are given back by the backend itself after a bounded time (the holder's
 *   heartbeat): the relay has no one left to call the release.
 */
import { KeyedRate } from "./keyed-rate.js";

/** Which open-connection quota a slot counts against (`limits.connectionsPerIp`, `limits.connectionsPerUser`). */
export type SlotKind = "per-address" | "per-user";
/** Which rate an event counts against (`limits.connectsPerMinutePerIp`, `limits.newAnonymousPerHourPerIp`). */
export type RateKind = "connect" | "anonymous";

/** A token bucket: `capacity` events at once, refilled at `perSecond`. */
export interface Rate {
  capacity: number;
  perSecond: number;
}

/** Counts open connections and connection rates; see the contract at the top of this file. */
export interface AdmissionBackend {
  /** Takes a slot of `key` if fewer than `limit` are held: resolves with its release, or `null` if full. */
  takeSlot(kind: SlotKind, key: string, limit: number): Promise<(() => void) | null>;
  /** Takes one event of `key` at `rate`; resolves with whether it was within the rate. */
  takeEvent(kind: RateKind, key: string, rate: Rate): Promise<boolean>;
  /**
   * `true` if `member` was counted for `key` within `windowMs`; otherwise takes one event of `key` at `rate`
   * and, if within it, counts `member` (then `true`); `false` over the rate.
   */
  takeFirst(kind: RateKind, key: string, member: string, rate: Rate, windowMs: number): Promise<boolean>;
}

/**
 * Members remembered as counted, per backend (about 100 bytes each). Forgetting one early is safe: it is
 * counted again, which is stricter.
 */
const MAX_COUNTED = 100_000;

/** The in-memory backend: counts for this process only (the default, and a cluster node's fallback). */
export class LocalAdmission implements AdmissionBackend {
  private readonly open = new Map<string, number>();
  private readonly rates = new Map<RateKind, KeyedRate>();
  /** `kind \n key \n member` → when it was counted, oldest first; at most {@link MAX_COUNTED} entries. */
  private readonly counted = new Map<string, number>();

  /** `now` returns milliseconds from a monotonic clock (injected in unit tests). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  async takeSlot(kind: SlotKind, key: string, limit: number): Promise<(() => void) | null> {
    return this.takeSlotNow(kind, key, limit);
  }

  /** {@link LocalAdmission.takeSlot}, synchronously. */
  takeSlotNow(kind: SlotKind, key: string, limit: number): (() => void) | null {
    const slot = `${kind}\n${key}`;
    const count = this.open.get(slot) ?? 0;
    if (count >= limit) return null;
    this.open.set(slot, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(slot) ?? 1) - 1;
      if (left <= 0) this.open.delete(slot);
      else this.open.set(slot, left);
    };
  }

  /** Slots held per `kind \n key` (a cluster backend copies them to its store after an outage). */
  held(): ReadonlyMap<string, number> {
    return this.open;
  }

  async takeEvent(kind: RateKind, key: string, rate: Rate): Promise<boolean> {
    return this.takeEventNow(kind, key, rate);
  }

  /** {@link LocalAdmission.takeEvent}, synchronously. */
  takeEventNow(kind: RateKind, key: string, rate: Rate): boolean {
    let keyed = this.rates.get(kind);
    if (keyed === undefined) {
      // One rate per kind: the relay's limits, fixed for the life of the relay.
      keyed = new KeyedRate(rate.capacity, rate.perSecond, this.now);
      this.rates.set(kind, keyed);
    }
    return keyed.take(key);
  }

  async takeFirst(kind: RateKind, key: string, member: string, rate: Rate, windowMs: number): Promise<boolean> {
    return this.takeFirstNow(kind, key, member, rate, windowMs);
  }

  /** {@link LocalAdmission.takeFirst}, synchronously. */
  takeFirstNow(kind: RateKind, key: string, member: string, rate: Rate, windowMs: number): boolean {
    const now = this.now();
    const id = `${kind}\n${key}\n${member}`;
    const at = this.counted.get(id);
    if (at !== undefined && now - at < windowMs) return true;
    if (!this.takeEventNow(kind, key, rate)) return false;
    this.counted.delete(id);
    this.counted.set(id, now);
    // Oldest first: forget what is past its window, and the oldest beyond the cap (then counted again).
    for (const [old, when] of this.counted) {
      if (now - when < windowMs && this.counted.size <= MAX_COUNTED) break;
      this.counted.delete(old);
    }
    return true;
  }
}
