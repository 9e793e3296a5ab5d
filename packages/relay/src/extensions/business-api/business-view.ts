/**
 * What the business API shows of a conversation document: messages as JSON, the conversation summary
 * (activity, read positions, unread counts) and the subject's details (profile, clients, typing). Pure
 * reads of a `Y.Doc`; nothing here writes.
 */
import {
  type Message as ApiMessage,
  type ClientRecord,
  type ConversationSummary,
  clientsOf,
  InvalidArgumentError,
  listMessages,
  type MessagePage,
  type MessageRecord,
  metaOf,
  profileLogOf,
  type RoomRef,
  readPositions,
  readProfile,
  type SubjectDetails,
  typingOf,
} from "@parley/protocol";

export type { ApiMessage, ConversationSummary, MessagePage, SubjectDetails };

import type { Awareness } from "y-protocols/awareness";
import type * as Y from "yjs";
import { isErased, revocationOf } from "../../identity/revocation.js";

/** The API form of a stored record. */
export function toApiMessage(record: MessageRecord): ApiMessage {
  const message: ApiMessage = { id: record.id, role: record.role, text: record.text, ts: record.ts };
  if (record.role === "user") message.clientId = record.client;
  else message.author = { ...record.author };
  if (record.meta !== undefined) message.metadata = record.meta;
  return message;
}

/** A finite number field of a stored value, or 0. */
function tsOf(value: unknown, field: string): number {
  const ts = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[field] : undefined;
  return typeof ts === "number" && Number.isFinite(ts) ? ts : 0;
}

/** The client records that read as such (relay-written, but a reader does not fail on a bad one). */
function clientRecords(doc: Y.Doc): ClientRecord[] {
  return ([...clientsOf(doc).values()] as unknown[]).filter(
    (record): record is ClientRecord =>
      record !== null &&
      typeof record === "object" &&
      typeof (record as ClientRecord).id === "string" &&
      typeof (record as ClientRecord).firstSeen === "number" &&
      typeof (record as ClientRecord).lastSeen === "number",
  );
}

/** Whether anything is stored for the subject (an erased conversation's tombstone holds no subject). */
export function subjectExists(doc: Y.Doc): boolean {
  return doc.store.clients.size > 0 && !isErased(doc);
}

/** Summarizes a conversation. */
export function summarize(ref: RoomRef, doc: Y.Doc): ConversationSummary {
  const messages = listMessages(doc);
  const reads = readPositions(doc);
  let lastActivity = 0;
  const unread = { user: 0, business: 0 };
  for (const message of messages) {
    lastActivity = Math.max(lastActivity, message.ts);
    if (message.role === "user" && message.ts > reads.business) unread.business++;
    if (message.role === "business" && message.ts > reads.user) unread.user++;
  }
  // Malformed records are skipped, never a reason to fail the whole answer.
  for (const entry of profileLogOf(doc).toArray() as unknown[])
    lastActivity = Math.max(lastActivity, tsOf(entry, "ts"));
  for (const client of clientRecords(doc)) lastActivity = Math.max(lastActivity, client.lastSeen);
  const revocation = revocationOf(doc);
  const last = messages.at(-1);
  const summary: ConversationSummary = {
    kind: ref.kind,
    id: ref.subject,
    state: "active",
    lastActivity,
    messageCount: messages.length,
    lastMessage: last === undefined ? null : toApiMessage(last),
    reads,
    unread,
  };
  if (ref.kind === "anonymous" && revocation.mergedInto !== undefined) {
    summary.state = "merged";
    summary.mergedInto = revocation.mergedInto;
  } else if (ref.kind === "anonymous" && revocation.revoked) {
    summary.state = "loggedOut";
  }
  return summary;
}

/** The subject's details; `awareness` is the room's presence (the relay's own state is not the user's). */
export function describe(ref: RoomRef, doc: Y.Doc, awareness: Awareness): SubjectDetails {
  const merged = metaOf(doc).get("merged");
  const now = Date.now();
  let userTyping = false;
  for (const [id, state] of awareness.getStates()) {
    if (id !== awareness.clientID && typingOf(state, now) === "user") userTyping = true;
  }
  return {
    ...summarize(ref, doc),
    profile: readProfile(doc),
    clients: clientRecords(doc).sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : 1)),
    merged: Array.isArray(merged) ? merged.filter((id): id is string => typeof id === "string") : [],
    userTyping,
  };
}

function encodeCursor(record: MessageRecord): string {
  return Buffer.from(JSON.stringify([record.ts, record.id])).toString("base64url");
}

function decodeCursor(cursor: string): { ts: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string") {
      return { ts: value[0], id: value[1] };
    }
  } catch {
    // reported below
  }
  throw new InvalidArgumentError("before", "is not a cursor this API returned");
}

/** The `limit` messages before `before` (a cursor from an earlier page), or the newest ones. */
export function pageOfMessages(doc: Y.Doc, before: string | null, limit: number): MessagePage {
  const messages = listMessages(doc);
  let end = messages.length;
  if (before !== null) {
    const cursor = decodeCursor(before);
    end = messages.findIndex((m) => m.ts > cursor.ts || (m.ts === cursor.ts && m.id >= cursor.id));
    if (end === -1) end = messages.length;
  }
  const start = Math.max(0, end - limit);
  const first = messages[start];
  return {
    messages: messages.slice(start, end).map(toApiMessage),
    nextBefore: start > 0 && first !== undefined ? encodeCursor(first) : null,
  };
}
