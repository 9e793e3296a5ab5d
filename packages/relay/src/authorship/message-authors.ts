/**
 * Who wrote each message id of a document: readers show an id once (the first in array order), so a new
 * message may not reuse an id another author already used. Indexed once per document, then kept current by
 * an observer that reads only the structs each transaction added (no per-update scan).
 */
import { type MessageRecord, messagesOf } from "@parley/protocol";
import type * as Y from "yjs";
import { forEachAddedMessage } from "./added-messages.js";

/** The author key of business messages (user messages are keyed by their Parley client id). */
export const BUSINESS_AUTHOR = "@business";

/** Per document: every message id seen and its author. Only grows. */
const authorsByDoc = new WeakMap<Y.Doc, Map<string, string>>();

/** The author key of a record: its client id, or {@link BUSINESS_AUTHOR}; `null` for a malformed record. */
export function authorKey(record: unknown): { id: string; author: string } | null {
  if (record === null || typeof record !== "object") return null;
  const { id, role, client } = record as { id?: unknown; role?: unknown; client?: unknown };
  if (typeof id !== "string") return null;
  return { id, author: role === "business" ? BUSINESS_AUTHOR : String(client) };
}

/** The message authors of `doc` by message id. */
export function messageAuthors(doc: Y.Doc): ReadonlyMap<string, string> {
  let authors = authorsByDoc.get(doc);
  if (authors !== undefined) return authors;
  const index = new Map<string, string>();
  const add = (record: MessageRecord) => {
    const key = authorKey(record);
    if (key !== null && !index.has(key.id)) index.set(key.id, key.author);
  };
  const messages = messagesOf(doc);
  for (const record of messages.toArray()) add(record);
  doc.on("afterTransaction", (transaction: Y.Transaction) => forEachAddedMessage(transaction, messages, add));
  authors = index;
  authorsByDoc.set(doc, authors);
  return authors;
}
