/**
 * Where a client keeps what it must not lose: its identity (secrets, the current user, a JWT) and one
 * Yjs document per conversation. Browsers use IndexedDB (y-indexeddb); other runtimes pick the
 * directory or memory adapter, or bring their own by implementing this interface.
 *
 * Durability contract:
 * - `set`/`delete` resolve once the change is durable in the store (a crash after that keeps it).
 * - A `DocHandle` persists every update applied to its document from the moment `openDoc` resolves;
 *   `flush()` resolves once every update applied so far is durable.
 * - `deleteDoc` resolves only once everything stored for that document is gone from the medium
 *   (not merely marked deleted); it fails with a `StorageError` if that cannot be verified.
 * - Several client instances (tabs) may share one store; each opens its own handles. `deleteDoc` may be
 *   called only after every handle on that document has been closed.
 */
import type * as Y from "yjs";

/** JSON that a store can keep under a key. */
export type StoredValue = string | number | boolean | null | StoredValue[] | { [key: string]: StoredValue };

/** A persisted document, open and live. */
export interface DocHandle {
  /** Resolves once every update applied to the document so far is durable. */
  flush(): Promise<void>;
  /** Stops persisting (pending writes are finished first) and releases the medium. */
  close(): Promise<void>;
}

/** A client's local store. */
export interface ClientStorage {
  /** Reads a small JSON record; `undefined` if absent. */
  get(key: string): Promise<StoredValue | undefined>;
  /** Writes a small JSON record durably. */
  set(key: string, value: StoredValue): Promise<void>;
  /** Removes a record durably. */
  delete(key: string): Promise<void>;
  /** Loads the stored document `name` into `doc` and persists `doc`'s updates from then on. */
  openDoc(name: string, doc: Y.Doc): Promise<DocHandle>;
  /** Erases everything stored for document `name` and verifies it is gone. */
  deleteDoc(name: string): Promise<void>;
  /** Names of the documents this store holds. */
  listDocs(): Promise<string[]>;
}
