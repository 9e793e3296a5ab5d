/**
 * The wire protocol: y-websocket's messages, plus one Parley extension.
 *
 * Each binary frame starts with a varUint message type:
 *
 * | type | name            | direction       | body                                                   |
 * |------|-----------------|-----------------|--------------------------------------------------------|
 * | 0    | sync            | both            | y-protocols sync: step 1 (state vector), step 2, update |
 * | 1    | awareness       | both            | y-protocols awareness update                            |
 * | 2    | auth            | relay → client  | y-protocols auth (permission denied + reason)           |
 * | 3    | query awareness | client → relay  | empty                                                   |
 * | 100  | stored          | relay → client  | varUint8Array: state vector of what is durably stored   |
 * | 101  | logout          | client → relay  | empty: this client leaves the subject (marked inactive;  |
 * |      |                 |                 | an anonymous subject's secret is revoked); relay closes 1000 |
 * | 102  | recent          | relay → client  | varString: JSON {@link RecentPreview}, sent before sync  |
 * | 103  | refresh         | client → relay  | varString: a new user JWT for this connection (token-refresh.ts) |
 * | 104  | refreshed       | relay → client  | the answer to `refresh` (token-refresh.ts)              |
 * | 105  | attested        | both            | an update with the relay's attestation (attestation.ts) |
 *
 * `stored` is sent only to connections that asked for it with the URL parameter `acks=1` (a stock
 * y-websocket client logs and ignores unknown types, but never needs to see one). The relay sends it after
 * the first sync and, after a durable write, at once to the connections whose own write it covers and at
 * most every 200 ms to the others (they show others' messages `sent` by it, and prune what they keep for
 * re-delivery, attestation.ts).
 * A client's change is stored once the stored state vector covers its Yjs id: `storedClock(client) > clock`.
 *
 * `recent` is sent only to connections that asked for it with `tail=<n>` (1 ≤ n ≤ {@link MAX_TAIL}): right
 * after admission, before the relay's sync step 1, the newest `n` messages in display order and the read
 * positions, so that a client with nothing of a long conversation can show its end before the full sync
 * has arrived. It is a preview, not document data: the client shows it until its first sync completes.
 *
 * Connection URL: `<relayUrl>/<room>?token=<jwt | anon.<secret>>&client=<clientSecret>[&acks=1]
 * [&info=<base64url JSON ClientInfo>][&merge=anon.<secret>][&tail=<n>][&attest=1]`. See the relay README.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";
import { ErrorCode, ParleyError } from "./errors.js";
import type { MessageRecord } from "./layout.js";
import { checkMessageId, checkMeta, checkText, isJsonValue } from "./records.js";

export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  stored: 100,
  logout: 101,
  recent: 102,
  refresh: 103,
  refreshed: 104,
  attested: 105,
} as const;

/** URL query parameters a Parley connection uses. */
export const ConnectParam = {
  token: "token",
  client: "client",
  acks: "acks",
  info: "info",
  merge: "merge",
  tail: "tail",
  attest: "attest",
} as const;

/** Most messages a `recent` preview may carry (`tail=<n>`). */
export const MAX_TAIL = 200;

/** Parses the `tail` URL parameter: an integer 1…{@link MAX_TAIL}; `null` if it is anything else. */
export function parseTail(value: string): number | null {
  if (!/^[1-9][0-9]{0,2}$/.test(value)) return null;
  const n = Number(value);
  return n <= MAX_TAIL ? n : null;
}

/** The body of a `recent` frame. */
export interface RecentPreview {
  /** The newest messages, in display order. */
  messages: MessageRecord[];
  /** The read positions as `readPositions` computes them. */
  reads: { user: number; business: number };
}

/** What a client tells the relay about itself; the relay stamps times and the User-Agent. */
export interface ClientInfo {
  platform?: string;
  appVersion?: string;
  sdkVersion?: string;
}

/** Encodes a `stored` frame. */
export function encodeStored(stateVector: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.stored);
  encoding.writeVarUint8Array(encoder, stateVector);
  return encoding.toUint8Array(encoder);
}

/** Decodes the body of a `stored` frame (after the type) into a map of Yjs clientID → stored clock. */
export function readStored(decoder: decoding.Decoder): Map<number, number> {
  return Y.decodeStateVector(decoding.readVarUint8Array(decoder));
}

/** Encodes {@link ClientInfo} for the `info` URL parameter. */
export function encodeClientInfo(info: ClientInfo): string {
  const bytes = new TextEncoder().encode(JSON.stringify(info));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Decodes the `info` URL parameter; returns `null` if it is not valid. */
export function decodeClientInfo(value: string): ClientInfo | null {
  try {
    const binary = atob(value.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    const info: ClientInfo = {};
    for (const key of ["platform", "appVersion", "sdkVersion"] as const) {
      const field = (parsed as Record<string, unknown>)[key];
      if (field === undefined) continue;
      if (typeof field !== "string" || field.length > 128) return null;
      info[key] = field;
    }
    return info;
  } catch {
    return null;
  }
}

/** Encodes a `recent` frame. */
export function encodeRecent(preview: RecentPreview): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.recent);
  encoding.writeVarString(encoder, JSON.stringify(preview));
  return encoding.toUint8Array(encoder);
}

function isMessageRecord(value: unknown): value is MessageRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (checkMessageId(v.id) !== null || checkText(v.text) !== null || checkMeta(v.meta) !== null) return false;
  if (typeof v.ts !== "number" || !Number.isSafeInteger(v.ts) || v.ts < 0) return false;
  if (v.role === "user") return typeof v.client === "string";
  return v.role === "business" && v.author !== null && typeof v.author === "object" && isJsonValue(v.author);
}

function isPosition(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Decodes the body of a `recent` frame (after the type). Throws a {@link ParleyError} with code
 * `ERR_BAD_FRAME` if it is not a preview of at most {@link MAX_TAIL} well-formed messages.
 */
export function readRecent(decoder: decoding.Decoder): RecentPreview {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoding.readVarString(decoder));
  } catch (cause) {
    throw new ParleyError(ErrorCode.BadFrame, "recent frame: not JSON", { cause });
  }
  const body = parsed as { messages?: unknown; reads?: { user?: unknown; business?: unknown } } | null;
  const messages = body?.messages;
  if (!Array.isArray(messages) || messages.length > MAX_TAIL || !messages.every(isMessageRecord)) {
    throw new ParleyError(ErrorCode.BadFrame, `recent frame: messages must be at most ${MAX_TAIL} message records`);
  }
  const user = body?.reads?.user;
  const business = body?.reads?.business;
  if (!isPosition(user) || !isPosition(business)) {
    throw new ParleyError(ErrorCode.BadFrame, "recent frame: reads must hold user and business positions");
  }
  return { messages, reads: { user, business } };
}
