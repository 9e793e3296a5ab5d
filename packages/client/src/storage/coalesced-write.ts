/**
 * A record written in the background, one write at a time: changes made while a write is in flight go into one
 * more write, which reads the newest state when it starts. A failed write is dropped: the next change writes the
 * whole state again.
 */
export class CoalescedWrite {
  private writing: Promise<void> = Promise.resolve();
  private queued = false;

  /** `write` reads the state to store when it is called. */
  constructor(private readonly write: () => Promise<void>) {}

  /** Writes the newest state after the write in flight, if any (once, however often it is called meanwhile). */
  schedule(): void {
    if (this.queued) return;
    this.queued = true;
    this.writing = this.writing
      .then(() => {
        this.queued = false;
        return this.write();
      })
      .catch(() => {});
  }

  /** Resolves once every write scheduled so far has settled. */
  settled(): Promise<void> {
    return this.writing;
  }
}
