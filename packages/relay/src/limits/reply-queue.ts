/**
 * Relay-wide bound on large sync replies waiting to be written. A sync reply is as big as the document,
 * and a socket that does not read keeps it in memory: without a bound, a handful of connections that stop
 * reading after a few 160-byte requests can make the relay hold gigabytes. Each connection has at most one
 * large reply in flight (connection.ts); this caps their sum.
 */

/** Bytes of large replies handed to sockets and not yet written, at most `maxBytes`. */
export class ReplyQueue {
  private queued = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes queued now. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Whether the queue is full (a new large reply would be refused before it is even encoded). */
  get full(): boolean {
    return this.queued >= this.maxBytes;
  }

  /**
   * Reserves `bytes` for a reply; returns the function that gives them back (once), or `null` if that would
   * go over the cap. A reply alone always fits, so a document larger than the cap can still be synced.
   */
  reserve(bytes: number): (() => void) | null {
    if (this.queued > 0 && this.queued + bytes > this.maxBytes) return null;
    this.queued += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.queued -= bytes;
    };
  }
}
