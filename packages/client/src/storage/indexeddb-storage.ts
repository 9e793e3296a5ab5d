/**
 * The browser store: IndexedDB through y-indexeddb, made to keep the {@link ClientStorage} contract.
 *
 * Layout: one database per document, named `<prefix><docName>` (y-indexeddb's own schema), and one
 * small database `<prefix>~kv` for JSON records. Room names always contain `/`, so no document can be
 * called `~kv`.
 *
 * y-indexeddb alone does not keep the contract (see FIELD-NOTES "y-indexeddb"), so this adapter adds:
 * - `flush()`: y-indexeddb adds each update in a fire-and-forget transaction. IndexedDB runs readwrite
 *   transactions on overlapping stores in creation order, so a strict-durability transaction that writes a
 *   marker into the same database completes only after every earlier update write is on disk.
 * - `close()`: awaits the persistence's destroy, which closes the connection, so a later delete is not blocked.
 * - `deleteDoc()`: `clearData()` does not await the delete, and `deleteDatabase` stays blocked while another
 *   connection holds the database open. Every handle of this adapter, in any tab, answers the deletion's
 *   `versionchange` by detaching (closing its connection and no longer persisting), so deletion wins over
 *   open handles as the contract says. This awaits the request's `success`, tolerates `blocked` (a foreign
 *   connection) for a bounded time, then checks with `indexedDB.databases()` that the database is really
 *   gone, retrying with backoff.
 * - Open failures (private mode, quota) reject `openDoc` with a `StorageError` instead of becoming
 *   unhandled rejections.
 */
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import { IndexeddbPersistence } from "y-indexeddb";
import type * as Y from "yjs";
import type { ClientStorage, DocHandle, StoredValue } from "./storage.js";

/** Options of {@link indexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /**
   * Prefix of every IndexedDB database this store creates; two stores with different prefixes never see
   * each other's data. Default `"parley/"`.
   */
  prefix?: string;
  /**
   * How long `deleteDoc` waits for other connections to the database to close before it fails with a
   * `StorageError` (the deletion still happens once they close). Default 10,000 ms.
   */
  deleteTimeoutMs?: number;
}

const DEFAULT_PREFIX = "parley/";
const KV_DATABASE = "~kv";
const KV_STORE = "kv";
// y-indexeddb's schema: "updates" holds the document, "custom" is free for the application.
const UPDATES_STORE = "updates";
const CUSTOM_STORE = "custom";
const FLUSH_MARKER = "parley/flushed";
const DEFAULT_DELETE_TIMEOUT_MS = 10_000;
const DELETE_ATTEMPTS = 5;

/**
 * A {@link ClientStorage} on IndexedDB, the default in browsers.
 *
 * Documents are persisted with y-indexeddb, one database per document named `<prefix><docName>`;
 * records live in `<prefix>~kv`. Every write is committed with strict durability before its promise
 * resolves. `deleteDoc` fails with a `StorageError` if the database is still held open elsewhere after
 * `deleteTimeoutMs`, or if `indexedDB.databases()` still lists it.
 *
 * @example
 * ```ts
 * const client = createClient({ appId, relayUrl, storage: indexedDbStorage({ prefix: "myapp/" }) });
 * ```
 */
export function indexedDbStorage(options: IndexedDbStorageOptions = {}): ClientStorage {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const deleteTimeoutMs = options.deleteTimeoutMs ?? DEFAULT_DELETE_TIMEOUT_MS;
  if (typeof prefix !== "string") throw new InvalidArgumentError("prefix", "must be a string");
  if (!Number.isFinite(deleteTimeoutMs) || deleteTimeoutMs < 0) {
    throw new InvalidArgumentError("deleteTimeoutMs", "must be a non-negative number of milliseconds");
  }
  const kv = new KvDatabase(prefix + KV_DATABASE);

  return {
    get: (key) => kv.get(key),
    set: (key, value) => kv.set(key, value),
    delete: (key) => kv.delete(key),
    openDoc: (name, doc) => openDoc(prefix + name, doc),
    deleteDoc: (name) => deleteDatabase(prefix + name, deleteTimeoutMs),
    async listDocs() {
      const names = await databaseNames();
      return names
        .filter((name) => name.startsWith(prefix) && name !== prefix + KV_DATABASE)
        .map((name) => name.slice(prefix.length));
    },
  };
}

async function openDoc(databaseName: string, doc: Y.Doc): Promise<DocHandle> {
  const persistence = new IndexeddbPersistence(databaseName, doc);
  // Why the handle stopped persisting on its own: the database was deleted (or upgraded) elsewhere.
  let detached: StorageError | undefined;
  let onDetached: () => void = () => {};
  const detachedSignal = new Promise<void>((resolve) => {
    onDetached = resolve;
  });
  // Registered as soon as the connection exists (before any versionchange task can run): a deletion,
  // in this tab or another, closes the connection and stops persisting, or the next update would throw
  // from inside the document's update handler. lib0 alone would only close the connection.
  const opened = persistence._db.then(
    (db) => {
      db.onversionchange = (event) => {
        detached ??= new StorageError(
          event.newVersion === null
            ? `document in IndexedDB database "${databaseName}" was deleted while this handle was open`
            : `IndexedDB database "${databaseName}" was upgraded elsewhere while this handle was open`,
        );
        db.close();
        void persistence.destroy();
        onDetached();
      };
    },
    // y-indexeddb has no error event: an open failure only rejects this internal promise.
    (error: unknown) => {
      throw new StorageError(`cannot open IndexedDB database "${databaseName}"`, { cause: error });
    },
  );
  try {
    // A handle detached while loading never emits `synced`; it resolves detached instead of hanging.
    await Promise.race([Promise.all([opened, persistence.whenSynced]), detachedSignal]);
  } catch (error) {
    await persistence.destroy().catch(() => {});
    throw error;
  }
  const db = persistence.db!;

  let closed: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (closed !== undefined) return;
    if (detached !== undefined) throw detached;
    if (persistence._destroyed) return;
    await commit(db, [UPDATES_STORE, CUSTOM_STORE], (tx) => {
      tx.objectStore(CUSTOM_STORE).put(Date.now(), FLUSH_MARKER);
    });
  };
  return {
    flush,
    close() {
      if (closed !== undefined) return closed;
      const finalFlush = detached === undefined ? flush() : Promise.resolve();
      closed = (async () => {
        let failure: unknown;
        await finalFlush.catch((error: unknown) => {
          failure = error;
        });
        await persistence.destroy();
        if (failure !== undefined) throw failure;
      })();
      return closed;
    },
  };
}

/** Runs `write` in a strict-durability readwrite transaction and resolves once it has committed. */
function commit(db: IDBDatabase, stores: string[], write: (tx: IDBTransaction) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let tx: IDBTransaction;
    try {
      tx = db.transaction(stores, "readwrite", { durability: "strict" });
      write(tx);
    } catch (error) {
      reject(new StorageError(`IndexedDB write to "${db.name}" failed`, { cause: error }));
      return;
    }
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(new StorageError(`IndexedDB write to "${db.name}" was aborted`, { cause: tx.error }));
  });
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new StorageError("IndexedDB request failed", { cause: req.error }));
  });
}

async function databaseNames(): Promise<string[]> {
  if (typeof indexedDB.databases !== "function") {
    throw new StorageError("this browser cannot list IndexedDB databases (indexedDB.databases() is missing)");
  }
  const infos = await indexedDB.databases();
  return infos.flatMap((info) => (info.name === undefined ? [] : [info.name]));
}

/**
 * Deletes a database and verifies it is gone. A blocked request stays queued and succeeds as soon as the
 * other connections close, so `blocked` is waited out rather than answered with a second request; a
 * database that is listed again after success (reopened by another tab in between) is deleted again.
 */
async function deleteDatabase(name: string, timeoutMs: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.deleteDatabase(name);
      const timer = setTimeout(
        () => reject(new StorageError(`IndexedDB database "${name}" is still open in another tab; not deleted`)),
        Math.min(timeoutMs, 2 ** 31 - 1), // a longer Node/browser timer would fire at once
      );
      req.onsuccess = () => {
        clearTimeout(timer);
        resolve();
      };
      req.onerror = () => {
        clearTimeout(timer);
        reject(new StorageError(`cannot delete IndexedDB database "${name}"`, { cause: req.error }));
      };
    });
    if (typeof indexedDB.databases !== "function") return; // success of the delete request is all we can know
    if (!(await databaseNames()).includes(name)) return;
    if (attempt >= DELETE_ATTEMPTS) {
      throw new StorageError(`IndexedDB database "${name}" is still listed after ${attempt} deletions`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
  }
}

/** The records database: one object store of JSON values, opened lazily and released on `versionchange`. */
class KvDatabase {
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly name: string) {}

  async get(key: string): Promise<StoredValue | undefined> {
    const db = await this.open();
    const value = await request<unknown>(db.transaction(KV_STORE, "readonly").objectStore(KV_STORE).get(key));
    return value as StoredValue | undefined;
  }

  async set(key: string, value: StoredValue): Promise<void> {
    await commit(await this.open(), [KV_STORE], (tx) => {
      tx.objectStore(KV_STORE).put(value, key);
    });
  }

  async delete(key: string): Promise<void> {
    await commit(await this.open(), [KV_STORE], (tx) => {
      tx.objectStore(KV_STORE).delete(key);
    });
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(this.name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(KV_STORE);
      req.onsuccess = () => {
        const db = req.result;
        // Let a deletion (a wipe from another tab, the user clearing site data) go through; reopen on next use.
        db.onversionchange = () => {
          db.close();
          this.db = undefined;
        };
        db.onclose = () => {
          this.db = undefined;
        };
        resolve(db);
      };
      req.onerror = () => {
        this.db = undefined;
        reject(new StorageError(`cannot open IndexedDB database "${this.name}"`, { cause: req.error }));
      };
    });
    return this.db;
  }
}
