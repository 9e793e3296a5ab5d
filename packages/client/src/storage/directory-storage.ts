/**
 * A {@link ClientStorage} for Node: everything under one directory.
 *
 * - Records are JSON files written to a temporary name, fsynced and renamed into place (then the
 *   directory is fsynced), so a crash leaves either the old or the new record, never a torn one.
 * - A document is an append-only log of length-prefixed Yjs updates (`uint32 BE length`, bytes).
 *   Opening it reads the log, drops a torn tail, and compacts it into one update when nothing else
 *   has it open. Appends are serialized per document; `flush()` fsyncs.
 * - `deleteDoc` unlinks the log, fsyncs the directory and checks with `stat` that it is gone.
 *
 * One process should own a directory at a time; several clients in that process may share one
 * `directoryStorage` instance (they act as tabs).
 *
 * `node:fs` is imported lazily so that browser bundles of the client, which never call this, build.
 */
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import * as Y from "yjs";
import type { ClientStorage, DocHandle, StoredValue } from "./storage.js";

type Fs = typeof import("node:fs/promises");
let fsModule: Promise<Fs> | undefined;
function loadFs(): Promise<Fs> {
  fsModule ??= import("node:fs/promises");
  return fsModule;
}

function join(...parts: string[]): string {
  return parts.join("/");
}

function randomSuffix(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("hex");
}

const DOC_SUFFIX = ".ylog";
const RECORD_SUFFIX = ".json";

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

async function writeFileDurably(path: string, data: Uint8Array | string): Promise<void> {
  const { open, rename } = await loadFs();
  const temporary = `${path}.${randomSuffix()}.tmp`;
  const file = await open(temporary, "w");
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  await syncDirectory(path.slice(0, path.lastIndexOf("/")));
}

/** Makes a rename or unlink in `dir` durable (the entry lives in the directory, not the file). */
async function syncDirectory(dir: string): Promise<void> {
  const { open } = await loadFs();
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename itself is still atomic.
  }
}

/**
 * Creates a store that keeps a client's data in `path` (created if missing).
 * @param path - a directory that only this client (and its "tabs" in this process) uses.
 */
export function directoryStorage(path: string): ClientStorage {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("path", "must be a non-empty directory path");
  }
  const recordsDir = join(path, "records");
  const docsDir = join(path, "docs");
  let ready: Promise<Fs> | undefined;
  const prepare = () => {
    ready ??= loadFs().then(async (fs) => {
      await fs.mkdir(recordsDir, { recursive: true });
      await fs.mkdir(docsDir, { recursive: true });
      return fs;
    });
    return ready;
  };
  /** Per document: the tail of its write queue and how many handles are open. */
  const queues = new Map<string, Promise<void>>();
  const openHandles = new Map<string, number>();

  const recordPath = (key: string) => join(recordsDir, encodeName(key) + RECORD_SUFFIX);
  const docPath = (name: string) => join(docsDir, encodeName(name) + DOC_SUFFIX);

  function enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const next = (queues.get(name) ?? Promise.resolve()).then(task);
    // A failed write must not wedge later ones; the failure is reported by the promise returned here.
    queues.set(
      name,
      next.catch(() => {}),
    );
    return next;
  }

  async function wrap<T>(what: string, task: (fs: Fs) => Promise<T>): Promise<T> {
    try {
      return await task(await prepare());
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(`${what} failed: ${String(error)}`, { cause: error });
    }
  }

  return {
    get(key) {
      return wrap(`reading ${key}`, async ({ readFile }) => {
        try {
          return JSON.parse(await readFile(recordPath(key), "utf8")) as StoredValue;
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw error;
        }
      });
    },
    set(key, value) {
      return wrap(`writing ${key}`, () => writeFileDurably(recordPath(key), JSON.stringify(value)));
    },
    delete(key) {
      return wrap(`deleting ${key}`, ({ rm }) => rm(recordPath(key), { force: true }));
    },
    openDoc(name, doc) {
      return wrap(`opening ${name}`, async ({ open, readFile }) => {
        const file = docPath(name);
        const alreadyOpen = (openHandles.get(name) ?? 0) > 0;
        openHandles.set(name, (openHandles.get(name) ?? 0) + 1);
        let failures: unknown;
        const persist = (update: Uint8Array, origin: unknown) => {
          if (origin === directoryStorage) return;
          enqueue(name, async () => {
            const handle = await open(file, "a");
            try {
              await handle.write(frame(update));
            } finally {
              await handle.close();
            }
          }).catch((error: unknown) => {
            failures = error;
          });
        };
        try {
          await enqueue(name, async () => {
            let data: Buffer;
            try {
              data = await readFile(file);
            } catch (error) {
              if (!isMissing(error)) throw error;
              data = Buffer.alloc(0);
            }
            const { updates, validBytes } = readFrames(data);
            if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates), directoryStorage);
            // Compacting under another handle's appends would lose them, so only the first opener compacts.
            if (!alreadyOpen && (updates.length > 1 || validBytes !== data.length)) {
              await writeFileDurably(file, updates.length > 0 ? frame(Y.encodeStateAsUpdate(doc)) : new Uint8Array());
            }
          });
        } catch (error) {
          openHandles.set(name, (openHandles.get(name) ?? 1) - 1);
          throw error;
        }
        doc.on("update", persist);
        let closed = false;
        const flush = () =>
          enqueue(name, async () => {
            if (failures !== undefined) throw failures;
            try {
              const handle = await open(file, "r");
              try {
                await handle.sync();
              } finally {
                await handle.close();
              }
            } catch (error) {
              if (!isMissing(error)) throw error;
            }
          });
        const handle: DocHandle = {
          flush: () => wrap(`flushing ${name}`, flush),
          close: () =>
            wrap(`closing ${name}`, async () => {
              if (closed) return;
              closed = true;
              doc.off("update", persist);
              try {
                await flush();
              } finally {
                const count = (openHandles.get(name) ?? 1) - 1;
                if (count <= 0) openHandles.delete(name);
                else openHandles.set(name, count);
              }
            }),
        };
        return handle;
      });
    },
    deleteDoc(name) {
      return wrap(`deleting ${name}`, async ({ stat, unlink }) => {
        if ((openHandles.get(name) ?? 0) > 0) throw new StorageError(`document ${name} still has open handles`);
        const file = docPath(name);
        await enqueue(name, async () => {
          try {
            await unlink(file);
          } catch (error) {
            if (!isMissing(error)) throw error;
          }
          await syncDirectory(docsDir);
          try {
            await stat(file);
          } catch (error) {
            if (isMissing(error)) return;
            throw error;
          }
          throw new StorageError(`document ${name} is still on disk after deletion`);
        });
      });
    },
    listDocs() {
      return wrap("listing documents", async ({ readdir }) => {
        const names = await readdir(docsDir);
        return names.filter((n) => n.endsWith(DOC_SUFFIX)).map((n) => decodeName(n.slice(0, -DOC_SUFFIX.length)));
      });
    },
  };
}
