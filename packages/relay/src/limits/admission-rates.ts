/**
 * How often connections may be opened: per address and per room (each a token bucket, 4529 beyond it), and
 * how many new anonymous identities one address may create. Checked in the order of their cost to the
 * relay: the address before the token is verified, the room before it is loaded, a new anonymous identity
 * before anything of it is stored.
 *
 * An anonymous room nobody wrote to stores nothing (not even its client's record, see core/join-records.ts), so
 * it still "holds nothing" when its visitor comes back on the next page: each (address, anonymous id) is
 * counted once per hour, or every page view of a visitor who never writes would count as a new identity.
 */
import { CloseCode } from "@parley/protocol";
import { Refusal } from "../core/refusal.js";
import { KeyedRate } from "./keyed-rate.js";
import type { Limits } from "./limits.js";

/** How long an anonymous identity counted for an address is not counted again. */
const COUNTED_MS = 3_600_000;
/**
 * Identities remembered as counted, relay-wide (about 100 bytes each). Forgetting one early is safe: it is
 * counted again, which is stricter.
 */
const MAX_COUNTED = 100_000;

/** The connection-rate limits of one relay. */
export class AdmissionRates {
  private readonly perAddress: KeyedRate;
  private readonly perRoom: KeyedRate;
  private readonly anonymousPerAddress: KeyedRate;
  /** `address \n anonymousId` → when it was counted, oldest first; at most {@link MAX_COUNTED} entries. */
  private readonly counted = new Map<string, number>();

  constructor(
    limits: Limits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.perAddress = new KeyedRate(limits.connectsPerMinutePerIp, limits.connectsPerMinutePerIp / 60, this.now);
    this.perRoom = new KeyedRate(limits.connectsPerMinutePerRoom, limits.connectsPerMinutePerRoom / 60, this.now);
    this.anonymousPerAddress = new KeyedRate(
      limits.newAnonymousPerHourPerIp,
      limits.newAnonymousPerHourPerIp / 3600,
      this.now,
    );
  }

  /** A new connection from `address`; throws a {@link Refusal} (4529) over the rate. */
  connectFrom(address: string): void {
    if (!this.perAddress.take(address)) {
      throw new Refusal(CloseCode.RateLimited, "connect-rate", "too many new connections from this address");
    }
  }

  /** A new connection to `room`; throws a {@link Refusal} (4529) over the rate. */
  connectTo(room: string): void {
    if (!this.perRoom.take(room))
      throw new Refusal(CloseCode.RateLimited, "room-connect-rate", "too many new connections to this room");
  }

  /**
   * A connection to the anonymous room of `anonymousId`, which holds nothing yet, from `address`: a new
   * identity unless counted for this address within the hour; throws (4529) over the rate.
   */
  newAnonymousFrom(address: string, anonymousId: string): void {
    const now = this.now();
    const key = `${address}\n${anonymousId}`;
    const at = this.counted.get(key);
    if (at !== undefined && now - at < COUNTED_MS) return;
    if (!this.anonymousPerAddress.take(address)) {
      throw new Refusal(CloseCode.RateLimited, "anonymous-rate", "too many new anonymous users from this address");
    }
    this.counted.delete(key);
    this.counted.set(key, now);
    // Oldest first: forget what is over an hour old, and the oldest beyond the cap (then counted again).
    for (const [old, when] of this.counted) {
      if (now - when < COUNTED_MS && this.counted.size <= MAX_COUNTED) break;
      this.counted.delete(old);
    }
  }
}
