/**
 * A room's write path: every change to its document is appended to storage in the order it was applied,
 * under the room's write fence, and reported durable in that order; the log is compacted into a snapshot
 * when it has grown enough.
 *
 * Appends are issued in the order changes were applied, so when the append of change *k* resolves, the
 * document's state vector as it was right after change *k* is durably stored: that is what
 * {@link WritePath.durableStateVector} returns and what `stored` frames acknowledge. What is done once a
 * change is durable (forward it, acknowledge it) is the room's: see `onDurable` of {@link WritePath.append}.
 */
import { FencedError, StorageError } from "@parley/protocol";
import * as Y from "yjs";
import type { Fence, RelayStorage } from "../storage/storage.js";
import type { Logger } from "./logger.js";

/**
 * When to compact: after more than 500 records once the log is also at least half the snapshot's size (so a
 * big document is not re-encoded every 500 small updates), or once the log is 4× the snapshot (at least
 * 64 KiB) whatever its record count. Encoding a snapshot costs O(document); this keeps it O(1) per byte written.
 */
const COMPACT_RECORDS = 500;
const COMPACT_RECORDS_MIN_RATIO = 0.5;
const COMPACT_RATIO = 4;
const COMPACT_MIN_BYTES = 64 * 1024;

/** What the write path tells its room. */
export interface WritePathEvents {
  /** A write failed (or another writer claimed the room): nothing after it may be acknowledged. */
  failed(error: unknown): void;
  /** No write is in flight any more. */
  idle(): void;
}

/** The ordered, fenced appends and the compaction of one loaded document. */
export class WritePath {
  private pendingWrites = 0;
  private lastWrite: Promise<void> = Promise.resolve();
  /** State vector of what is durably stored (Yjs's `afterState` of the last stored transaction). */
  private durable: Map<number, number>;
  private logRecords: number;
  private logBytes = 0;
  private snapshotBytes: number;

  /** `stored` is what the document was loaded from (snapshot first): the log's size so far. */
  constructor(
    private readonly name: string,
    private readonly doc: Y.Doc,
    private readonly storage: RelayStorage,
    /** This load's write fence: another relay that claims the room after it makes every write here fail. */
    private readonly fence: Fence,
    private readonly logger: Logger,
    private readonly events: WritePathEvents,
    stored: Uint8Array[],
  ) {
    this.snapshotBytes = stored[0]?.length ?? 0;
    this.logRecords = Math.max(0, stored.length - 1);
    for (const update of stored.slice(1)) this.logBytes += update.length;
    this.durable = Y.decodeStateVector(Y.encodeStateVector(doc));
  }

  /** The state vector of what is durably stored. */
  get durableStateVector(): Map<number, number> {
    return this.durable;
  }

  /** Whether a write (append or compaction) is in flight. */
  get busy(): boolean {
    return this.pendingWrites > 0;
  }

  /**
   * Appends `update` (applied to the document with `stateVector` as its result); once it is durable,
   * records `stateVector` as stored and calls `onDurable`. A failure is reported to `failed` instead.
   */
  append(update: Uint8Array, stateVector: Map<number, number>, onDurable: () => void): void {
    const write = this.storage.append(this.name, update, this.fence);
    this.lastWrite = write;
    this.track(
      write.then(
        () => {
          this.durable = stateVector;
          onDurable();
        },
        (error: unknown) => this.events.failed(error),
      ),
    );
    this.logRecords++;
    this.logBytes += update.length;
    if (
      (this.logRecords > COMPACT_RECORDS && this.logBytes >= COMPACT_RECORDS_MIN_RATIO * this.snapshotBytes) ||
      this.logBytes > Math.max(COMPACT_RATIO * this.snapshotBytes, COMPACT_MIN_BYTES)
    ) {
      this.compact();
    }
  }

  /** Resolves once every append issued so far is durable; rejects with a StorageError if one failed. */
  async durableSoFar(): Promise<void> {
    try {
      await this.lastWrite;
    } catch (error) {
      throw error instanceof StorageError
        ? error
        : new StorageError(`room ${this.name}: write failed`, { cause: error });
    }
  }

  /** Waits until every write issued so far has settled, failed or not. */
  async settled(): Promise<void> {
    await this.lastWrite.catch(() => {});
  }

  private compact(): void {
    const snapshot = Y.encodeStateAsUpdate(this.doc);
    this.snapshotBytes = snapshot.length;
    this.logRecords = 0;
    this.logBytes = 0;
    this.track(
      this.storage
        .compact(this.name, snapshot, this.fence)
        .catch((error: unknown) =>
          error instanceof FencedError
            ? this.events.failed(error)
            : this.logger.warn("compaction failed", { room: this.name, error }),
        ),
    );
  }

  private track(work: Promise<void>): void {
    this.pendingWrites++;
    void work.finally(() => {
      this.pendingWrites--;
      if (this.pendingWrites === 0) this.events.idle();
    });
  }
}
