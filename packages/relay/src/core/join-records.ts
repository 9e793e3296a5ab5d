/**
 * When a room stamps its clients' records (`clients`, client-records.ts): once a joining client's first sync is
 * answered, `lastSeen` when it leaves — and, in an anonymous room that holds nothing, not before the room's first
 * write.
 *
 * After the first sync, not at the join: written at the join, the record would be part of that sync's reply, and
 * the reply waits for what it carries to be durable — every join would wait for a disk write (and change the
 * document the cached full state of full-state-cache.ts is shared from).
 *
 * Not before the first write in an empty anonymous room: a visitor who opens the widget and never writes must
 * leave nothing stored (the stamp would be the room's only content, and would make its first write to disk). A
 * peer that leaves before anyone wrote is never recorded.
 */
import type { RoomRef } from "@parley/protocol";
import type * as Y from "yjs";
import { recordConnect, recordDisconnect } from "./client-records.js";
import type { Logger } from "./logger.js";
import type { JoinStamp, RoomPeer } from "./room-peer.js";

/** What a record waiting for the room's first write holds: the stamp, and when the peer joined. */
export interface HeldRecord {
  stamp: JoinStamp;
  at: number;
}

/** The room as its records need it. */
interface RecordingRoom {
  readonly name: string;
  readonly ref: RoomRef;
  readonly doc: Y.Doc;
  readonly isOpen: boolean;
  /** Records apply no update: the relay's binding, when due, goes in the same transaction (room.ts). */
  transactLocallyAsRelay(change: (doc: Y.Doc) => void): Promise<void>;
}

/** The client records of one room's peers, stamped at the moments described above. */
export class JoinRecords {
  /** Peers whose first sync has not been answered yet. */
  private readonly unanswered = new Map<RoomPeer, JoinStamp>();
  /** Records waiting for an empty anonymous room's first write. */
  private readonly held = new Map<RoomPeer, HeldRecord>();

  constructor(
    private readonly room: RecordingRoom,
    private readonly logger: Logger,
  ) {}

  /** Whether a joined peer still waits for its first sync's answer. */
  get answering(): boolean {
    return this.unanswered.size > 0;
  }

  /** A peer joined; its record waits for {@link JoinRecords.answered}. */
  joined(peer: RoomPeer, stamp: JoinStamp): void {
    this.unanswered.set(peer, stamp);
  }

  /** The peer's first sync was answered: stamps its record (once), or holds it until the room's first write. */
  answered(peer: RoomPeer): void {
    const stamp = this.unanswered.get(peer);
    if (stamp === undefined || !this.room.isOpen) return;
    this.unanswered.delete(peer);
    if (this.holdsNothing()) {
      this.held.set(peer, { stamp, at: Date.now() });
      return;
    }
    this.write((doc) => recordConnect(doc, { clientId: peer.clientId, ...stamp }, Date.now()));
  }

  /** The peer left: stamps `lastSeen` (and `active: false` after a logout) unless it was never recorded. */
  left(peer: RoomPeer, loggedOut: boolean): void {
    this.unanswered.delete(peer);
    const unrecorded = this.held.delete(peer) || this.holdsNothing();
    if (this.room.isOpen && !unrecorded) {
      this.write((doc) => recordDisconnect(doc, peer.clientId, Date.now(), loggedOut));
    }
  }

  /** Something was written to the room: stamps the records held back for its first write. */
  wrote(): void {
    if (this.held.size === 0 || this.holdsNothing() || !this.room.isOpen) return;
    const joins = [...this.held];
    this.held.clear();
    this.write((doc) => {
      for (const [peer, { stamp, at }] of joins) recordConnect(doc, { clientId: peer.clientId, ...stamp }, at);
    });
  }

  /** Takes a peer's held record out (the room hibernates); {@link JoinRecords.restore} puts it back. */
  release(peer: RoomPeer): HeldRecord | undefined {
    const held = this.held.get(peer);
    this.held.delete(peer);
    return held;
  }

  /** Puts back a record taken out by {@link JoinRecords.release}. */
  restore(peer: RoomPeer, held: HeldRecord): void {
    this.held.set(peer, held);
  }

  /** Whether this is an anonymous room nobody (client or relay) wrote to: its client records wait. */
  private holdsNothing(): boolean {
    return this.room.ref.kind === "anonymous" && this.room.doc.store.clients.size === 0;
  }

  private write(change: (doc: Y.Doc) => void): void {
    this.room
      .transactLocallyAsRelay(change)
      .catch((error) => this.logger.warn("client record not stored", { room: this.room.name, error }));
  }
}
