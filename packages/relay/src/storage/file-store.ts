/**
 * The default {@link RelayStorage}: files under a data directory, no server needed.
 *
 * Each document has, under `<dataDir>/docs/<h[0..2]>/<h>` where `h = sha256(name)` in hex:
 * - `<h>.name`: the document's name (written once, so `list()` can return names);
 * - `<h>.log`: an append-only log of records `u32le length | u32le crc32(payload) | payload`;
 * - `<h>.snapshot`: one such record holding a compacted state, replaced atomically (temp file, fsync, rename).
 *
 * Appends to a document are serialized and group-committed: every append queued while a write is in
 * flight goes into the next single write (with `fsync: "batch"`, on a log opened with O_DSYNC: the write
 * returns once the data is on disk, like write() + fdatasync() but in one system call). With
 * `fsync: "off"` the data reaches the kernel with a synchronous write() before the promise resolves, which survives a
 * crash of the relay process (SIGKILL) but not a power loss. A record torn by a crash mid-write fails its
 * length or checksum and is cut off on load; it was never acknowledged, since acknowledgement waits for
 * the write to finish.
 */
import { createHash } from "node:crypto";
import { constants, writeSync } from "node:fs";
import { access, type FileHandle, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { FencedError, StorageError } from "@parley/protocol";
import type { FsyncPolicy } from "../config/config.js";
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

const HEADER_BYTES = 8;
/** Records above this are treated as corruption rather than allocated. */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Operation =
  | { kind: "claim"; done: Deferred<Fence> }
  | { kind: "append"; data: Uint8Array; fence: Fence; done: Deferred<void> }
  | { kind: "compact"; snapshot: Uint8Array; fence: Fence; done: Deferred<void> }
  | { kind: "remove"; fence: Fence; done: Deferred<void> }
  | { kind: "load"; done: Deferred<Uint8Array[]> };

interface DocumentFiles {
  name: string;
  dir: string;
  base: string;
  queue: Operation[];
  running: boolean;
  /** Whether the directory and the name file exist. */
  created: boolean;
  /** Log length in bytes once known: a failed write is cut back to it so no half record stays. */
  logSize: number | undefined;
  /** The log, open for appending while the document is busy (closed after it has been idle a while). */
  log: FileHandle | null;
  idleTimer: NodeJS.Timeout | undefined;
}

/** How long an idle document keeps its log open. */
const IDLE_CLOSE_MS = 5_000;

/** Options of {@link FileStorage}. */
export interface FileStorageOptions {
  /** Directory that holds the documents (created if missing). */
  dataDir: string;
  /** Default `batch`. */
  fsync?: FsyncPolicy;
  /** Called when a torn tail is cut off a log on load. */
  onTruncate?: (name: string, keptBytes: number, droppedBytes: number) => void;
}

/** Frames one record. */
export function encodeRecord(payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  record.set(payload, HEADER_BYTES);
  return record;
}

/** Reads framed records up to the first incomplete or corrupt one; returns them and where valid data ends. */
export function decodeRecords(bytes: Uint8Array): { records: Uint8Array[]; validBytes: number } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const length = buffer.readUInt32LE(offset);
    const checksum = buffer.readUInt32LE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES || end > buffer.length) break;
    const payload = buffer.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== checksum) break;
    records.push(new Uint8Array(payload));
    offset = end;
  }
  return { records, validBytes: offset };
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** File-backed {@link RelayStorage}; see the module comment for the layout and durability. */
export class FileStorage implements RelayStorage {
  private readonly root: string;
  private readonly fsync: boolean;
  private readonly documents = new Map<string, DocumentFiles>();
  private readonly onTruncate: FileStorageOptions["onTruncate"];
  private closed = false;

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

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    listLimit(prefix, options);
    return pageOf(await this.allNames(), prefix, options);
  }

  private async allNames(): Promise<string[]> {
    const names: string[] = [];
    let shards: string[];
    try {
      shards = await readdir(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    for (const shard of shards) {
      for (const file of await readdir(join(this.root, shard))) {
        if (file.endsWith(".name")) names.push(await readFile(join(this.root, shard, file), "utf8"));
      }
    }
    return names.sort();
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

  private files(name: string): DocumentFiles {
    let doc = this.documents.get(name);
    if (!doc) {
      const hash = createHash("sha256").update(name).digest("hex");
      const dir = join(this.root, hash.slice(0, 2));
      doc = {
        name,
        dir,
        base: join(dir, hash),
        queue: [],
        running: false,
        created: false,
        logSize: undefined,
        log: null,
        idleTimer: undefined,
      };
      this.documents.set(name, doc);
    }
    return doc;
  }

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
    const doc = this.files(name);
    doc.queue.push(operation);
    clearTimeout(doc.idleTimer);
    if (!doc.running) void this.drain(doc);
  }

  private async drain(doc: DocumentFiles): Promise<void> {
    doc.running = true;
    try {
      while (doc.queue.length > 0) {
        const head = doc.queue[0]!;
        if (head.kind === "append") {
          let count = 0;
          while (doc.queue[count]?.kind === "append" && (doc.queue[count] as typeof head).fence === head.fence) count++;
          const batch = doc.queue.splice(0, count) as Extract<Operation, { kind: "append" }>[];
          await this.settle(
            async () => {
              await this.checkFence(doc, head.fence);
              await this.writeBatch(
                doc,
                batch.map((op) => op.data),
              );
            },
            batch.map((op) => op.done),
          );
        } else if (head.kind === "compact") {
          doc.queue.shift();
          await this.settle(async () => {
            await this.checkFence(doc, head.fence);
            await this.writeSnapshot(doc, head.snapshot);
          }, [head.done]);
        } else if (head.kind === "remove") {
          doc.queue.shift();
          await this.settle(async () => {
            await this.checkFence(doc, head.fence);
            await this.erase(doc);
          }, [head.done]);
        } else if (head.kind === "claim") {
          doc.queue.shift();
          try {
            head.done.resolve(await this.writeFence(doc));
          } catch (error) {
            head.done.reject(new StorageError(`cannot claim ${doc.name}`, { cause: error }));
          }
        } else {
          doc.queue.shift();
          try {
            head.done.resolve(await this.readDocument(doc));
          } catch (error) {
            head.done.reject(new StorageError(`cannot load ${doc.name}`, { cause: error }));
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

  /** Closes an idle document's log and forgets it, so the map does not grow with every document touched. */
  private async retire(doc: DocumentFiles): Promise<void> {
    if (doc.running || doc.queue.length > 0) return;
    this.documents.delete(doc.name);
    const log = doc.log;
    doc.log = null;
    await log?.close().catch(() => {});
  }

  private async settle(work: () => Promise<void>, waiters: Deferred<void>[]): Promise<void> {
    try {
      await work();
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      const failure = error instanceof FencedError ? error : new StorageError("write failed", { cause: error });
      for (const waiter of waiters) waiter.reject(failure);
    }
  }

  private async readFence(doc: DocumentFiles): Promise<Fence> {
    const text = await readOptional(`${doc.base}.fence`);
    return text === null ? 0 : Number(text.toString("utf8"));
  }

  private async writeFence(doc: DocumentFiles): Promise<Fence> {
    await mkdir(doc.dir, { recursive: true });
    const fence = (await this.readFence(doc)) + 1;
    const temp = `${doc.base}.fence.tmp`;
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(String(fence), "utf8");
      if (this.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, `${doc.base}.fence`);
    if (this.fsync) await syncDirectory(doc.dir);
    return fence;
  }

  private async checkFence(doc: DocumentFiles, fence: Fence): Promise<void> {
    if ((await this.readFence(doc)) !== fence) throw new FencedError(doc.name);
  }

  private async erase(doc: DocumentFiles): Promise<void> {
    const log = doc.log;
    doc.log = null;
    await log?.close();
    for (const suffix of ["name", "snapshot", "log"]) await rm(`${doc.base}.${suffix}`, { force: true });
    if (this.fsync) await syncDirectory(doc.dir);
    doc.created = false;
    doc.logSize = 0;
  }

  private async ensureCreated(doc: DocumentFiles): Promise<void> {
    if (doc.created) return;
    await mkdir(doc.dir, { recursive: true });
    const nameFile = `${doc.base}.name`;
    if ((await readOptional(nameFile)) === null) {
      const temp = `${nameFile}.tmp`;
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(doc.name, "utf8");
        if (this.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, nameFile);
      if (this.fsync) {
        await syncDirectory(doc.dir);
        await syncDirectory(this.root);
      }
    }
    doc.created = true;
  }

  private async writeBatch(doc: DocumentFiles, updates: Uint8Array[]): Promise<void> {
    await this.ensureCreated(doc);
    if (doc.log === null) {
      // With fsync on, O_DSYNC makes the batch's single write() return only once it is on disk: one
      // system call per group commit instead of write() then fdatasync().
      const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (this.fsync ? constants.O_DSYNC : 0);
      doc.log = await open(`${doc.base}.log`, flags, 0o644);
      doc.logSize = (await doc.log.stat()).size;
    }
    const log = doc.log;
    const size = doc.logSize ?? 0;
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
    doc.logSize = size + bytes.length;
  }

  private async writeSnapshot(doc: DocumentFiles, snapshot: Uint8Array): Promise<void> {
    await this.ensureCreated(doc);
    const temp = `${doc.base}.snapshot.tmp`;
    const handle = await open(temp, "w");
    try {
      await writeAll(handle, encodeRecord(snapshot));
      if (this.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, `${doc.base}.snapshot`);
    if (this.fsync) await syncDirectory(doc.dir);
    // The snapshot holds everything in the log: from here a crash leaves both, which replays the same.
    const log = doc.log;
    doc.log = null;
    await log?.close();
    await rm(`${doc.base}.log`, { force: true });
    if (this.fsync) await syncDirectory(doc.dir);
    doc.logSize = 0;
  }

  private async readDocument(doc: DocumentFiles): Promise<Uint8Array[]> {
    const updates: Uint8Array[] = [];
    const snapshot = await readOptional(`${doc.base}.snapshot`);
    if (snapshot !== null) {
      const { records, validBytes } = decodeRecords(snapshot);
      if (records.length !== 1 || validBytes !== snapshot.length) {
        throw new StorageError(`snapshot of ${doc.name} is corrupt`);
      }
      updates.push(records[0]!);
    }
    const log = await readOptional(`${doc.base}.log`);
    if (log !== null) {
      const { records, validBytes } = decodeRecords(log);
      if (validBytes < log.length) {
        const handle = await open(`${doc.base}.log`, "r+");
        try {
          await handle.truncate(validBytes);
          if (this.fsync) await handle.datasync();
        } finally {
          await handle.close();
        }
        this.onTruncate?.(doc.name, validBytes, log.length - validBytes);
      }
      updates.push(...records);
      doc.logSize = validBytes;
    } else {
      doc.logSize = 0;
    }
    doc.created = snapshot !== null || log !== null || doc.created;
    return updates;
  }
}

function writeAllSync(handle: FileHandle, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(handle.fd, bytes, offset, bytes.length - offset);
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
