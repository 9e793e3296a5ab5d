/**
 * The relay's storage adapter: where documents live between loads.
 *
 * A document is a sequence of Yjs updates under a name (the room name). The relay appends every update
 * it applies, in the order it applied them, and now and then replaces everything with one snapshot.
 *
 * Durability contract (every adapter must keep it; the relay's `stored` acknowledgements rest on it):
 * - `append(name, update)` resolves only once the update is durable (on disk per the adapter's policy, or
 *   committed in a database). Appends to one name are applied in call order; when an append resolves,
 *   every earlier append to that name is durable too. A rejected append means "maybe not stored".
 * - `load(name)` returns every update durably appended (and not compacted away), snapshot first, in order;
 *   `[]` for a name never written. Replaying them into an empty Y.Doc yields the stored document.
 * - `compact(name, snapshot)` replaces every update appended **before** the call with `snapshot` (which
 *   must contain them all); appends made after the call stay after it. A crash part-way must leave either
 *   the old updates or the snapshot (or both: replaying Yjs updates twice is harmless), never neither.
 * - `list()` returns the names of every stored document.
 *
 * These are the operations a PostgreSQL table (`name, seq, bytes`) or a Redis stream also offers, so
 * scale-out backends fit the same interface.
 */

/** A durable store of documents as append-only update logs. See the contract above. */
export interface RelayStorage {
  /** Every stored update of `name`, snapshot first; `[]` if none. */
  load(name: string): Promise<Uint8Array[]>;
  /** Appends one update; resolves once it (and every earlier append to `name`) is durable. */
  append(name: string, update: Uint8Array): Promise<void>;
  /** Replaces everything appended to `name` before this call with `snapshot`. */
  compact(name: string, snapshot: Uint8Array): Promise<void>;
  /** Names of every stored document. */
  list(): Promise<string[]>;
  /** Waits for pending writes and releases resources. */
  close(): Promise<void>;
}

/**
 * An in-memory {@link RelayStorage} for unit tests and embedding: durable only as long as the process.
 */
export class MemoryStorage implements RelayStorage {
  private readonly documents = new Map<string, Uint8Array[]>();

  async load(name: string): Promise<Uint8Array[]> {
    return [...(this.documents.get(name) ?? [])];
  }

  async append(name: string, update: Uint8Array): Promise<void> {
    const updates = this.documents.get(name) ?? [];
    updates.push(update.slice());
    this.documents.set(name, updates);
  }

  async compact(name: string, snapshot: Uint8Array): Promise<void> {
    this.documents.set(name, [snapshot.slice()]);
  }

  async list(): Promise<string[]> {
    return [...this.documents.keys()];
  }

  async close(): Promise<void> {}
}
