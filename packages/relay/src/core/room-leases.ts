/**
 * Room leases: the seam through which several relay nodes that share one storage agree on which of them
 * serves a room. A single relay has none (claiming the storage fence at load is enough); the cluster package
 * (`@parley/relay-cluster`) implements it on PostgreSQL leases.
 *
 * Contract:
 * - {@link RoomLeases.acquire} is called before a room loads, *instead of* `storage.claim(name)`. It resolves
 *   with a lease whose `fence` every storage write of that load carries, so it must be a fence of the relay's
 *   storage, newer than every fence handed out before (a writer that lost the room then stores nothing). It
 *   rejects with `FencedError` (`ERR_FENCED`) when another node holds the room: the connection that asked is
 *   closed with 1001 `room-moved` and reconnects; any other rejection is a storage failure (1011).
 * - While the room is loaded the implementation keeps the lease alive. If it loses it (a renewal refused, or
 *   not confirmed before the lease ran out), it calls the `lost` callback once: the relay closes the room's
 *   connections with 1001 `room-moved` and drops the room. Its writes were fenced anyway; closing makes its
 *   clients reconnect to the new owner instead of reading a copy nobody writes to any more.
 * - {@link RoomLease.release} is called once, after the room was dropped and its writes settled (or failed),
 *   so another node need not wait for the lease to run out. It never throws; failures are the implementation's
 *   to log (an unreleased lease only costs the next owner the lease's length).
 */
import type { Fence } from "../storage/storage.js";

/** A held room: the fence its writes carry. */
export interface RoomLease {
  /** The storage fence of this load (see the contract above). */
  readonly fence: Fence;
  /** Registers the function called (once) if the lease is lost while the room is loaded. */
  onLost(lost: () => void): void;
  /** Gives the room up: the room is unloaded and its writes settled. Never throws. */
  release(): void;
}

/** Decides whether this relay node may load a room. See the contract at the top of this file. */
export interface RoomLeases {
  /** Takes the room for this node, or rejects with `FencedError` if another node holds it. */
  acquire(name: string): Promise<RoomLease>;
}
