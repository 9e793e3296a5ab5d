/**
 * This node's room leases (the relay's `RoomLeases`, see room-leases.ts in `@parley/relay`): a room loads
 * only under a PostgreSQL lease, whose fence is the storage fence. Every held lease is renewed in one
 * statement every third of the lease length. A lease is lost when PostgreSQL refuses its renewal (another
 * node took the room: this node was paused or cut off past the lease) or when no renewal was confirmed
 * before it ran out by this node's clock, counted from when the last confirmed renewal was *sent* (so
 * never later than PostgreSQL's own expiry). The relay then closes the room; its writes were fenced anyway.
 */
import { FencedError } from "@parley/protocol";
import type { Logger, RoomLease, RoomLeases } from "@parley/relay";
import type { RoomOwnership } from "@parley/relay-postgres";
import { type Coordination, parseOwner } from "./coordination.js";

/** Options of {@link ClusterLeases}. */
export interface ClusterLeasesOptions {
  ownership: RoomOwnership;
  coordination: Coordination;
  /** The owner string of this node (coordination.ts' `ownerString`). */
  owner: string;
  leaseMs: number;
  logger: Logger;
}

class HeldLease implements RoomLease {
  private lost = false;
  private released = false;
  private onLostCallback: (() => void) | undefined;

  constructor(
    private readonly leases: ClusterLeases,
    readonly name: string,
    readonly fence: number,
    /** `performance.now()` after which the lease may have run out. */
    public deadline: number,
  ) {}

  onLost(lost: () => void): void {
    this.onLostCallback = lost;
    if (this.lost) lost();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.leases.dropped(this, !this.lost);
  }

  /** @internal */
  lose(): void {
    if (this.lost || this.released) return;
    this.lost = true;
    this.leases.counts.lost++;
    this.leases.dropped(this, false);
    this.onLostCallback?.();
  }

  /** @internal Ends this load (the relay closes and drops the room) and frees the lease for the next taker. */
  handOver(): void {
    if (this.lost || this.released) return;
    this.lost = true;
    this.leases.counts.handedOver++;
    this.leases.dropped(this, true);
    this.onLostCallback?.();
  }
}

/** The rooms this node holds, renewed together. */
export class ClusterLeases implements RoomLeases {
  private readonly held = new Map<string, HeldLease>();
  private readonly releasing = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** When the renewal in flight was sent (`performance.now()`). */
  private renewSentAt = 0;
  /** For the metrics: leases lost, rooms handed over on request, renewals PostgreSQL did not answer. */
  readonly counts = { lost: 0, handedOver: 0, renewalsFailed: 0 };

  constructor(private readonly options: ClusterLeasesOptions) {}

  /**
   * Whether PostgreSQL has left a renewal unanswered for so long that every lease it renews has run out by this
   * node's clock (each was confirmed at most `leaseMs / 3` before the renewal was sent). Such a node cannot load a
   * room either: it takes no new lease, and the coordination withholds its heartbeat until the renewal is answered.
   */
  get stalled(): boolean {
    return this.renewing && performance.now() - this.renewSentAt >= (this.options.leaseMs * 2) / 3;
  }

  /** How many leases this node holds. */
  get size(): number {
    return this.held.size;
  }

  /** Takes `name` for this node, or rejects with `FencedError` if another node's lease on it is live. */
  async acquire(name: string): Promise<RoomLease> {
    // A lease taken now could not be renewed either (the renewal in flight blocks the next): the client goes to a
    // node that can serve the room.
    if (this.stalled) throw new FencedError(name);
    const { ownership, owner, leaseMs, coordination } = this.options;
    const asked = performance.now();
    const lease = await ownership.acquire(name, owner, leaseMs);
    if (lease === null) {
      // Whoever routed this here had a stale idea of the owner: correct the cache for the next connection. And
      // the holder may keep the room only for its grace period (an anonymous room a login merge needs here):
      // ask it to hand the room over if nobody uses it there; the caller's retry then finds it free.
      // Hints only: nothing of this may escape as an unhandled rejection (it would end the relay).
      void ownership
        .owner(name)
        .then(async (current) => {
          const holder = parseOwner(current?.owner);
          if (current === null || holder === null) return;
          await coordination.setOwner(name, current.owner);
          if (holder.nodeId !== parseOwner(owner)?.nodeId) await coordination.requestRelease(holder.nodeId, name);
        })
        .catch(() => {});
      throw new FencedError(name);
    }
    const held = new HeldLease(this, name, lease.fence, asked + leaseMs);
    this.held.get(name)?.lose();
    this.held.set(name, held);
    // Not awaited: the cache is a hint, and commands on the one Redis connection keep their order (a later
    // release's delete comes after this write).
    void coordination.setOwner(name);
    return held;
  }

  /** Hands `name` over (see {@link HeldLease.handOver}) if this node holds it. */
  handOver(name: string): void {
    this.held.get(name)?.handOver();
  }

  /** Whether this node holds a lease on `name` (it has the room loaded or loading). */
  holds(name: string): boolean {
    return this.held.has(name);
  }

  /** Starts renewing every third of the lease length. */
  start(): void {
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing and waits for releases in flight (the relay released every room before). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.releasing]);
  }

  /** @internal A lease was released (`free`: give the room up in PostgreSQL and the cache) or lost. */
  dropped(lease: HeldLease, free: boolean): void {
    if (this.held.get(lease.name) === lease) this.held.delete(lease.name);
    const { ownership, owner, coordination, logger } = this.options;
    if (!free) {
      // Lost: the cache must not send the room's clients here any more (it is deleted only if it names this node,
      // so a new owner's entry stays).
      void coordination.clearOwner(lease.name).catch(() => {});
      return;
    }
    const released = Promise.all([
      ownership.release(lease.name, owner, lease.fence),
      coordination.clearOwner(lease.name),
    ]).catch((error: unknown) =>
      // The next owner waits for the lease to run out instead.
      logger.warn("room lease not released", { room: lease.name, error }),
    );
    this.releasing.add(released);
    void released.finally(() => this.releasing.delete(released));
  }

  private async renew(): Promise<void> {
    const now = performance.now();
    // Leases whose renewal has not been confirmed in time are lost, even while PostgreSQL does not answer.
    for (const lease of [...this.held.values()]) if (now >= lease.deadline) lease.lose();
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    this.renewSentAt = now;
    const batch = [...this.held.values()];
    const { ownership, owner, leaseMs, logger } = this.options;
    try {
      const renewed = await ownership.renewAll(owner, batch, leaseMs);
      const kept = new Set(renewed.map((lease) => `${lease.fence} ${lease.name}`));
      for (const lease of batch) {
        if (kept.has(`${lease.fence} ${lease.name}`)) lease.deadline = Math.max(lease.deadline, now + leaseMs);
        else lease.lose();
      }
    } catch (error) {
      this.counts.renewalsFailed++;
      logger.warn("room leases not renewed", { rooms: batch.length, error });
    } finally {
      this.renewing = false;
    }
  }
}
