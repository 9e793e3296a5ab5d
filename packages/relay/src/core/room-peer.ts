/**
 * A connection as its room sees it (`RoomPeer`), what a hibernating room keeps of one (`ParkedPeer`), what the relay
 * stamps on a client's record when it joins, and the origin of the updates a peer hands back (`Redelivery`).
 */
import type { ClientInfo, CloseCode, CloseReasonOf } from "@parley/protocol";
import type { HeldRecord } from "./join-records.js";
import type { Room } from "./room.js";

/** A connection as its room sees it. */
export interface RoomPeer {
  readonly clientId: string;
  /** Whether it asked for `stored` frames (`acks=1`). */
  readonly wantsAcks: boolean;
  /** Whether the relay has answered its sync step 1 (acks start after that). */
  readonly synced: boolean;
  /** Whether it takes changes at once as `attested` frames (`attest=1`); else only once durable. */
  readonly attests: boolean;
  /** Whether it is answering a sync request (the room must not hibernate under it). */
  readonly busy: boolean;
  send(frame: Uint8Array): void;
  close<C extends CloseCode>(code: C, reason: CloseReasonOf<C>, detail?: string): void;
  /** Its room hibernated (hibernation.ts): hold frames and wake the room on the next one. */
  park(): void;
  /** Its room is loaded again: use `room` from now on. */
  attach(room: Room): void;
}

/** A peer of a hibernating room, with its client record if it was still held back (join-records.ts). */
export interface ParkedPeer {
  peer: RoomPeer;
  held?: HeldRecord;
}

/** What the relay stamps on a client's record when it joins. */
export interface JoinStamp {
  info: ClientInfo;
  userAgent?: string;
}

/**
 * The origin of an attested update a peer handed back: not its write, so it gets no ack for it. Exported for the
 * observers that tell clients' writes from the relay's (webhook-events.ts): what it carries was a client's write.
 */
export class Redelivery {
  constructor(readonly peer: RoomPeer) {}
}
