/**
 * Validation of the records a user client may write (see `layout.ts`). The relay runs these on every
 * incoming struct before applying an update; the client runs them on its own input so that an honest
 * client never trips the relay. Each returns `null` when the value is acceptable, or the reason it is not.
 */
import { type JsonValue, MAX_CLOCK_SKEW_MS, MAX_JSON_BYTES, MAX_TEXT_LENGTH, PROFILE_FIELDS } from "./layout.js";

const MESSAGE_ID = /^[A-Za-z0-9_-]{8,64}$/;
const PROPERTY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) return `unexpected field "${key}"`;
  return null;
}

function jsonSize(value: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(value)).length;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Whether `value` is JSON made of plain objects (without a `__proto__` key), arrays, strings, finite numbers,
 * booleans and null.
 */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 16) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (isPlainObject(value)) {
    // `JSON.parse` makes "__proto__" an own key, which peers decode (lib0 `readAny`) as a prototype or not at all:
    // every reader would hold another value than its writer, and the relay would refuse the writer's update.
    if (Object.hasOwn(value, "__proto__")) return false;
    return Object.values(value).every((v) => isJsonValue(v, depth + 1));
  }
  return false;
}

/** Checks a timestamp: a non-negative integer no further ahead of `now` than the allowed skew. */
export function checkTimestamp(ts: unknown, now: number): string | null {
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) return "ts must be a non-negative integer";
  if (ts > now + MAX_CLOCK_SKEW_MS) return "ts is too far in the future";
  return null;
}

/** Checks a message id: 8–64 base64url characters. */
export function checkMessageId(id: unknown): string | null {
  return typeof id === "string" && MESSAGE_ID.test(id) ? null : "id must be 8-64 characters of A-Z a-z 0-9 _ -";
}

/** Checks message text. */
export function checkText(text: unknown): string | null {
  if (typeof text !== "string") return "text must be a string";
  if (text.length === 0 || text.length > MAX_TEXT_LENGTH) return `text must be 1-${MAX_TEXT_LENGTH} characters`;
  return null;
}

/** Checks optional message metadata: a JSON object of at most {@link MAX_JSON_BYTES}. */
export function checkMeta(meta: unknown): string | null {
  if (meta === undefined) return null;
  if (!isPlainObject(meta) || !isJsonValue(meta)) return "meta must be a JSON object";
  if (jsonSize(meta) > MAX_JSON_BYTES) return `meta must be at most ${MAX_JSON_BYTES} bytes of JSON`;
  return null;
}

/** A message a user client may append: role `user`, sent from `clientId`. */
export function checkUserMessage(value: unknown, clientId: string, now: number): string | null {
  if (!isPlainObject(value)) return "message must be an object";
  return (
    onlyKeys(value, ["id", "role", "client", "text", "ts", "meta"]) ??
    (value.role === "user" ? null : 'role must be "user"') ??
    (value.client === clientId ? null : "client must be the sending client's id") ??
    checkMessageId(value.id) ??
    checkText(value.text) ??
    checkTimestamp(value.ts, now) ??
    checkMeta(value.meta)
  );
}

/** Checks a profile key: a known field or `properties.<name>`. */
export function checkProfileKey(key: unknown): string | null {
  if (typeof key !== "string") return "key must be a string";
  if ((PROFILE_FIELDS as readonly string[]).includes(key)) return null;
  if (key.startsWith("properties.") && PROPERTY_NAME.test(key.slice("properties.".length))) return null;
  return `key must be one of ${PROFILE_FIELDS.join(", ")} or properties.<name>`;
}

/** Checks a profile value for `key`: a string (≤ 1,024 chars) or null for fields, JSON for properties. */
export function checkProfileValue(key: string, value: unknown): string | null {
  if (value === null) return null;
  if (key.startsWith("properties.")) {
    if (!isJsonValue(value)) return "property value must be JSON";
    return jsonSize(value) > MAX_JSON_BYTES ? `property value must be at most ${MAX_JSON_BYTES} bytes` : null;
  }
  return typeof value === "string" && value.length <= 1024
    ? null
    : `${key} must be a string of at most 1024 characters or null`;
}

/** A profile entry a user client may append. */
export function checkProfileEntry(value: unknown, clientId: string, now: number): string | null {
  if (!isPlainObject(value)) return "profile entry must be an object";
  return (
    onlyKeys(value, ["key", "value", "ts", "client"]) ??
    (value.client === clientId ? null : "client must be the sending client's id") ??
    checkProfileKey(value.key) ??
    checkProfileValue(value.key as string, value.value) ??
    checkTimestamp(value.ts, now)
  );
}

/** A read mark a user client may set under its own client id. */
export function checkReadMark(value: unknown, now: number): string | null {
  if (!isPlainObject(value)) return "read mark must be an object";
  return onlyKeys(value, ["ts"]) ?? checkTimestamp(value.ts, now);
}
