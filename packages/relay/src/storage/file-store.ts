/**
 * The default {@link RelayStorage}: files under a data directory, no server needed. The layout and how
 * claims fence writers across processes are in `file-layout.ts`; records and atomic writes in
 * `file-records.ts`.
 *
 * Operations on one document are queued and run in call order. Appends are group-committed: every append
 * queued while a write is in flight goes into the next single write (with `fsync: "batch"`, on a log
 * opened with O_DSYNC: the write returns once the data is on disk, like write() + fdatasync() but in one
 * system call). With `fsync: "off"` the data reaches the kernel with a synchronous write() before the
 * promise resolves, which survives a crash of the relay process (SIGKILL) but not a power loss. After
 * each write the writer checks that its fence is still the newest (one directory listing); a record torn
 * by a crash mid-write fails its length or checksum and is left out on load; it was never acknowledged.
 */
import { constants, statSync } from "node:fs";
import { access, type FileHandle, mkdir, open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { FencedError, StorageError } from "@parley/protocol";
import type { FsyncPolicy } from "../config/config.js";
import { loadOrCreateKey } from "./attestation-key.js";
import { DocumentDir, type Manifest, newestFence } from "./file-layout.js";
import {
  decodeRecords,
  encodeRecord,
  isErrno,
  readOptional,
  syncDirectory,
  writeAll,
  writeAllSync,
} from "./file-records.js";
import {
  assertDocumentName,
  assertFence,
  type Fence,
  type ListOptions,
  type ListPage,
  listLimit,
  pageOf,
  type RelayStorage,
} from "./storage.js";

export { decodeRecords, encodeRecord } from "./file-records.js";

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Operation =
  | { kind: "claim"; done: Deferred<Fence> }
  | { kind: "load"; done: Deferred<Uint8Array[]> }
  | { kind: "append"; data: Uint8Array; fence: Fence; done: Deferred<void> }
  | { kind: "compact"; snapshot: Uint8Array; fence: Fence; done: Deferred<void> }
  | { kind: "remove"; fence: Fence; done: Deferred<void> };

/** Where a compaction can be interrupted; {@link FileStorage.compactStep} is called at each. */
export type CompactStep = "snapshot-written" | "manifest-committed";

/** The writer this instance holds for a document: its fence, manifest and open log. */
interface Writer {
  fence: Fence;
  manifest: Manifest;
  /** Sequence number of the current log and snapshot (`log.<fence>.<seq>`). */
  seq: number;
  log: FileHandle | null;
  /** Log length in bytes once opened: a failed write is cut back to it so no half record stays. */
  logSize: number;
}

interface DocumentState {
  files: DocumentDir;
  queue: Operation[];
  running: boolean;
  writer: Writer | null;
  /** Fences this instance knows to be stale (fenced by a newer claim, or used by a removal). */
  staleBelow: Fence;
  idleTimer: NodeJS.Timeout | undefined;
}

/** How many directory listings or name-file reads {@link FileStorage.list} keeps in flight. */
const LIST_CONCURRENCY = 32;

/** Runs `work` on every item, {@link LIST_CONCURRENCY} at a time. */
async function inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, items.length) }, worker));
}

/** How long an idle document keeps its log open. */
const IDLE_CLOSE_MS = 5_000;

/** Options of {@link FileStorage}. */
export interface FileStorageOptions {
  /** Directory that holds the documents (created if missing). */
  dataDir: string;
  /** Default `batch`. */
  fsync?: FsyncPolicy;
  /** Called when a load leaves out a torn or corrupt tail of a log (bytes after the last whole record). */
  onTruncate?: (name: string, keptBytes: number, droppedBytes: number) => void;
}

/** File-backed {@link RelayStorage}; see the module comments for the layout, fencing and durability. */
export class FileStorage implements RelayStorage {
  private readonly root: string;
  private readonly fsync: boolean;
  private readonly documents = new Map<string, DocumentState>();
  private readonly onTruncate: FileStorageOptions["onTruncate"];
  /** Names by name-file path: a document's name never changes, so each is read once. */
  private readonly names = new Map<string, string>();
  private closed = false;
  private key: Promise<Uint8Array> | undefined;

  constructor(options: FileStorageOptions) {
    this.root = join(options.dataDir, "docs");
    this.fsync = (options.fsync ?? "batch") === "batch";
    this.onTruncate = options.onTruncate;
  }

  /** Creates the data directory and checks it is writable, so a bad `dataDir` fails at start. */
  async prepare(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (error) {
      throw new StorageError(`data directory ${this.root} is not writable: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** `<dataDir>/attestation.key`, created on first use (attestation-key.ts). */
  attestationKey(): Promise<Uint8Array> {
    this.key ??= loadOrCreateKey(join(this.root, "..", "attestation.key"), this.fsync);
    this.key.catch(() => {
      this.key = undefined;
    });
    return this.key.then((key) => key.slice());
  }

  claim(name: string): Promise<Fence> {
    return new Promise((resolve, reject) => this.enqueue(name, { kind: "claim", done: { resolve, reject } }));
  }

  load(name: string): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => this.enqueue(name, { kind: "load", done: { resolve, reject } }));
  }

  append(name: string, update: Uint8Array, fence: Fence): Promise<void> {
    return new Promise((resolve, reject) =>
      this.enqueue(name, { kind: "append", data: update, fence, done: { resolve, reject } }),
    );
  }

  compact(name: string, snapshot: Uint8Array, fence: Fence): Promise<void> {
    return new Promise((resolve, reject) =>
      this.enqueue(name, { kind: "compact", snapshot, fence, done: { resolve, reject } }),
    );
  }

  remove(name: string, fence: Fence): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue(name, { kind: "remove", fence, done: { resolve, reject } }));
  }

  /**
   * Reads every shard's listing (and each name file once per instance): O(documents) per page, since names are
   * sharded by hash and any prefix may be in any shard. Listings and name reads run {@link LIST_CONCURRENCY} at
   * a time: read one after another, a first page over 20,000 documents took seconds.
   */
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    listLimit(prefix, options);
    let shards: string[];
    try {
      shards = await readdir(this.root);
    } catch (error) {
      if (isErrno(error, "ENOENT")) return { names: [], cursor: null };
      throw error;
    }
    const paths: string[] = [];
    await inParallel(shards, async (shard) => {
      for (const file of await readdir(join(this.root, shard))) {
        if (file.endsWith(".name")) paths.push(join(this.root, shard, file));
      }
    });
    const all: string[] = [];
    await inParallel(paths, async (path) => {
      let name = this.names.get(path);
      if (name === undefined) {
        const bytes = await readOptional(path);
        if (bytes === null) return;
        name = bytes.toString("utf8");
        this.names.set(path, name);
      }
      all.push(name);
    });
    return pageOf(all, prefix, options);
  }

  async close(): Promise<void> {
    this.closed = true;
    // Queued operations finish; wait for every document's queue to drain, then close the logs.
    while ([...this.documents.values()].some((doc) => doc.running)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const doc of [...this.documents.values()]) {
      clearTimeout(doc.idleTimer);
      await this.retire(doc);
    }
  }

  /**
   * Called between the steps of a compaction; does nothing. A seam for crash tests: a subclass in a
   * child process stops here and is killed, to prove a compaction cut at each step loses nothing.
   */
  protected async compactStep(_step: CompactStep): Promise<void> {}

  private enqueue(name: string, operation: Operation): void {
    try {
      assertDocumentName(name);
      if ("fence" in operation) assertFence(operation.fence);
    } catch (error) {
      operation.done.reject(error);
      return;
    }
    if (this.closed && operation.kind !== "load") {
      operation.done.reject(new StorageError("storage is closed"));
      return;
    }
    let doc = this.documents.get(name);
    if (!doc) {
      doc = {
        files: new DocumentDir(this.root, name, this.fsync),
        queue: [],
        running: false,
        writer: null,
        staleBelow: 0,
        idleTimer: undefined,
      };
      this.documents.set(name, doc);
    }
    doc.queue.push(operation);
    clearTimeout(doc.idleTimer);
    if (!doc.running) void this.drain(doc);
  }

  private async drain(doc: DocumentState): Promise<void> {
    doc.running = true;
    try {
      while (doc.queue.length > 0) {
        const head = doc.queue[0]!;
        if (head.kind === "append") {
          let count = 0;
          while (doc.queue[count]?.kind === "append" && (doc.queue[count] as typeof head).fence === head.fence) count++;
          const batch = doc.queue.splice(0, count) as Extract<Operation, { kind: "append" }>[];
          await this.settle(
            doc,
            () =>
              this.writeBatch(
                doc,
                head.fence,
                batch.map((op) => op.data),
              ),
            batch.map((op) => op.done),
          );
          continue;
        }
        doc.queue.shift();
        if (head.kind === "compact") {
          await this.settle(doc, () => this.writeSnapshot(doc, head.fence, head.snapshot), [head.done]);
        } else if (head.kind === "remove") {
          await this.settle(doc, () => this.erase(doc, head.fence), [head.done]);
        } else if (head.kind === "claim") {
          try {
            await this.dropWriter(doc);
            const fence = await doc.files.claim();
            doc.staleBelow = fence;
            head.done.resolve(fence);
          } catch (error) {
            head.done.reject(new StorageError(`cannot claim ${doc.files.name}`, { cause: error }));
          }
        } else {
          try {
            head.done.resolve(await this.readDocument(doc));
          } catch (error) {
            head.done.reject(
              error instanceof StorageError
                ? error
                : new StorageError(`cannot load ${doc.files.name}`, { cause: error }),
            );
          }
        }
      }
    } finally {
      doc.running = false;
      if (doc.queue.length === 0) {
        doc.idleTimer = setTimeout(() => void this.retire(doc), this.closed ? 0 : IDLE_CLOSE_MS);
        doc.idleTimer.unref();
      }
    }
  }

  /** Closes an idle document's log and forgets it (its writer is read back from disk when needed). */
  private async retire(doc: DocumentState): Promise<void> {
    if (doc.running || doc.queue.length > 0) return;
    if (this.documents.get(doc.files.name) === doc) this.documents.delete(doc.files.name);
    await this.dropWriter(doc);
  }

  private async dropWriter(doc: DocumentState): Promise<void> {
    const log = doc.writer?.log;
    doc.writer = null;
    await log?.close().catch(() => {});
  }

  private async settle(doc: DocumentState, work: () => Promise<void>, waiters: Deferred<void>[]): Promise<void> {
    try {
      await work();
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      if (error instanceof FencedError) await this.dropWriter(doc);
      const failure = error instanceof FencedError ? error : new StorageError("write failed", { cause: error });
      for (const waiter of waiters) waiter.reject(failure);
    }
  }

  /** The writer for `fence`, read from disk if this instance has not written with it yet; throws if stale. */
  private async writerFor(doc: DocumentState, fence: Fence): Promise<Writer> {
    if (doc.writer?.fence === fence) return doc.writer;
    const entries = fence < doc.staleBelow ? null : await doc.files.ifNewest(fence);
    if (entries === null) throw new FencedError(doc.files.name);
    const manifest = await doc.files.writerManifest(fence, entries);
    if (manifest === null) throw new FencedError(doc.files.name);
    const open = manifest.segments[manifest.segments.length - 1]?.file ?? `log.${fence}.0`;
    const seq = Number(open.split(".")[2] ?? 0);
    // Named on the first write, not the claim: a room opened and never written is not listed.
    await doc.files.ensureNamed();
    await this.dropWriter(doc);
    doc.writer = { fence, manifest, seq, log: null, logSize: 0 };
    return doc.writer;
  }

  /**
   * Throws {@link FencedError} unless `fence` is still the newest claim (checked after each write): its own
   * fence file is there and the next one is not. Claims create epochs one after another and delete older
   * fences oldest first, so `fence.<E+1>` can only be gone while a newer claim exists if `fence.<E>` is gone too.
   * (A claim skips epochs only past files whose fence a power loss dropped: their writers are gone.)
   */
  private checkNewest(doc: DocumentState, fence: Fence): void {
    // Two synchronous stat() calls, microseconds each, once per group commit.
    const own = statSync(doc.files.path(`fence.${fence}`), { throwIfNoEntry: false });
    const next = statSync(doc.files.path(`fence.${fence + 1}`), { throwIfNoEntry: false });
    if (own === undefined || next !== undefined) {
      doc.staleBelow = Math.max(doc.staleBelow, fence + 1);
      throw new FencedError(doc.files.name);
    }
  }

  private async writeBatch(doc: DocumentState, fence: Fence, updates: Uint8Array[]): Promise<void> {
    const writer = await this.writerFor(doc, fence);
    if (writer.log === null) {
      // With fsync on, O_DSYNC makes the batch's single write() return only once it is on disk: one
      // system call per group commit instead of write() then fdatasync().
      const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (this.fsync ? constants.O_DSYNC : 0);
      writer.log = await open(doc.files.path(`log.${fence}.${writer.seq}`), flags, 0o644);
      writer.logSize = (await writer.log.stat()).size;
      // A new log file's directory entry must be durable before anything in it is acknowledged.
      if (this.fsync && writer.logSize === 0) await syncDirectory(doc.files.dir);
    }
    const log = writer.log;
    const size = writer.logSize;
    const bytes = Buffer.concat(updates.map(encodeRecord));
    try {
      // Without fsync the write only has to reach the kernel: a synchronous write() of one small batch costs
      // microseconds, while the asynchronous one waits for a thread-pool round trip on every message.
      if (this.fsync) await writeAll(log, bytes);
      else writeAllSync(log, bytes);
    } catch (error) {
      await log.truncate(size).catch(() => {});
      throw error;
    }
    writer.logSize = size + bytes.length;
    this.checkNewest(doc, fence);
  }

  private async writeSnapshot(doc: DocumentState, fence: Fence, snapshot: Uint8Array): Promise<void> {
    const writer = await this.writerFor(doc, fence);
    const seq = writer.seq + 1;
    const file = `snapshot.${fence}.${seq}`;
    const handle = await open(doc.files.path(file), "w");
    try {
      await writeAll(handle, encodeRecord(snapshot));
      if (this.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await this.compactStep("snapshot-written");
    const before = writer.manifest;
    const after: Manifest = {
      segments: [
        { file, end: null, kind: "snapshot" },
        { file: `log.${fence}.${seq}`, end: null, kind: "log" },
      ],
    };
    // The commit point: a crash before it leaves the old segments, after it the snapshot.
    await doc.files.writeManifest(fence, after);
    await this.compactStep("manifest-committed");
    await writer.log?.close();
    Object.assign(writer, { manifest: after, seq, log: null, logSize: 0 });
    this.checkNewest(doc, fence);
    await doc.files.dropReplaced(before, after);
  }

  private async erase(doc: DocumentState, fence: Fence): Promise<void> {
    const writer = await this.writerFor(doc, fence);
    this.checkNewest(doc, fence);
    // The name first: a crash part-way leaves a document nobody lists rather than a listed empty one.
    await rm(doc.files.nameFile, { force: true });
    if (this.fsync) await syncDirectory(doc.files.shard);
    this.names.delete(doc.files.nameFile);
    const before = writer.manifest;
    const after: Manifest = { segments: [] };
    await doc.files.writeManifest(fence, after);
    await this.dropWriter(doc);
    this.checkNewest(doc, fence);
    await doc.files.dropReplaced(before, after);
    // The remover's fence is spent: writing the name again takes a new claim.
    doc.staleBelow = Math.max(doc.staleBelow, fence + 1);
  }

  private async readDocument(doc: DocumentState): Promise<Uint8Array[]> {
    // A compaction may delete a segment between reading the manifest and the segment: then read again.
    for (let attempt = 0; ; attempt++) {
      const entries = await doc.files.entries();
      const manifest = await doc.files.current(newestFence(entries), entries);
      const updates: Uint8Array[] = [];
      let missing: "log" | "snapshot" | null = null;
      for (const segment of manifest.segments) {
        const bytes = await readOptional(doc.files.path(segment.file));
        if (bytes === null) {
          missing ??= segment.kind;
          continue;
        }
        const readable = segment.end === null ? bytes : bytes.subarray(0, segment.end);
        const { records, validBytes } = decodeRecords(readable);
        if (segment.kind === "snapshot" && (records.length !== 1 || validBytes !== readable.length)) {
          throw new StorageError(`snapshot of ${doc.files.name} is corrupt`);
        }
        if (validBytes < readable.length) this.onTruncate?.(doc.files.name, validBytes, readable.length - validBytes);
        updates.push(...records);
      }
      if (missing === null) return updates;
      const again = await doc.files.current(newestFence(await doc.files.entries()));
      if (JSON.stringify(again) === JSON.stringify(manifest)) {
        // Same manifest: a log nobody has written to yet is simply empty; a snapshot must exist.
        if (missing === "snapshot") throw new StorageError(`snapshot of ${doc.files.name} is missing`);
        return updates;
      }
      if (attempt >= 10) throw new StorageError(`segments of ${doc.files.name} keep disappearing`);
    }
  }
}
