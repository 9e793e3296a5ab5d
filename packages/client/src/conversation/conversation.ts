/**
 * Reading and writing a conversation document the way the protocol layout prescribes, for one client.
 * Every write is validated with the protocol's own checks first, so an honest client never sends
 * something the relay refuses.
 */
import {
  checkMeta,
  checkProfileKey,
  checkProfileValue,
  checkReadMark,
  checkText,
  checkUserMessage,
  InvalidArgumentError,
  type JsonValue,
  type MessageEntry,
  type MessageRecord,
  messagesOf,
  nextTimestamp,
  type ProfileEntry,
  type ProfileKey,
  profileLogOf,
  readPositions,
  readsOf,
  type UserMessageRecord,
} from "@parley/protocol";
import * as buffer from "lib0/buffer";
import * as Y from "yjs";
import type { MessageIndex } from "./message-index.js";
import { isStored } from "./unsent.js";

/** A message as the application sees it. */
export interface ConversationMessage {
  /** Stable id (the same on every client). */
  id: string;
  /** `user` for the user's messages (from any of their clients), `business` for the business's. */
  role: "user" | "business";
  text: string;
  /** Hybrid-logical-clock time in milliseconds since the epoch; display order is `(ts, id)`. */
  ts: number;
  /** The client a user message was sent from; absent for business messages. */
  clientId?: string;
  /** Who wrote a business message; absent for user messages. */
  author?: { id?: string; name?: string; avatarUrl?: string };
  /** Metadata given to `send`. */
  metadata?: { [key: string]: JsonValue };
  /**
   * `pending` until the relay has durably stored the message, `sent` after. Another client's message may arrive
   * before it is stored (the relay forwards at once) and turns `sent` when the relay reports it stored.
   */
  status: "pending" | "sent";
  /** Whether this client sent it. */
  mine: boolean;
  /**
   * Whether the business has read it: its read position has reached the message's `ts`. Always `true`
   * for the business's own messages.
   */
  readByBusiness: boolean;
}

/** A profile change: known fields take a string or `null` (clears); `properties` takes JSON per name. */
export type ProfilePatch = Partial<{
  givenName: string | null;
  surname: string | null;
  email: string | null;
  avatarUrl: string | null;
}> & { properties?: Record<string, JsonValue> };

/** One message record as the application sees it. */
export function toMessageView(
  record: MessageRecord,
  status: ConversationMessage["status"],
  clientId: string,
  businessRead: number,
): ConversationMessage {
  const message: ConversationMessage = {
    id: record.id,
    role: record.role,
    text: record.text,
    ts: record.ts,
    status,
    mine: record.role === "user" && record.client === clientId,
    readByBusiness: record.role === "business" || record.ts <= businessRead,
  };
  if (record.role === "user") message.clientId = record.client;
  else message.author = { ...record.author };
  if (record.meta !== undefined) message.metadata = record.meta;
  return message;
}

/** One message entry as the application sees it. */
export function toMessage(
  entry: MessageEntry,
  stored: Map<number, number>,
  clientId: string,
  businessRead: number,
): ConversationMessage {
  const status = isStored(stored, entry.client, entry.clock) ? "sent" : "pending";
  return toMessageView(entry.record, status, clientId, businessRead);
}

/**
 * The application's view of each entry, reused while its status and read receipt are unchanged, so that
 * listing a long conversation on every change event does not rebuild 100,000 objects.
 */
const views = new WeakMap<MessageEntry, ConversationMessage>();

/** Every message in display order with its delivery status. The objects are shared: do not mutate them. */
export function readMessages(
  index: MessageIndex,
  stored: Map<number, number>,
  clientId: string,
  businessRead: number,
): ConversationMessage[] {
  return index.all.map((entry) => {
    const cached = views.get(entry);
    const status = isStored(stored, entry.client, entry.clock) ? "sent" : "pending";
    const readByBusiness = entry.record.role === "business" || entry.record.ts <= businessRead;
    if (cached !== undefined && cached.status === status && cached.readByBusiness === readByBusiness) return cached;
    const view = toMessageView(entry.record, status, clientId, businessRead);
    views.set(entry, view);
    return view;
  });
}

function messageId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return buffer.toBase64UrlEncoded(bytes);
}

/** Validates `send`'s arguments; throws {@link InvalidArgumentError}. */
export function checkSendArguments(text: unknown, metadata: unknown): void {
  const textProblem = checkText(text);
  if (textProblem !== null) throw new InvalidArgumentError("text", textProblem);
  const metaProblem = checkMeta(metadata);
  if (metaProblem !== null) throw new InvalidArgumentError("options.metadata", metaProblem);
}

/** Appends a user message from `clientId`; returns its entry. */
export function appendMessage(
  doc: Y.Doc,
  lastSeen: number,
  clientId: string,
  text: string,
  metadata: { [key: string]: JsonValue } | undefined,
): MessageEntry {
  const now = Date.now();
  const record: UserMessageRecord = {
    id: messageId(),
    role: "user",
    client: clientId,
    text,
    ts: nextTimestamp(lastSeen, now),
  };
  if (metadata !== undefined) record.meta = structuredClone(metadata);
  const problem = checkUserMessage(record, clientId, now);
  if (problem !== null) throw new InvalidArgumentError("text", problem);
  const array = messagesOf(doc);
  const clock = Y.getState(doc.store, doc.clientID);
  array.push([record]);
  return { record, client: doc.clientID, clock };
}

/** Validates a profile patch and turns it into log entries (not yet written). */
export function profileEntries(index: MessageIndex, clientId: string, patch: unknown): ProfileEntry[] {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
    throw new InvalidArgumentError("patch", "must be an object");
  }
  const now = Date.now();
  const ts = nextTimestamp(index.maxTimestamp(), now);
  const entries: ProfileEntry[] = [];
  for (const [field, value] of Object.entries(patch as Record<string, unknown>)) {
    if (field === "properties") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new InvalidArgumentError("patch.properties", "must be an object of JSON values");
      }
      for (const [name, propertyValue] of Object.entries(value as Record<string, unknown>)) {
        entries.push(checkedEntry(`properties.${name}`, propertyValue, ts, clientId));
      }
    } else {
      entries.push(checkedEntry(field, value, ts, clientId));
    }
  }
  return entries;
}

function checkedEntry(key: string, value: unknown, ts: number, clientId: string): ProfileEntry {
  const argument = `patch.${key}`;
  const keyProblem = checkProfileKey(key);
  if (keyProblem !== null) throw new InvalidArgumentError(argument, keyProblem);
  const valueProblem = value === undefined ? "must not be undefined" : checkProfileValue(key, value);
  if (valueProblem !== null) throw new InvalidArgumentError(argument, valueProblem);
  return { key: key as ProfileKey, value: value as JsonValue, ts, client: clientId };
}

/** Appends profile entries in one transaction. */
export function appendProfileEntries(doc: Y.Doc, entries: ProfileEntry[]): void {
  if (entries.length > 0) profileLogOf(doc).push(entries);
}

/** Moves this client's read mark to `newest`, if that is further than the user's position. */
export function markReadUpTo(doc: Y.Doc, newest: number, clientId: string): void {
  const own = readsOf(doc).get(clientId)?.ts ?? 0;
  if (newest <= own || newest <= readPositions(doc).user) return;
  const mark = { ts: newest };
  // A business timestamp far in the future would make the relay refuse the mark; leave it unread then.
  if (checkReadMark(mark, Date.now()) === null) readsOf(doc).set(clientId, mark);
}

/** Business messages newer than `userRead` (the user's read position, the furthest of their clients). */
export function countUnread(messages: readonly ConversationMessage[], userRead: number): number {
  let count = 0;
  for (const message of messages) if (message.role === "business" && message.ts > userRead) count += 1;
  return count;
}
