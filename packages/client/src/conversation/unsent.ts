/**
 * What of the user's own writes on this device the relay has not durably stored yet: the content a
 * logout or a user switch would lose. Only items this store's client wrote count — messages, profile
 * entries and its read mark. What the relay wrote (client records, owners) or forwarded from elsewhere is
 * stored by definition. What a login merged from an anonymous thread counts as stored only once the
 * relay's stored state of the user's room covers it, i.e. once the relay has performed the merge: stored
 * in the anonymous room is not enough, since a logout revokes that room and the relay then never merges.
 */
import { profileLogOf, readsOf } from "@parley/protocol";
import type * as Y from "yjs";
import type { MessageIndex } from "./message-index.js";

/** The user's own unsent content. */
export interface UnsentChanges {
  /**
   * Ids of the user's messages written on this store, including those a login merged from the anonymous
   * thread that the relay has not merged into the user's room yet.
   */
  messageIds: string[];
  /** Profile fields written on this store (`givenName`, `properties.plan`, ...). */
  profileFields: string[];
  /** Whether this store's read mark is unsent. */
  readPosition: boolean;
}

/** Whether the relay's stored state vector covers the item at `(client, clock)`. */
export function isStored(stored: Map<number, number>, client: number, clock: number): boolean {
  return (stored.get(client) ?? 0) > clock;
}

/** The user's content written by `clientId` that `stored` does not cover. */
export function unsentChanges(
  doc: Y.Doc,
  index: MessageIndex,
  stored: Map<number, number>,
  clientId: string,
): UnsentChanges {
  const messageIds: string[] = [];
  for (const entry of index.all) {
    const { record } = entry;
    if (record.role === "user" && record.client === clientId && !isStored(stored, entry.client, entry.clock)) {
      messageIds.push(record.id);
    }
  }
  const profileFields = new Set<string>();
  // Walking the items (not `toArray()`) gives each entry's id, which is what the relay acknowledges.
  for (let item = profileLogOf(doc)._start; item !== null; item = item.right) {
    if (item.deleted || !item.countable) continue;
    const entries = item.content.getContent() as { key?: unknown; client?: unknown }[];
    entries.forEach((entry, offset) => {
      if (entry.client !== clientId || typeof entry.key !== "string") return;
      if (!isStored(stored, item.id.client, item.id.clock + offset)) profileFields.add(entry.key);
    });
  }
  const mark = readsOf(doc)._map.get(clientId);
  const readPosition = mark !== undefined && !mark.deleted && !isStored(stored, mark.id.client, mark.id.clock);
  return { messageIds, profileFields: [...profileFields], readPosition };
}

/** Whether nothing is unsent. */
export function nothingUnsent(unsent: UnsentChanges): boolean {
  return unsent.messageIds.length === 0 && unsent.profileFields.length === 0 && !unsent.readPosition;
}

/** A sentence naming what is unsent, for the error message. */
export function describeUnsent(unsent: UnsentChanges): string {
  const parts: string[] = [];
  if (unsent.messageIds.length > 0) parts.push(`${unsent.messageIds.length} message(s)`);
  if (unsent.profileFields.length > 0) parts.push(`profile field(s) ${unsent.profileFields.join(", ")}`);
  if (unsent.readPosition) parts.push("the read position");
  return parts.join(", ");
}
