/**
 * Times the relay's storage writes for extensions (`onStorageWrite`, e.g. metrics' latency histograms). It wraps
 * the adapter only when an extension listens, so a relay without one pays nothing.
 */
import type { Fence, ListOptions, ListPage, RelayStorage } from "../storage/storage.js";
import type { StorageWriteEvent } from "./extension.js";

/** `storage`, reporting how long each append, compact and remove took to become durable (or fail). */
export function timedStorage(storage: RelayStorage, report: (event: StorageWriteEvent) => void): RelayStorage {
  const timed = async (op: StorageWriteEvent["op"], bytes: number, write: Promise<void>): Promise<void> => {
    const start = performance.now();
    try {
      await write;
    } finally {
      report({ op, bytes, seconds: (performance.now() - start) / 1000 });
    }
  };
  return {
    claim: (name: string): Promise<Fence> => storage.claim(name),
    load: (name: string): Promise<Uint8Array[]> => storage.load(name),
    append: (name, update, fence) => timed("append", update.length, storage.append(name, update, fence)),
    compact: (name, snapshot, fence) => timed("compact", snapshot.length, storage.compact(name, snapshot, fence)),
    remove: (name, fence) => timed("remove", 0, storage.remove(name, fence)),
    list: (prefix: string, options?: ListOptions): Promise<ListPage> => storage.list(prefix, options),
    attestationKey: () => storage.attestationKey(),
    close: () => storage.close(),
  };
}
