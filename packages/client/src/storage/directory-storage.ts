/**
 * A {@link ClientStorage} for Node: everything under one directory.
 *
 * - Records are JSON files written to a temporary name, fsynced and renamed into place (then the
 *   directory is fsynced), so a crash leaves either the old or the new record, never a torn one.
 * - A document is an append-only log of length-prefixed Yjs updates (`uint32 BE length`, bytes).
 *   Opening it reads the log, drops a torn tail and compacts it into one update (written to a temporary
 *   file and renamed into place); `flush()` fsyncs. The Yjs side is log-documents.ts.
 * - `deleteDoc` unlinks the log, fsyncs the directory and checks with `stat` that it is gone.
 * - Temporary files a crash left mid-write (which may hold a whole record or document) are removed the
 *   first time the process uses the directory, so no erased data survives in one.
 *
 * Every `directoryStorage` instance of one process given the same directory shares one queue per
 * document, so several clients of a process act as tabs of one store. One process should own a
 * directory at a time: two processes appending to one log while either compacts it can lose updates.
 */
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import { type LogDocuments, logDocuments, type UpdateLog } from "./log-documents.js";
import type { ClientStorage, StoredValue } from "./storage.js";

const DOC_SUFFIX = ".ylog";
const RECORD_SUFFIX = ".json";

/** What every instance on one directory shares: its preparation and its documents' queues. */
interface Medium {
  ready: () => Promise<void>;
  documents: LogDocuments;
}

/** Every directory this process has opened, by absolute path. */
const mediums = new Map<string, Medium>();

/** File-name-safe, reversible encoding of a key or document name. */
function encodeName(name: string): string {
  return Buffer.from(name, "utf8").toString("base64url");
}

function decodeName(encoded: string): string {
  return Buffer.from(encoded, "base64url").toString("utf8");
}

function frame(update: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + update.length);
  out.writeUInt32BE(update.length, 0);
  out.set(update, 4);
  return out;
}

/** The complete records of a log; a torn or unreadable tail is ignored (it was never acknowledged). */
function readFrames(data: Buffer): { updates: Uint8Array[]; validBytes: number } {
  const updates: Uint8Array[] = [];
  let offset = 0;
  while (offset + 4 <= data.length) {
    const length = data.readUInt32BE(offset);
    if (offset + 4 + length > data.length) break;
    updates.push(new Uint8Array(data.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return { updates, validBytes: offset };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

async function closing<T>(file: FileHandle, use: (file: FileHandle) => Promise<T>): Promise<T> {
  try {
    return await use(file);
  } finally {
    await file.close();
  }
}

async function writeFileDurably(dir: string, path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(6))).toString("hex")}.tmp`;
  await closing(await open(temporary, "w"), async (file) => {
    await file.writeFile(data);
    await file.sync();
  });
  await rename(temporary, path);
  await syncDirectory(dir);
}

/** Makes a rename or unlink in `dir` durable (the entry lives in the directory, not the file). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, "r");
  } catch {
    return; // Some platforms (Windows) cannot open a directory; the rename itself is still atomic.
  }
  await closing(handle, (h) => h.sync()).catch(() => {});
}

/** Runs `task`, reporting any failure as a `StorageError` that says what was being done. */
async function wrap<T>(what: string, task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(`${what} failed: ${String(error)}`, { cause: error });
  }
}

/** The update logs under `docsDir`, one file per document. */
function directoryLog(docsDir: string, ready: () => Promise<void>): UpdateLog {
  const docPath = (name: string) => `${docsDir}/${encodeName(name)}${DOC_SUFFIX}`;
  return {
    read: (name) =>
      wrap(`reading document ${name}`, async () => {
        await ready();
        let data: Buffer;
        try {
          data = await readFile(docPath(name));
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw error;
        }
        const { updates, validBytes } = readFrames(data);
        return { updates, compact: validBytes !== data.length };
      }),
    append: (name, update) =>
      wrap(`writing document ${name}`, async () => {
        await closing(await open(docPath(name), "a"), (file) => file.write(frame(update)));
      }),
    replace: (name, updates) =>
      wrap(`compacting document ${name}`, async () => {
        await ready();
        await writeFileDurably(docsDir, docPath(name), Buffer.concat(updates.map(frame)));
      }),
    sync: (name) =>
      wrap(`flushing document ${name}`, async () => {
        try {
          await closing(await open(docPath(name), "r"), (file) => file.sync());
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }),
    erase: (name) =>
      wrap(`deleting document ${name}`, async () => {
        await ready();
        const file = docPath(name);
        await unlink(file).catch((error: unknown) => {
          if (!isMissing(error)) throw error;
        });
        await syncDirectory(docsDir);
        const still = await stat(file).then(
          () => true,
          (error: unknown) => {
            if (isMissing(error)) return false;
            throw error;
          },
        );
        if (still) throw new StorageError(`document ${name} is still on disk after deletion`);
      }),
    list: () =>
      wrap("listing documents", async () => {
        await ready();
        const names = await readdir(docsDir);
        return names.filter((n) => n.endsWith(DOC_SUFFIX)).map((n) => decodeName(n.slice(0, -DOC_SUFFIX.length)));
      }),
  };
}

/**
 * Removes what a crash in the middle of a write left in `dir`: temporary copies (`<name>.<random>.tmp`) of
 * records and compacted documents. They may hold a whole identity or conversation, which a later `delete`
 * or `deleteDoc` of that name must not leave behind. Run before this process writes anything there, so
 * no temporary file is one of ours in flight.
 */
async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(".tmp")) await rm(`${dir}/${name}`, { force: true });
  }
  await syncDirectory(dir);
}

function openMedium(root: string): Medium {
  const recordsDir = `${root}/records`;
  const docsDir = `${root}/docs`;
  let made: Promise<void> | undefined;
  const ready = () => {
    made ??= (async () => {
      await mkdir(recordsDir, { recursive: true });
      await mkdir(docsDir, { recursive: true });
      await removeLeftovers(recordsDir);
      await removeLeftovers(docsDir);
    })().catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
  return { ready, documents: logDocuments(directoryLog(docsDir, ready)) };
}

/**
 * Creates a store that keeps a client's data in `path` (created if missing).
 * @param path - a directory that only this process uses; instances given the same directory share it
 *   as tabs of one origin would.
 */
export function directoryStorage(path: string): ClientStorage {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("path", "must be a non-empty directory path");
  }
  const root = resolve(path);
  const recordsDir = `${root}/records`;
  let medium = mediums.get(root);
  if (medium === undefined) {
    medium = openMedium(root);
    mediums.set(root, medium);
  }
  const { ready, documents } = medium;
  const recordPath = (key: string) => `${recordsDir}/${encodeName(key)}${RECORD_SUFFIX}`;

  return {
    get: (key) =>
      wrap(`reading ${key}`, async () => {
        await ready();
        try {
          return JSON.parse(await readFile(recordPath(key), "utf8")) as StoredValue;
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw error;
        }
      }),
    set: (key, value) =>
      wrap(`writing ${key}`, async () => {
        await ready();
        await writeFileDurably(recordsDir, recordPath(key), JSON.stringify(value));
      }),
    delete: (key) =>
      wrap(`deleting ${key}`, async () => {
        await ready();
        await rm(recordPath(key), { force: true });
        await syncDirectory(recordsDir);
      }),
    ...documents,
  };
}
