/**
 * The conversation's messages kept in display order as they arrive, so that a long conversation
 * (100,000 messages) does not re-sort its whole history on every send or every change event.
 *
 * The order and the de-duplication are exactly those of `listMessageEntries` from the protocol (by
 * `(ts, id)`; of a message id seen twice, the first in the array counts). Messages are append-only in the
 * layout, so the index only ever inserts; a deleted item or a repeated id (neither happens with honest
 * writers) makes it rebuild from the document.
 */
import {
  compareMessages,
  listMessageEntries,
  type MessageEntry,
  type MessageRecord,
  messagesOf,
  profileLogOf,
} from "@parley/protocol";
import type * as Y from "yjs";

export class MessageIndex {
  private entries: MessageEntry[] = [];
  private readonly ids = new Set<string>();
  private newest = 0;
  private readonly doc: Y.Doc;

  constructor(doc: Y.Doc) {
    this.doc = doc;
    this.rebuild();
    messagesOf(doc).observe(this.onChange);
  }

  /** Every message once, in display order (do not mutate). */
  get all(): readonly MessageEntry[] {
    return this.entries;
  }

  /** The newest timestamp among messages and profile writes, for the hybrid logical clock. */
  maxTimestamp(): number {
    let max = this.newest;
    for (const entry of profileLogOf(this.doc).toArray()) if (entry.ts > max) max = entry.ts;
    return max;
  }

  destroy(): void {
    messagesOf(this.doc).unobserve(this.onChange);
  }

  private rebuild(): void {
    this.entries = listMessageEntries(this.doc);
    this.ids.clear();
    this.newest = 0;
    for (const entry of this.entries) {
      this.ids.add(entry.record.id);
      if (entry.record.ts > this.newest) this.newest = entry.record.ts;
    }
  }

  /** Inserts in order; returns false for an id already present (the caller rebuilds). */
  private insert(entry: MessageEntry): boolean {
    if (this.ids.has(entry.record.id)) return false;
    this.ids.add(entry.record.id);
    if (entry.record.ts > this.newest) this.newest = entry.record.ts;
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.entries[middle] as MessageEntry;
      if (compareMessages(other.record, entry.record) <= 0) low = middle + 1;
      else high = middle;
    }
    this.entries.splice(low, 0, entry);
    return true;
  }

  private readonly onChange = (event: Y.YArrayEvent<MessageRecord>): void => {
    let added = 0;
    for (const item of event.changes.added) added += item.length;
    // A first sync brings a whole history at once: one sort beats as many ordered inserts.
    if (event.changes.deleted.size > 0 || added > this.entries.length / 4 + 64) {
      this.rebuild();
      return;
    }
    for (const item of event.changes.added) {
      if (item.deleted || !item.countable) continue;
      const values = item.content.getContent() as MessageRecord[];
      for (let i = 0; i < values.length; i++) {
        const entry = { record: values[i] as MessageRecord, client: item.id.client, clock: item.id.clock + i };
        if (!this.insert(entry)) {
          this.rebuild();
          return;
        }
      }
    }
  };
}
