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
import type { AdmissionBackend, Rate } from "./admission-backend.js";
import { KeyedRate } from "./keyed-rate.js";
import type { Limits } from "./limits.js";

/** How long an anonymous identity counted for an address is not counted again. */
const COUNTED_MS = 3_600_000;

/**
 * The connection-rate limits of one relay. The per-address ones are counted by the admission backend (so a
 * cluster counts them across its nodes); the per-room one here, since every connection to a room reaches the
 * node serving it.
 */
export class AdmissionRates {
  private readonly perAddress: Rate;
  private readonly perRoom: KeyedRate;
  private readonly anonymousPerAddress: Rate;

  constructor(
    limits: Limits,
    private readonly backend: AdmissionBackend,
    now: () => number = () => performance.now(),
  ) {
    this.perAddress = { capacity: limits.connectsPerMinutePerIp, perSecond: limits.connectsPerMinutePerIp / 60 };
    this.perRoom = new KeyedRate(limits.connectsPerMinutePerRoom, limits.connectsPerMinutePerRoom / 60, now);
    this.anonymousPerAddress = {
      capacity: limits.newAnonymousPerHourPerIp,
      perSecond: limits.newAnonymousPerHourPerIp / 3600,
    };
  }

  /** A new connection from `address`; rejects with a {@link Refusal} (4529) over the rate. */
  async connectFrom(address: string): Promise<void> {
    if (!(await this.backend.takeEvent("connect", address, this.perAddress))) {
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
   * identity unless counted for this address within the hour; rejects (4529) over the rate.
   */
  async newAnonymousFrom(address: string, anonymousId: string): Promise<void> {
    if (!(await this.backend.takeFirst("anonymous", address, anonymousId, this.anonymousPerAddress, COUNTED_MS))) {
      throw new Refusal(CloseCode.RateLimited, "anonymous-rate", "too many new anonymous users from this address");
    }
  }
}
