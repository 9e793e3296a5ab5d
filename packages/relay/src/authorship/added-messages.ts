/**
 * The message records a transaction added, found from the structs it created. Yjs's `event.changes`
 * would walk the whole `messages` array to compute them, which on a 100,000-message conversation costs
 * milliseconds on every append; this reads only the new structs, so an append costs the same at any length.
 */
import type { MessageRecord } from "@parley/protocol";
import * as Y from "yjs";

/** Calls `visit` for every record `transaction` added to `messages`, with its item and index in the item. */
export function forEachAddedMessage(
  transaction: Y.Transaction,
  messages: Y.Array<MessageRecord>,
  visit: (record: MessageRecord, item: Y.Item, offset: number) => void,
): void {
  const store = transaction.doc.store;
  for (const [client, after] of transaction.afterState) {
    const before = transaction.beforeState.get(client) ?? 0;
    if (after <= before) continue;
    const structs = store.clients.get(client);
    if (structs === undefined) continue;
    for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
      const item = structs[i];
      if (!(item instanceof Y.Item) || item.parent !== messages || !(item.content instanceof Y.ContentAny)) continue;
      const records = item.content.getContent() as MessageRecord[];
      for (let offset = Math.max(0, before - item.id.clock); offset < records.length; offset++) {
        visit(records[offset] as MessageRecord, item, offset);
      }
    }
  }
}
