/**
 * Room names: how an app, a subject (a user or an anonymous user) and a document map to the name a
 * y-websocket client puts in its URL (`<relay>/<room>?token=…`).
 *
 *   <appId>/u/<base64url(utf8(userId))>   the conversation of a logged-in user
 *   <appId>/a/<anonymousId>               the conversation of an anonymous user
 *
 * A userId is any well-formed string the app chooses, compared byte for byte: "É" and "É" (NFC vs NFD),
 * "Bob" and "bob", "a%2Fb" and "a/b" are different users. Base64url of the UTF-8 bytes is injective,
 * so two different userIds never share a room, and the encoded form contains no `/`, `%`, `.` or `..`.
 * Strings with lone surrogates are refused because UTF-8 encoding would merge them into U+FFFD.
 *
 * A suffix `/<doc>` is reserved for further documents of the same subject (archived history segments
 * of long conversations, see `layout.ts`); today every subject has one document, the conversation.
 */
import * as buffer from "lib0/buffer";
import { InvalidArgumentError } from "./errors.js";

/** What kind of subject a room belongs to. */
export type SubjectKind = "user" | "anonymous";

/** A parsed room name. */
export interface RoomRef {
  appId: string;
  kind: SubjectKind;
  /** The userId for `user`, the anonymous id for `anonymous`. */
  subject: string;
}

const APP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ANONYMOUS_ID = /^[A-Za-z0-9_-]{22}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest userId, in UTF-8 bytes. */
export const MAX_USER_ID_BYTES = 256;

/** Throws {@link InvalidArgumentError} unless `appId` is 1–64 letters, digits, `_` or `-`. */
export function assertAppId(appId: unknown, argument = "appId"): asserts appId is string {
  if (typeof appId !== "string" || !APP_ID.test(appId)) {
    throw new InvalidArgumentError(
      argument,
      "must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit",
    );
  }
}

/** Throws {@link InvalidArgumentError} unless `userId` is a non-empty well-formed string of at most 256 UTF-8 bytes. */
export function assertUserId(userId: unknown, argument = "userId"): asserts userId is string {
  if (typeof userId !== "string" || userId.length === 0) {
    throw new InvalidArgumentError(argument, "must be a non-empty string");
  }
  if (LONE_SURROGATE.test(userId)) {
    throw new InvalidArgumentError(argument, "must be well-formed Unicode (it has a lone surrogate)");
  }
  if (new TextEncoder().encode(userId).length > MAX_USER_ID_BYTES) {
    throw new InvalidArgumentError(argument, `must be at most ${MAX_USER_ID_BYTES} UTF-8 bytes`);
  }
}

/** Throws {@link InvalidArgumentError} unless `id` has the shape of an anonymous id or client id. */
export function assertDerivedId(id: unknown, argument: string): asserts id is string {
  if (typeof id !== "string" || !ANONYMOUS_ID.test(id)) {
    throw new InvalidArgumentError(argument, "must be a 22-character base64url id");
  }
}

function encodeSubject(kind: SubjectKind, subject: string): string {
  if (kind === "anonymous") return subject;
  return buffer.toBase64UrlEncoded(new TextEncoder().encode(subject));
}

/** The room of a subject's conversation. Validates every part. */
export function roomName(ref: RoomRef): string {
  assertAppId(ref.appId);
  if (ref.kind === "user") assertUserId(ref.subject, "subject");
  else if (ref.kind === "anonymous") assertDerivedId(ref.subject, "subject");
  else throw new InvalidArgumentError("kind", 'must be "user" or "anonymous"');
  return `${ref.appId}/${ref.kind === "user" ? "u" : "a"}/${encodeSubject(ref.kind, ref.subject)}`;
}

/**
 * The prefix every room name of `appId` starts with (of one kind of subject if `kind` is given), for
 * listing an app's rooms from storage without reading other apps' names. Validates `appId`.
 */
export function roomNamePrefix(appId: string, kind?: SubjectKind): string {
  assertAppId(appId);
  if (kind === undefined) return `${appId}/`;
  if (kind !== "user" && kind !== "anonymous") throw new InvalidArgumentError("kind", 'must be "user" or "anonymous"');
  return `${appId}/${kind === "user" ? "u" : "a"}/`;
}

/** Parses a room name; returns `null` for anything {@link roomName} would not have produced. */
export function parseRoomName(name: string): RoomRef | null {
  const parts = name.split("/");
  if (parts.length !== 3) return null;
  const [appId, kindPart, encoded] = parts as [string, string, string];
  if (!APP_ID.test(appId)) return null;
  if (kindPart === "a") {
    return ANONYMOUS_ID.test(encoded) ? { appId, kind: "anonymous", subject: encoded } : null;
  }
  if (kindPart !== "u" || !BASE64URL.test(encoded)) return null;
  let subject: string;
  try {
    subject = new TextDecoder("utf-8", { fatal: true }).decode(buffer.fromBase64UrlEncoded(encoded));
  } catch {
    return null;
  }
  const ref: RoomRef = { appId, kind: "user", subject };
  try {
    // Round-trip: refuses non-canonical base64 and invalid userIds.
    return roomName(ref) === name ? ref : null;
  } catch {
    return null;
  }
}
