/**
 * An in-memory {@link ClientStorage}: nothing survives the process, which is what tests and
 * throwaway sessions want. One instance shared by several clients behaves like one browser origin
 * shared by several tabs.
 */
import { StorageError } from "@parley/protocol";
import * as Y from "yjs";
import type { ClientStorage, DocHandle, StoredValue } from "./storage.js";

/** Deep copy so that callers never share mutable state with the store (as a real medium would not). */
function copy(value: StoredValue): StoredValue {
  return JSON.parse(JSON.stringify(value)) as StoredValue;
}

/**
 * Creates an empty in-memory store. Pass the same instance to several clients to make them
 * "tabs" of one origin: they share the identity and the documents.
 */
export function memoryStorage(): ClientStorage {
  const records = new Map<string, StoredValue>();
  const docs = new Map<string, Uint8Array[]>();
  const openHandles = new Map<string, number>();

  return {
    async get(key) {
      const value = records.get(key);
      return value === undefined ? undefined : copy(value);
    },
    async set(key, value) {
      records.set(key, copy(value));
    },
    async delete(key) {
      records.delete(key);
    },
    async openDoc(name, doc) {
      let updates = docs.get(name);
      if (updates === undefined) {
        updates = [];
        docs.set(name, updates);
      }
      if (updates.length > 0) {
        const merged = Y.mergeUpdates(updates);
        updates.splice(0, updates.length, merged);
        Y.applyUpdate(doc, merged, memoryStorage);
      }
      const log = updates;
      const persist = (update: Uint8Array, origin: unknown) => {
        if (origin !== memoryStorage) log.push(update);
      };
      doc.on("update", persist);
      openHandles.set(name, (openHandles.get(name) ?? 0) + 1);
      let closed = false;
      const handle: DocHandle = {
        async flush() {},
        async close() {
          if (closed) return;
          closed = true;
          doc.off("update", persist);
          const count = (openHandles.get(name) ?? 1) - 1;
          if (count === 0) openHandles.delete(name);
          else openHandles.set(name, count);
        },
      };
      return handle;
    },
    async deleteDoc(name) {
      if (openHandles.has(name)) throw new StorageError(`document ${name} still has open handles`);
      docs.delete(name);
    },
    async listDocs() {
      return [...docs.keys()];
    },
  };
}
