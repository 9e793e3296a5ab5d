/**
 * What the business API writes into a conversation document, validated before anything is written:
 * business messages, the business's read position, profile entries, and imported history. Each writer
 * runs inside `room.transactAsRelay`, so the relay's own Yjs clientID (owned by `@relay`) authors every
 * struct and the authorship rules hold for what clients later build on top.
 */
import {
  BUSINESS_READ_KEY,
  type BusinessMessageRecord,
  type ClientRecord,
  checkMessageId,
  checkMeta,
  checkProfileKey,
  checkProfileValue,
  checkText,
  checkTimestamp,
  clientsOf,
  InvalidArgumentError,
  type JsonValue,
  listMessages,
  type MessageRecord,
  maxTimestamp,
  messagesOf,
  nextTimestamp,
  PROFILE_FIELDS,
  type ProfileEntry,
  type ProfileKey,
  profileLogOf,
  readsOf,
  type UserMessageRecord,
} from "@parley/protocol";
import * as buffer from "lib0/buffer";
import type * as Y from "yjs";

/** The `client` of imported user messages, recorded in `clients` as an inactive client. */
export const IMPORTED_CLIENT_ID = "imported";
/** The `client` of profile entries the business writes. */
export const BUSINESS_PROFILE_CLIENT = "@business";
/** Most messages in one import call. */
export const MAX_IMPORT_BATCH = 1_000;

type Author = BusinessMessageRecord["author"];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function check(argument: string, problem: string | null): void {
  if (problem !== null) throw new InvalidArgumentError(argument, problem);
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], argument: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(argument, `unexpected field "${key}"`);
  }
}

function parseAuthor(raw: unknown, argument: string): Author {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new InvalidArgumentError(argument, "must be an object { id?, name?, avatarUrl? }");
  onlyKeys(raw, ["id", "name", "avatarUrl"], argument);
  const author: Author = {};
  for (const key of ["id", "name", "avatarUrl"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value.length === 0 || value.length > 1024) {
      throw new InvalidArgumentError(`${argument}.${key}`, "must be a string of 1-1024 characters");
    }
    author[key] = value;
  }
  return author;
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return buffer.toBase64UrlEncoded(bytes);
}

/** A validated business message, ready to append. */
export interface BusinessMessageInput {
  id: string;
  text: string;
  author: Author;
  metadata?: { [key: string]: JsonValue };
}

/** Validates `POST …/messages` (`{ text, metadata?, author?, id? }`); `id` makes retries idempotent. */
export function parseBusinessMessage(body: Record<string, unknown>): BusinessMessageInput {
  onlyKeys(body, ["id", "text", "metadata", "author"], "body");
  if (body.id !== undefined) check("id", checkMessageId(body.id));
  check("text", checkText(body.text));
  check("metadata", checkMeta(body.metadata));
  const input: BusinessMessageInput = {
    id: (body.id as string | undefined) ?? randomId(),
    text: body.text as string,
    author: parseAuthor(body.author, "author"),
  };
  if (body.metadata !== undefined) input.metadata = body.metadata as { [key: string]: JsonValue };
  return input;
}

/**
 * Appends a business message, timestamped after everything in the document (so a reply sorts after what
 * it answers). Returns the stored record and whether it was new: a message id already in the document is
 * not written again and its stored record is returned.
 */
export function appendBusinessMessage(
  doc: Y.Doc,
  input: BusinessMessageInput,
  now: number,
): { record: MessageRecord; created: boolean } {
  const existing = listMessages(doc).find((m) => m.id === input.id);
  if (existing !== undefined) return { record: existing, created: false };
  const record: BusinessMessageRecord = {
    id: input.id,
    role: "business",
    author: input.author,
    text: input.text,
    ts: nextTimestamp(maxTimestamp(doc), now),
  };
  if (input.metadata !== undefined) record.meta = input.metadata;
  messagesOf(doc).push([record]);
  return { record, created: true };
}

/** Validates `POST …/read` (`{ ts? }`); `null` means "up to the newest message". */
export function parseReadMark(body: Record<string, unknown>, now: number): number | null {
  onlyKeys(body, ["ts"], "body");
  if (body.ts === undefined) return null;
  check("ts", checkTimestamp(body.ts, now));
  return body.ts as number;
}

/** Moves the business's read position forward to `ts` (never back). Returns the position after the call. */
export function markReadByBusiness(doc: Y.Doc, ts: number | null): number {
  const reads = readsOf(doc);
  const current = reads.get(BUSINESS_READ_KEY)?.ts ?? 0;
  const target = ts ?? listMessages(doc).reduce((max, m) => Math.max(max, m.ts), 0);
  if (target <= current) return current;
  reads.set(BUSINESS_READ_KEY, { ts: target });
  return target;
}

/** Validates a profile (`{ givenName?, surname?, email?, avatarUrl?, properties? }`) into key/value writes. */
export function parseProfile(raw: unknown, argument: string): Array<[ProfileKey, JsonValue]> {
  if (raw === undefined) return [];
  if (!isObject(raw)) throw new InvalidArgumentError(argument, "must be an object");
  onlyKeys(raw, [...PROFILE_FIELDS, "properties"], argument);
  const writes: Array<[ProfileKey, JsonValue]> = [];
  for (const field of PROFILE_FIELDS) {
    if (raw[field] === undefined) continue;
    check(`${argument}.${field}`, checkProfileValue(field, raw[field]));
    writes.push([field, raw[field] as JsonValue]);
  }
  if (raw.properties !== undefined) {
    if (!isObject(raw.properties)) throw new InvalidArgumentError(`${argument}.properties`, "must be an object");
    for (const [name, value] of Object.entries(raw.properties)) {
      const key = `properties.${name}`;
      check(`${argument}.properties`, checkProfileKey(key));
      check(`${argument}.properties.${name}`, checkProfileValue(key, value));
      writes.push([key as ProfileKey, value as JsonValue]);
    }
  }
  return writes;
}

/** Appends profile writes as the business; they are newer than anything in the document, so they win. */
export function writeProfile(doc: Y.Doc, writes: Array<[ProfileKey, JsonValue]>, now: number): void {
  if (writes.length === 0) return;
  const ts = nextTimestamp(maxTimestamp(doc), now);
  const entries: ProfileEntry[] = writes.map(([key, value]) => ({ key, value, ts, client: BUSINESS_PROFILE_CLIENT }));
  profileLogOf(doc).push(entries);
}

/** Validates an import batch (`{ messages: [{ id, role, text, ts, author?, metadata? }] }`). */
export function parseImport(body: Record<string, unknown>, now: number): MessageRecord[] {
  onlyKeys(body, ["messages"], "body");
  const raw = body.messages;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_IMPORT_BATCH) {
    throw new InvalidArgumentError("messages", `must be an array of 1-${MAX_IMPORT_BATCH} messages`);
  }
  const seen = new Set<string>();
  return raw.map((item, i) => {
    const argument = `messages[${i}]`;
    if (!isObject(item)) throw new InvalidArgumentError(argument, "must be an object");
    onlyKeys(item, ["id", "role", "text", "ts", "author", "metadata"], argument);
    check(`${argument}.id`, checkMessageId(item.id));
    const id = item.id as string;
    if (seen.has(id)) throw new InvalidArgumentError(`${argument}.id`, `"${id}" appears twice in the batch`);
    seen.add(id);
    check(`${argument}.text`, checkText(item.text));
    check(`${argument}.ts`, checkTimestamp(item.ts, now));
    check(`${argument}.metadata`, checkMeta(item.metadata));
    const common = { id, text: item.text as string, ts: item.ts as number };
    const meta = item.metadata as { [key: string]: JsonValue } | undefined;
    if (item.role === "user") {
      if (item.author !== undefined) {
        throw new InvalidArgumentError(`${argument}.author`, "is for business messages; a user message is the user's");
      }
      const record: UserMessageRecord = { ...common, role: "user", client: IMPORTED_CLIENT_ID };
      if (meta !== undefined) record.meta = meta;
      return record;
    }
    if (item.role === "business") {
      const record: BusinessMessageRecord = { ...common, role: "business", author: parseAuthor(item.author, argument) };
      if (meta !== undefined) record.meta = meta;
      return record;
    }
    throw new InvalidArgumentError(`${argument}.role`, 'must be "user" or "business"');
  });
}

/**
 * Appends the imported messages whose ids the document does not have yet, with their own timestamps and
 * authors, and records the `imported` client once. Returns how many were written and skipped.
 */
export function importMessages(
  doc: Y.Doc,
  records: MessageRecord[],
  now: number,
): { imported: number; skipped: number } {
  const present = new Set(listMessages(doc).map((m) => m.id));
  const fresh = records.filter((record) => !present.has(record.id));
  if (fresh.length > 0) messagesOf(doc).push(fresh);
  if (fresh.some((record) => record.role === "user") && !clientsOf(doc).has(IMPORTED_CLIENT_ID)) {
    const record: ClientRecord = {
      id: IMPORTED_CLIENT_ID,
      platform: "import",
      firstSeen: now,
      lastSeen: now,
      active: false,
    };
    clientsOf(doc).set(IMPORTED_CLIENT_ID, record);
  }
  return { imported: fresh.length, skipped: records.length - fresh.length };
}
