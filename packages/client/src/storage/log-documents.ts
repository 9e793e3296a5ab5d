/**
 * Yjs persistence for log-structured media, written once: the memory and directory adapters only say
 * how to read, append, replace and erase a document's list of updates ({@link UpdateLog}); this module
 * turns that into `openDoc`/`deleteDoc`/`listDocs` that keep the durability contract in `storage.ts`.
 *
 * - Every operation on one document runs in one queue, in call order: an open's read-and-compact, each
 *   handle's appends, flushes and a deletion never interleave, so compacting on open cannot drop an
 *   update another handle appended, and an append queued after a deletion never recreates the document.
 * - Deletion wins: `deleteDoc` detaches every handle on the document before queueing the erase.
 *
 * The IndexedDB adapter does not use this: y-indexeddb owns its Yjs persistence (see indexeddb-storage.ts).
 */
import { StorageError } from "@parley/protocol";
import * as Y from "yjs";
import type { ClientStorage, DocHandle } from "./storage.js";

/** A medium that keeps, per document name, a list of Yjs updates. Calls on one name never overlap. */
export interface UpdateLog {
  /** The stored updates of `name`, oldest first, and whether the log should be compacted (a torn
   * tail was dropped, say); `undefined` if the document does not exist. */
  read(name: string): Promise<{ updates: Uint8Array[]; compact: boolean } | undefined>;
  /** Appends one update (durable once `sync` resolves). */
  append(name: string, update: Uint8Array): Promise<void>;
  /** Atomically and durably replaces the whole log of `name` (creating it) with `updates`. */
  replace(name: string, updates: Uint8Array[]): Promise<void>;
  /** Makes every append so far durable. */
  sync(name: string): Promise<void>;
  /** Erases `name` from the medium and verifies it is gone; resolves if it was absent. */
  erase(name: string): Promise<void>;
  /** Names of every stored document. */
  list(): Promise<string[]>;
}

/** One open handle's state, reachable from `deleteDoc` so that it can be detached. */
interface OpenHandle {
  detached: boolean;
  stop(): void;
}

/** Documents of a store kept in `log`; every store instance on one medium must share one of these. */
export type LogDocuments = Pick<ClientStorage, "openDoc" | "deleteDoc" | "listDocs">;

/** Builds `openDoc`/`deleteDoc`/`listDocs` over `log`. */
export function logDocuments(log: UpdateLog): LogDocuments {
  const queues = new Map<string, Promise<void>>();
  const handles = new Map<string, Set<OpenHandle>>();

  function enqueue<T>(name: string, task: () => Promise<T>): Promise<T> {
    const next = (queues.get(name) ?? Promise.resolve()).then(task);
    // A failed task must not wedge later ones; its caller gets the failure from `next`.
    const tail = next.then(
      () => {},
      () => {},
    );
    queues.set(name, tail);
    // Forget an idle queue so that a store touching many documents does not grow without bound.
    void tail.then(() => {
      if (queues.get(name) === tail) queues.delete(name);
    });
    return next;
  }

  function handlesOf(name: string): Set<OpenHandle> {
    let set = handles.get(name);
    if (set === undefined) {
      set = new Set();
      handles.set(name, set);
    }
    return set;
  }

  function release(name: string, handle: OpenHandle): void {
    const set = handles.get(name);
    set?.delete(handle);
    if (set?.size === 0) handles.delete(name);
  }

  async function openDoc(name: string, doc: Y.Doc): Promise<DocHandle> {
    // Registered before loading, so that a deletion racing this open detaches it too.
    const state: OpenHandle = { detached: false, stop: () => doc.off("update", persist) };
    handlesOf(name).add(state);
    let failure: unknown;
    let closed = false;
    function persist(update: Uint8Array, origin: unknown): void {
      if (origin === state || state.detached) return;
      enqueue(name, () => log.append(name, update)).catch((error: unknown) => {
        failure ??= error;
      });
    }
    try {
      await enqueue(name, async () => {
        if (state.detached) return;
        const stored = await log.read(name);
        if (stored === undefined) {
          // Created now, so that the document is listed from the moment it is open.
          await log.replace(name, []);
          return;
        }
        if (stored.updates.length === 0) return;
        const merged = Y.mergeUpdates(stored.updates);
        Y.applyUpdate(doc, merged, state);
        if (stored.compact || stored.updates.length > 1) await log.replace(name, [merged]);
      });
    } catch (error) {
      release(name, state);
      throw error;
    }
    doc.on("update", persist);
    const flush = () =>
      enqueue(name, async () => {
        if (state.detached) throw new StorageError(`document ${name} was deleted while this handle was open`);
        if (failure !== undefined) throw failure;
        await log.sync(name);
      });
    return {
      flush: () => (closed ? Promise.resolve() : flush()),
      async close() {
        if (closed) return;
        closed = true;
        state.stop();
        release(name, state);
        if (!state.detached) await flush();
      },
    };
  }

  async function deleteDoc(name: string): Promise<void> {
    for (const handle of handles.get(name) ?? []) {
      handle.detached = true;
      handle.stop();
    }
    handles.delete(name);
    await enqueue(name, () => log.erase(name));
  }

  return { openDoc, deleteDoc, listDocs: () => log.list() };
}
