/**
 * The Yjs layout of a conversation document — one document per subject (user or anonymous user).
 *
 * Root types (all values are plain JSON stored as Yjs `ContentAny`; there are no nested Yjs types, so
 * every item's parent is a root and the relay can check every struct against this table):
 *
 * | root       | type                    | written by                     | content                                  |
 * |------------|-------------------------|--------------------------------|------------------------------------------|
 * | `messages` | `Y.Array<MessageRecord>`| user clients (role `user`, own `client`), relay (role `business`) | append-only |
 * | `profile`  | `Y.Array<ProfileEntry>` | user clients (own `client`)    | append-only log; newest `ts` per key wins |
 * | `reads`    | `Y.Map<ReadMark>`       | a user client under its own client id; the relay under `@business` | read positions |
 * | `clients`  | `Y.Map<ClientRecord>`   | relay only                     | one record per client, relay-attested     |
 * | `owners`   | `Y.Map<string>`         | relay only                     | Yjs clientID → Parley client id (`@relay` for the relay) |
 * | `meta`     | `Y.Map<unknown>`        | relay only                     | reserved: subject, merges, history segments |
 *
 * Display order is explicit, never the array's order (concurrent appends interleave by Yjs clientID,
 * not time): messages sort by `(ts, id)` where `ts` is a hybrid logical clock (see {@link nextTimestamp}),
 * and a message id seen twice counts once. Every client computes the same order from the same data.
 *
 * Why append-only logs instead of map overwrites for the profile: a `Y.Map` key overwrite deletes the
 * previous item, which may belong to another client; and concurrent writes to one key resolve by Yjs
 * clientID, not by time. A log lets "newest write wins" be decided by `ts`, lets an anonymous profile
 * merge into a user's, and means a user client never needs to delete anything it did not write.
 *
 * Long conversations: a client that has nothing of a conversation yet asks for a preview of its newest
 * messages (URL parameter `tail`, frame `recent`; see wire.ts), which the relay picks with
 * {@link newestMessages} without sorting the whole history. `meta.segments` is reserved for references to
 * archived history documents (`<room>/h/<n>`) so that a client need not hold all of history; nothing
 * writes it yet.
 */
import type * as Y from "yjs";

/** Root type names. */
export const Root = {
  messages: "messages",
  profile: "profile",
  reads: "reads",
  clients: "clients",
  owners: "owners",
  meta: "meta",
} as const;

/** Owner marker for structs written by the relay itself. */
export const RELAY_OWNER = "@relay";
/** Key of the business's read position in `reads`. */
export const BUSINESS_READ_KEY = "@business";

/** Longest message text, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 10_000;
/** Largest `meta` / profile property value, in bytes of JSON. */
export const MAX_JSON_BYTES = 4_096;
/** How far ahead of the relay's clock a timestamp may be. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A message written by one of the user's clients. */
export interface UserMessageRecord {
  id: string;
  role: "user";
  /** The client it was sent from; the relay checks it is the sender's. */
  client: string;
  text: string;
  /** Hybrid logical clock, milliseconds. */
  ts: number;
  meta?: { [key: string]: JsonValue };
}

/** A message written by the business (through the relay's business API). */
export interface BusinessMessageRecord {
  id: string;
  role: "business";
  author: { id?: string; name?: string; avatarUrl?: string };
  text: string;
  ts: number;
  meta?: { [key: string]: JsonValue };
}

/** One stored message. */
export type MessageRecord = UserMessageRecord | BusinessMessageRecord;

/** Profile fields with a meaning; custom properties use `properties.<name>` keys. */
export const PROFILE_FIELDS = ["givenName", "surname", "email", "avatarUrl"] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
export type ProfileKey = ProfileField | `properties.${string}`;

/** One write to the profile log. `value: null` clears the key. */
export interface ProfileEntry {
  key: ProfileKey;
  value: JsonValue;
  ts: number;
  client: string;
}

/** The user's profile as the newest write per key makes it. */
export interface Profile {
  givenName?: string;
  surname?: string;
  email?: string;
  avatarUrl?: string;
  properties: { [key: string]: JsonValue };
}

/** What a client is, as recorded (and stamped) by the relay. */
export interface ClientRecord {
  id: string;
  platform: string;
  appVersion?: string;
  sdkVersion?: string;
  /** The `User-Agent` the relay saw, where there was one. */
  userAgent?: string;
  firstSeen: number;
  lastSeen: number;
  /** False once the client logged out of this user. */
  active: boolean;
}

/** A read position: everything up to and including `ts` was read. */
export interface ReadMark {
  ts: number;
}

/** A message with the Yjs id of the item that holds it (for delivery status). */
export interface MessageEntry {
  record: MessageRecord;
  /** Yjs clientID and clock of the item holding this record. */
  client: number;
  clock: number;
}

/** The root types of a conversation document. */
export function messagesOf(doc: Y.Doc): Y.Array<MessageRecord> {
  return doc.getArray<MessageRecord>(Root.messages);
}
export function profileLogOf(doc: Y.Doc): Y.Array<ProfileEntry> {
  return doc.getArray<ProfileEntry>(Root.profile);
}
export function readsOf(doc: Y.Doc): Y.Map<ReadMark> {
  return doc.getMap<ReadMark>(Root.reads);
}
export function clientsOf(doc: Y.Doc): Y.Map<ClientRecord> {
  return doc.getMap<ClientRecord>(Root.clients);
}
export function ownersOf(doc: Y.Doc): Y.Map<string> {
  return doc.getMap<string>(Root.owners);
}
export function metaOf(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap<unknown>(Root.meta);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Whether a stored value reads as a message. Readers skip anything else: a document written before a
 * rule existed (or by a relay with a bug) must not make a whole listing fail.
 */
export function isMessageRecord(value: unknown): value is MessageRecord {
  return (
    isObject(value) &&
    typeof value.id === "string" &&
    typeof value.text === "string" &&
    typeof value.ts === "number" &&
    Number.isFinite(value.ts) &&
    (value.role === "user" ? typeof value.client === "string" : value.role === "business" && isObject(value.author))
  );
}

const isProfileEntry = (value: unknown): value is ProfileEntry =>
  isObject(value) &&
  typeof value.key === "string" &&
  typeof value.ts === "number" &&
  Number.isFinite(value.ts) &&
  typeof value.client === "string";

const isReadMark = (value: unknown): value is ReadMark =>
  isObject(value) && typeof value.ts === "number" && Number.isFinite(value.ts);

/** Orders two messages for display: by `ts`, then by `id`. */
export function compareMessages(a: MessageRecord, b: MessageRecord): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Every message once, in display order, with the Yjs id of its item. */
export function listMessageEntries(doc: Y.Doc): MessageEntry[] {
  const entries: MessageEntry[] = [];
  const seen = new Set<string>();
  let item = messagesOf(doc)._start;
  while (item !== null) {
    if (!item.deleted && item.countable) {
      const values = item.content.getContent() as unknown[];
      for (let i = 0; i < values.length; i++) {
        const record = values[i];
        if (!isMessageRecord(record) || seen.has(record.id)) continue;
        seen.add(record.id);
        entries.push({ record, client: item.id.client, clock: item.id.clock + i });
      }
    }
    item = item.right;
  }
  return entries.sort((a, b) => compareMessages(a.record, b.record));
}

/** Every message once, in display order. */
export function listMessages(doc: Y.Doc): MessageRecord[] {
  return listMessageEntries(doc).map((entry) => entry.record);
}

/**
 * The newest `n` messages in display order, as {@link listMessages} would end: each id once (the first in
 * the array counts), ordered by `(ts, id)`. One pass over the array with a bounded min-heap, so the cost
 * is linear in the history and `n log n` in the answer, never a sort of the whole history.
 */
export function newestMessages(doc: Y.Doc, n: number): MessageRecord[] {
  if (!(n > 0)) return [];
  const heap: MessageRecord[] = [];
  const seen = new Set<string>();
  let item = messagesOf(doc)._start;
  while (item !== null) {
    if (!item.deleted && item.countable) {
      for (const record of item.content.getContent() as unknown[]) {
        if (!isMessageRecord(record) || seen.has(record.id)) continue;
        seen.add(record.id);
        if (heap.length < n) heapPush(heap, record);
        else if (compareMessages(record, heap[0] as MessageRecord) > 0) heapReplaceTop(heap, record);
      }
    }
    item = item.right;
  }
  return heap.sort(compareMessages);
}

/** Adds `record` to a min-heap ordered by {@link compareMessages}. */
function heapPush(heap: MessageRecord[], record: MessageRecord): void {
  let index = heap.push(record) - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (compareMessages(heap[parent] as MessageRecord, record) <= 0) break;
    heap[index] = heap[parent] as MessageRecord;
    index = parent;
  }
  heap[index] = record;
}

/** Replaces the smallest record of a min-heap with `record` and restores the heap order. */
function heapReplaceTop(heap: MessageRecord[], record: MessageRecord): void {
  let index = 0;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child =
      right < heap.length && compareMessages(heap[right] as MessageRecord, heap[left] as MessageRecord) < 0
        ? right
        : left;
    if (compareMessages(record, heap[child] as MessageRecord) <= 0) break;
    heap[index] = heap[child] as MessageRecord;
    index = child;
  }
  heap[index] = record;
}

/** The profile: for each key, the entry with the greatest `(ts, client)` wins. */
export function readProfile(doc: Y.Doc): Profile {
  const newest = new Map<string, ProfileEntry>();
  for (const entry of profileLogOf(doc).toArray() as unknown[]) {
    if (!isProfileEntry(entry)) continue;
    const current = newest.get(entry.key);
    if (current === undefined || entry.ts > current.ts || (entry.ts === current.ts && entry.client > current.client)) {
      newest.set(entry.key, entry);
    }
  }
  const profile: Profile = { properties: {} };
  for (const [key, entry] of newest) {
    if (entry.value === null) continue;
    if (key.startsWith("properties.")) profile.properties[key.slice("properties.".length)] = entry.value;
    else if (typeof entry.value === "string") profile[key as ProfileField] = entry.value;
  }
  return profile;
}

/** The user's read position (the furthest of its clients) and the business's. 0 means nothing read. */
export function readPositions(doc: Y.Doc): { user: number; business: number } {
  let user = 0;
  let business = 0;
  for (const [key, mark] of readsOf(doc).entries() as IterableIterator<[string, unknown]>) {
    if (!isReadMark(mark)) continue;
    if (key === BUSINESS_READ_KEY) business = Math.max(business, mark.ts);
    else user = Math.max(user, mark.ts);
  }
  return { user, business };
}

/** The newest `ts` in the document (messages and profile), for the hybrid logical clock. */
export function maxTimestamp(doc: Y.Doc): number {
  let max = 0;
  for (const record of messagesOf(doc).toArray() as unknown[])
    if (isMessageRecord(record) && record.ts > max) max = record.ts;
  for (const entry of profileLogOf(doc).toArray() as unknown[])
    if (isProfileEntry(entry) && entry.ts > max) max = entry.ts;
  return max;
}

/**
 * The next hybrid-logical-clock timestamp: wall-clock milliseconds, but always greater than anything
 * already seen, so a reply sorts after what it answers even if the replier's clock is behind.
 */
export function nextTimestamp(lastSeen: number, now: number = Date.now()): number {
  return Math.max(Math.floor(now), Math.floor(lastSeen) + 1);
}
