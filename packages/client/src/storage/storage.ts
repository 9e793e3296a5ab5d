/**
 * Where a client keeps what it must not lose: its identity (secrets, the current user, a JWT) and one
 * Yjs document per conversation. Browsers use IndexedDB (y-indexeddb); other runtimes pick the
 * directory or memory adapter, or bring their own by implementing this interface and passing the
 * conformance suite in `@parley/client/testing`.
 *
 * A *medium* is what a store keeps its data in (an IndexedDB origin and prefix, a directory, a memory
 * store instance). Several store instances may share one medium at once: the tabs of a browser origin,
 * several clients in one process, a process restarted after a crash. Everything below holds across them.
 *
 * Durability contract:
 * - Records: `set`/`delete` resolve once the change is durable (a crash after that keeps it); a `get`
 *   from any instance on the medium issued after that sees it. Values are copied in and out: mutating
 *   an object after `set`, or one returned by `get`, never changes what is stored.
 * - Documents: a {@link DocHandle} persists every update applied to its document from the moment
 *   `openDoc` resolves (updates the store itself applies while loading are not written back).
 *   `flush()` resolves once every update applied so far is durable; an `openDoc` of that name on any
 *   instance afterwards loads them, whether or not the handle is still open.
 * - Several handles, on one instance or several, may hold one document at once, and may write to it
 *   concurrently: the stored document is the merge of every update any of them persisted. Nothing
 *   a store does on its own (compaction on open, a second handle opening) may drop an update.
 * - `listDocs()` names every document from the moment an `openDoc` on it resolves (even if nothing was
 *   written) until a `deleteDoc` on it resolves.
 *
 * Deletion wins over open handles (the rule a logout needs: it must erase a conversation even while
 * another tab, possibly frozen or about to close, still holds it open):
 * - `deleteDoc(name)` erases everything stored for `name` whether or not handles on it are open, in this
 *   instance or in others sharing the medium, and resolves only once it has verified the data is gone
 *   from the medium (not merely marked deleted). It fails with a `StorageError` if that cannot be done
 *   or verified (for IndexedDB: a connection that is not ours and does not let go within the timeout).
 *   Deleting a document that does not exist resolves.
 * - Every handle on `name` that was open (or opening) when `deleteDoc` was called becomes *detached*:
 *   its document keeps working in memory, but nothing applied to it is written any more, so nothing
 *   recreates the erased document; its `flush()` rejects with a `StorageError` (its changes are not
 *   durable and never will be); its `close()` resolves. An `openDoc(name)` after `deleteDoc` resolved
 *   starts from an empty document that persists normally; detached handles never write into it.
 */
import type * as Y from "yjs";

/** JSON that a store can keep under a key. */
export type StoredValue = string | number | boolean | null | StoredValue[] | { [key: string]: StoredValue };

/** A persisted document, open and live. */
export interface DocHandle {
  /**
   * Resolves once every update applied to the document so far is durable. Rejects with a `StorageError`
   * if a write failed, or if the document was deleted while this handle was open (the handle is detached).
   */
  flush(): Promise<void>;
  /**
   * Stops persisting and releases the medium. Pending writes are finished first; rejects with a
   * `StorageError` if they failed (the handle is released anyway). Resolves for a detached handle.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** A client's local store. See the durability contract at the top of this file. */
export interface ClientStorage {
  /** Reads a small JSON record; `undefined` if absent. */
  get(key: string): Promise<StoredValue | undefined>;
  /** Writes a small JSON record durably. */
  set(key: string, value: StoredValue): Promise<void>;
  /** Removes a record durably (resolves if it was absent). */
  delete(key: string): Promise<void>;
  /** Loads the stored document `name` into `doc` and persists `doc`'s updates from then on. */
  openDoc(name: string, doc: Y.Doc): Promise<DocHandle>;
  /** Erases everything stored for document `name`, open handles or not, and verifies it is gone. */
  deleteDoc(name: string): Promise<void>;
  /** Names of the documents this store holds, in no particular order. */
  listDocs(): Promise<string[]>;
}
