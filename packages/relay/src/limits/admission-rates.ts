/**
 * How often connections may be opened: per address and per room (each a token bucket, 4529 beyond it), and
 * how many new anonymous identities one address may create. Checked in the order of their cost to the
 * relay: the address before the token is verified, the room before it is loaded, a new anonymous identity
 * before anything of it is stored.
 */
import { CloseCode } from "@parley/protocol";
import { Refusal } from "../core/refusal.js";
import { KeyedRate } from "./keyed-rate.js";
import type { Limits } from "./limits.js";

/** The connection-rate limits of one relay. */
export class AdmissionRates {
  private readonly perAddress: KeyedRate;
  private readonly perRoom: KeyedRate;
  private readonly anonymousPerAddress: KeyedRate;

  constructor(limits: Limits, now?: () => number) {
    this.perAddress = new KeyedRate(limits.connectsPerMinutePerIp, limits.connectsPerMinutePerIp / 60, now);
    this.perRoom = new KeyedRate(limits.connectsPerMinutePerRoom, limits.connectsPerMinutePerRoom / 60, now);
    this.anonymousPerAddress = new KeyedRate(
      limits.newAnonymousPerHourPerIp,
      limits.newAnonymousPerHourPerIp / 3600,
      now,
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

  /** A new anonymous identity (its room holds nothing yet) from `address`; throws (4529) over the rate. */
  newAnonymousFrom(address: string): void {
    if (!this.anonymousPerAddress.take(address)) {
      throw new Refusal(CloseCode.RateLimited, "anonymous-rate", "too many new anonymous users from this address");
    }
  }
}
