/**
 * The registry of loaded rooms: loads a room on demand (once, however many connections ask at the same
 * time) and unloads it when nothing has used it for the grace period. With room leases (several relay
 * nodes, room-leases.ts) a room loads only under a lease, gives it back when unloaded, and is dropped
 * when the lease is lost.
 */
import {
  CloseCode,
  type CloseReasonOf,
  FencedError,
  InvalidArgumentError,
  InvalidStateError,
  parseRoomName,
  type RoomRef,
} from "@parley/protocol";
import type { RelayStorage } from "../storage/storage.js";
import { Attestor } from "./attestor.js";
import type { RoomOpener } from "./extension.js";
import { Extensions } from "./extensions.js";
import { Hibernation } from "./hibernation.js";
import type { Logger } from "./logger.js";
import { Room, type RoomHooks } from "./room.js";
import type { RoomLease, RoomLeases } from "./room-leases.js";

/** Options of {@link Rooms}. */
export interface RoomsOptions {
  storage: RelayStorage;
  logger: Logger;
  /** How long an unused room stays loaded, in ms. */
  graceMs: number;
  /** Told when rooms load, change, store and unload. Default: none. */
  extensions?: Extensions;
  /** Who may load a room when several relay nodes share the storage. Default: none (one relay). */
  leases?: RoomLeases;
  /** How long a room with connected but quiet clients stays loaded, in ms (hibernation.ts). Default 0: always. */
  hibernateMs?: number;
}

/** Loaded rooms by name. */
export class Rooms implements RoomOpener {
  private readonly loading = new Map<string, Promise<Room>>();
  private readonly loaded = new Map<string, Room>();
  private readonly timers = new Map<Room, NodeJS.Timeout>();
  private readonly leases = new Map<Room, RoomLease>();
  /** Leases of hibernating rooms, by name: the load that wakes the room takes it back. */
  private readonly parkedLeases = new Map<string, RoomLease>();
  /** Leases lost while their room was loading. */
  private readonly lostLeases = new WeakSet<RoomLease>();
  private readonly hooks: RoomHooks = {
    idle: (room) => this.scheduleUnload(room),
    active: (room) => this.cancelUnload(room),
    failed: (room) => this.forget(room),
    changed: (room, update, clientId) => this.extensions.changed({ room, update, clientId }),
    stored: (room) => {
      if (this.extensions.has("onStored")) {
        this.extensions.stored({ room, stateVector: room.storedStateVector() });
      }
    },
  };

  private readonly extensions: Extensions;
  private attesting: Promise<Attestor> | undefined;
  private readonly hibernation: Hibernation;
  private closing = false;

  constructor(private readonly options: RoomsOptions) {
    this.extensions = options.extensions ?? new Extensions([], options.logger);
    this.hibernation = new Hibernation(
      options.hibernateMs ?? 0,
      () => this.loaded.values(),
      (room) => {
        // A hibernating room keeps its lease (several nodes): its clients stay here, so the room must too.
        const lease = this.leases.get(room);
        if (lease !== undefined) {
          this.leases.delete(room);
          this.parkedLeases.set(room.name, lease);
        }
        this.unload(room);
        options.logger.debug("room hibernated", { room: room.name });
      },
    );
  }

  /**
   * The room `name` (a room name per `@parley/protocol`), loaded fully from storage. Hold it
   * (`room.hold()`) or join it while using it across awaits, or it may be unloaded after the grace period.
   */
  open(name: string): Promise<Room> {
    const existing = this.loading.get(name);
    if (existing) return existing;
    if (this.closing) return Promise.reject(new InvalidStateError("the relay is shutting down"));
    const ref = parseRoomName(name);
    if (ref === null) return Promise.reject(new InvalidArgumentError("room", `"${name}" is not a room name`));
    const loading = this.load(name, ref).then((room) => {
      this.loaded.set(name, room);
      // Before the caller's continuation, so extensions observe the room before anything can change it.
      this.extensions.roomLoaded(room);
      this.hibernation.wake(room);
      this.scheduleUnload(room);
      return room;
    });
    this.loading.set(name, loading);
    loading.catch((error: unknown) => {
      if (this.loading.get(name) === loading) this.loading.delete(name);
      // Connections parked by the room's hibernation cannot wake it: they reconnect (to the node holding it now).
      for (const { peer } of this.hibernation.drop(name)) {
        if (error instanceof FencedError) peer.close(CloseCode.GoingAway, "room-moved", "room held by another node");
        else peer.close(CloseCode.InternalError, "storage", "room could not be loaded");
      }
      // Another relay node holds the room (room leases): routine, and its message names the room in clear.
      if (error instanceof FencedError) this.options.logger.debug("room held by another node", { room: name });
      else this.options.logger.error("room load failed", { room: name, error });
    });
    return loading;
  }

  /** The attestor under the storage's key, read once (again after a failure). */
  private attestor(): Promise<Attestor> {
    if (this.attesting === undefined) {
      const attesting = this.options.storage.attestationKey().then((key) => new Attestor(key));
      this.attesting = attesting;
      attesting.catch(() => {
        if (this.attesting === attesting) this.attesting = undefined;
      });
    }
    return this.attesting;
  }

  /** Number of rooms loaded or loading. */
  get size(): number {
    return this.loading.size;
  }

  /** Closes every peer with `code`, waits for pending writes and unloads every room. */
  async close<C extends CloseCode>(code: C, reason: CloseReasonOf<C>, detail = ""): Promise<void> {
    this.closing = true;
    // Parked connections' records were stamped when they joined; their lastSeen is not (the room is not loaded).
    for (const { peer } of this.hibernation.stop()) peer.close(code, reason, detail);
    for (const lease of this.parkedLeases.values()) lease.release();
    this.parkedLeases.clear();
    const rooms = await Promise.allSettled([...this.loading.values()]);
    for (const result of rooms) if (result.status === "fulfilled") result.value.closePeers(code, reason, detail);
    for (const result of rooms) {
      if (result.status !== "fulfilled") continue;
      await result.value.settled();
      this.forget(result.value);
      this.extensions.roomUnloaded(result.value);
      result.value.destroy();
    }
  }

  private async load(name: string, ref: RoomRef): Promise<Room> {
    const { storage, logger, leases } = this.options;
    const attestor = await this.attestor();
    if (leases === undefined) return Room.load(name, ref, storage, this.hooks, logger, attestor);
    const parked = this.parkedLeases.get(name);
    this.parkedLeases.delete(name);
    const lease = parked ?? (await leases.acquire(name));
    if (parked === undefined) lease.onLost(() => this.leaseLost(name, lease));
    let room: Room;
    try {
      room = await Room.load(name, ref, storage, this.hooks, logger, attestor, lease.fence);
      this.leases.set(room, lease);
    } catch (error) {
      lease.release();
      throw error;
    }
    // Lost while loading (nothing was registered for leaseLost to close): a copy nobody else writes to must not serve.
    if (this.lostLeases.delete(lease)) {
      this.leases.delete(room);
      room.destroy();
      lease.release();
      throw new FencedError(name);
    }
    return room;
  }

  /** A room's lease was lost: like a fenced write (room.ts), its clients reconnect to the node that holds it now. */
  private leaseLost(name: string, lease: RoomLease): void {
    this.options.logger.warn("room lease lost; closing room", { room: name });
    if (this.parkedLeases.get(name) === lease) {
      this.parkedLeases.delete(name);
      for (const { peer } of this.hibernation.drop(name))
        peer.close(CloseCode.GoingAway, "room-moved", "room lease lost");
      lease.release();
      return;
    }
    const room = this.loaded.get(name);
    if (room === undefined || this.leases.get(room) !== lease) {
      // Still loading: load() sees this once it is done.
      this.lostLeases.add(lease);
      return;
    }
    room.closePeers(CloseCode.GoingAway, "room-moved", "room lease lost");
    this.forget(room);
  }

  private scheduleUnload(room: Room): void {
    if (!room.isIdle() || this.timers.has(room) || this.loaded.get(room.name) !== room) return;
    const timer = setTimeout(() => {
      this.timers.delete(room);
      if (!room.isIdle()) return;
      this.unload(room);
      this.options.logger.debug("room unloaded", { room: room.name });
    }, this.options.graceMs);
    timer.unref();
    this.timers.set(room, timer);
  }

  private unload(room: Room): void {
    this.forget(room);
    this.extensions.roomUnloaded(room);
    room.destroy();
  }

  private cancelUnload(room: Room): void {
    const timer = this.timers.get(room);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(room);
  }

  private forget(room: Room): void {
    this.cancelUnload(room);
    // Only drop the entry if it is this room (a failed room may already have been replaced).
    if (this.loaded.get(room.name) !== room) return;
    this.loaded.delete(room.name);
    this.loading.delete(room.name);
    // Dropped (unloaded, failed or lost): whatever it still writes is fenced, so the room can go now.
    this.leases.get(room)?.release();
    this.leases.delete(room);
  }
}
