/**
 * When a room tells its connections what is stored (`stored` frames): a writer as soon as its change is durable (one
 * frame per batch, on the next tick), the others at most every {@link READER_ACK_MS} — one frame per window however
 * many changes arrived. Readers need it to show others' messages `sent` (a short lag is fine) and to let go of the
 * attested updates they keep; a writer's own delivery status waits for its ack.
 */
import type { RoomPeer } from "./room-peer.js";

/** How often, at most, a reader learns what is stored. */
export const READER_ACK_MS = 200;

/** The acks one room owes. */
export class Acks {
  private readonly writers = new Set<RoomPeer>();
  private readonly readers = new Set<RoomPeer>();
  private writerTick = false;
  private readerTimer: NodeJS.Timeout | undefined;

  /** `frame` encodes the stored state vector at the moment it is sent; nothing is sent once `open` is false. */
  constructor(
    private readonly frame: () => Uint8Array,
    private readonly open: () => boolean,
  ) {}

  /** Whether nothing is owed or scheduled (a room may then hibernate). */
  get settled(): boolean {
    return this.writers.size === 0 && this.readers.size === 0 && !this.writerTick && this.readerTimer === undefined;
  }

  /** A change became durable: its writer (if it wants acks) and `readers` are owed the stored state. */
  owe(writer: RoomPeer | null, readers: Iterable<RoomPeer>): void {
    for (const reader of readers) if (reader.wantsAcks) this.readers.add(reader);
    if (writer?.wantsAcks) this.writers.add(writer);
    if (this.writers.size > 0 && !this.writerTick) {
      this.writerTick = true;
      setImmediate(() => {
        this.writerTick = false;
        this.send(this.writers);
      });
    }
    if (this.readers.size > 0 && this.readerTimer === undefined) {
      this.readerTimer = setTimeout(() => {
        this.readerTimer = undefined;
        this.send(this.readers);
      }, READER_ACK_MS);
      this.readerTimer.unref();
    }
  }

  /** The peer left: it is owed nothing. */
  forget(peer: RoomPeer): void {
    this.writers.delete(peer);
    this.readers.delete(peer);
  }

  /** The room is gone: nothing more is sent. */
  stop(): void {
    clearTimeout(this.readerTimer);
    this.readerTimer = undefined;
  }

  /** Sends the stored state to the synced peers of `owed`; a peer not synced yet gets it with its sync's answer. */
  private send(owed: Set<RoomPeer>): void {
    if (!this.open()) return;
    let frame: Uint8Array | undefined;
    for (const peer of owed) {
      owed.delete(peer);
      if (!peer.synced) continue;
      frame ??= this.frame();
      peer.send(frame);
      // Its ack covers what it was owed as a reader too.
      if (owed === this.writers) this.readers.delete(peer);
    }
  }
}
