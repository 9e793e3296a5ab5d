/**
 * Hibernation: a room whose clients stay connected but quiet gives its memory back. Its document, presence and
 * write path are dropped (everything is stored: `Room.mayHibernate`); its connections stay open, hold the frames
 * they receive, and the first one loads the room again (`RoomPeer.park` / `attach`). Nothing is lost by it — the
 * document reloads from storage as it was — and a quiet conversation costs its sockets, not a Yjs document.
 */
import type { Room } from "./room.js";
import type { ParkedPeer } from "./room-peer.js";

export class Hibernation {
  private readonly parked = new Map<string, ParkedPeer[]>();
  private readonly sweeper: NodeJS.Timeout | undefined;

  /**
   * @param quietMs how long a room must be quiet before it hibernates; 0 never.
   * @param rooms the loaded rooms, looked at every `quietMs / 2`.
   * @param unload drops a room whose peers were parked (as the registry unloads an unused room).
   */
  constructor(
    private readonly quietMs: number,
    private readonly rooms: () => Iterable<Room>,
    private readonly unload: (room: Room) => void,
  ) {
    if (quietMs <= 0) return;
    this.sweeper = setInterval(() => this.sweep(), Math.max(25, Math.floor(quietMs / 2)));
    this.sweeper.unref();
  }

  /** Number of rooms hibernating. */
  get size(): number {
    return this.parked.size;
  }

  /** Hands a freshly loaded room the peers its hibernation parked, if any. */
  wake(room: Room): void {
    const parked = this.parked.get(room.name);
    if (parked === undefined) return;
    this.parked.delete(room.name);
    for (const entry of parked) room.rejoin(entry);
    for (const { peer } of parked) peer.attach(room);
  }

  /** The room `name` could not be loaded again: its parked peers are gone with it. */
  drop(name: string): ParkedPeer[] {
    const parked = this.parked.get(name) ?? [];
    this.parked.delete(name);
    return parked;
  }

  /** Stops hibernating rooms; returns every parked peer (a shutdown closes them). */
  stop(): ParkedPeer[] {
    clearInterval(this.sweeper);
    const all = [...this.parked.values()].flat();
    this.parked.clear();
    return all;
  }

  private sweep(): void {
    const now = Date.now();
    for (const room of [...this.rooms()]) {
      if (!room.mayHibernate(now, this.quietMs)) continue;
      const parked = room.detachPeers();
      this.parked.set(room.name, parked);
      for (const { peer } of parked) peer.park();
      this.unload(room);
    }
  }
}
