/**
 * An in-memory {@link ClientStorage}: nothing survives the process, which is what tests and
 * throwaway sessions want. The instance is the medium: one instance shared by several clients behaves
 * like one browser origin shared by several tabs.
 */
import { logDocuments } from "./log-documents.js";
import type { ClientStorage, StoredValue } from "./storage.js";

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
  const logs = new Map<string, Uint8Array[]>();
  const documents = logDocuments({
    async read(name) {
      const updates = logs.get(name);
      return updates === undefined ? undefined : { updates: [...updates], compact: false };
    },
    async append(name, update) {
      logs.get(name)?.push(update);
    },
    async replace(name, updates) {
      logs.set(name, [...updates]);
    },
    async sync() {},
    async erase(name) {
      logs.delete(name);
    },
    async list() {
      return [...logs.keys()];
    },
  });

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
    ...documents,
  };
}
