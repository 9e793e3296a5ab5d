/**
 * Why the relay closed a connection, as a machine-readable token.
 *
 * The close reason on the wire is `<token>` or `<token> <prose>`: the first word is one of the tokens
 * below, the rest is for people (logs, error messages) and may change at any time. Each token belongs to
 * exactly one close code ({@link closeCodeOfReason}); a client reads the token with
 * {@link parseCloseReason} and never looks inside the prose. A token this version does not know, or one
 * sent with another close code, reads as `undefined`: the close code still says what to do.
 *
 * PROTOCOL.md lists the same table ("Close codes and reasons").
 */
import { CloseCode } from "./close-codes.js";

const reasons = {
  // 1000: the client logged out (a `logout` frame); the relay stored it and closes normally.
  /** The client's `logout` was stored. */
  "logged-out": CloseCode.Normal,

  // 1001
  /** The relay is shutting down. */
  shutdown: CloseCode.GoingAway,
  /** Another writer (relay node) claimed the room; reconnect to reach the one that holds it now. */
  "room-moved": CloseCode.GoingAway,

  // 1011: reconnect later.
  /** An unexpected failure while admitting the connection. */
  internal: CloseCode.InternalError,
  /** A storage write failed; the room was dropped and reloads from storage on the next connection. */
  storage: CloseCode.InternalError,
  /** The sync reply could not be prepared. */
  "sync-failed": CloseCode.InternalError,
  /** The `logout` could not be stored. */
  "logout-failed": CloseCode.InternalError,

  // 4400
  /** The path is not `/v1/<room>`. */
  "bad-path": CloseCode.BadRequest,
  /** The room name is malformed. */
  "bad-room": CloseCode.BadRequest,
  /** `client=<secret>` is missing or malformed. */
  "bad-client": CloseCode.BadRequest,
  /** `info=` is malformed. */
  "bad-info": CloseCode.BadRequest,
  /** `tail=` is not an integer from 1 to 200. */
  "bad-tail": CloseCode.BadRequest,
  /** `merge=` is not `anon.<secret>`. */
  "bad-merge": CloseCode.BadRequest,
  /** `merge=` on an anonymous room (only a user room merges an anonymous one). */
  "merge-anonymous": CloseCode.BadRequest,
  /** A credential offered twice as a subprotocol, or both in the URL and as a subprotocol. */
  "bad-credentials": CloseCode.BadRequest,

  // 4401: the token problems of {@link TokenInvalidError}.
  /** No token. */
  missing: CloseCode.Unauthorized,
  /** Not a JWT nor an `anon.<secret>` token, or unverifiable. */
  malformed: CloseCode.Unauthorized,
  /** Longer than the relay accepts. */
  "too-large": CloseCode.Unauthorized,
  /** The signature does not verify. */
  signature: CloseCode.Unauthorized,
  /** No `kid` header, or a `kid` the app does not have. */
  "unknown-key": CloseCode.Unauthorized,
  /** An algorithm the key does not allow. */
  algorithm: CloseCode.Unauthorized,
  /** A claim is unusable (no user, wrong issuer or audience, malformed times). */
  claims: CloseCode.Unauthorized,
  /** The token's `jti` is on its app's denylist (`denyTokenIds`): at connect, at a refresh, or at a config reload. */
  "token-denied": CloseCode.Unauthorized,
  /** A config reload removed the key that signed this open connection's token (a rotated or compromised key). */
  "key-removed": CloseCode.Unauthorized,

  // 4402
  /** The token's `exp` passed, at connect time or while connected. */
  expired: CloseCode.TokenExpired,

  // 4403
  /** The token was signed by a key of another app. */
  "other-app": CloseCode.Forbidden,
  /** The credential opens another room (another user, another anonymous subject, or a user room). */
  "other-room": CloseCode.Forbidden,
  /** The anonymous subject logged out; its token opens nothing any more. */
  revoked: CloseCode.Forbidden,
  /** The anonymous subject was merged into a user (for a `merge=`: into another user). */
  merged: CloseCode.Forbidden,
  /** An authentication extension refused the credential. */
  denied: CloseCode.Forbidden,

  // 4404
  /** The app id is not configured on this relay. */
  "unknown-app": CloseCode.UnknownApp,

  // 4405
  /** The token's `nbf` lies in the future. */
  "not-yet-valid": CloseCode.TokenNotYetValid,

  // 4406
  /** The Origin header is not in the relay's allow-list. */
  origin: CloseCode.OriginNotAllowed,

  // 4408
  /** A text frame. */
  "text-frame": CloseCode.BadFrame,
  /** An unknown or relay-only message type. */
  "message-type": CloseCode.BadFrame,
  /** An unknown sync message type. */
  "sync-type": CloseCode.BadFrame,
  /** A frame or update that cannot be decoded. */
  undecodable: CloseCode.BadFrame,

  // 4409
  /** An update breaks the layout or the authorship rules. */
  authorship: CloseCode.Authorship,
  /**
   * A login merge was refused whole: the anonymous document breaks the authorship rules, or a Yjs clientID
   * has another owner or another history in the user document (an owner conflict).
   */
  merge: CloseCode.Authorship,
  /** An awareness update claims another client's state or shows what only the relay may show. */
  awareness: CloseCode.Authorship,
  /** An `attested` frame whose tag is not the relay's over that room and update (attestation.ts). */
  attestation: CloseCode.Authorship,

  // 4413
  /** An update or other frame over `maxFrameBytes`. */
  "frame-size": CloseCode.TooLarge,
  /** A sync step over `maxSyncBytes`. */
  "sync-size": CloseCode.TooLarge,
  /** An awareness frame over `maxAwarenessBytes`. */
  "awareness-size": CloseCode.TooLarge,
  /** Too many frames or bytes sent before the connection was admitted. */
  "early-data": CloseCode.TooLarge,

  // 4529
  /** Too many update messages. */
  "message-rate": CloseCode.RateLimited,
  /** Too many bytes. */
  "byte-rate": CloseCode.RateLimited,
  /** Too many sync steps. */
  "sync-rate": CloseCode.RateLimited,
  /** Too many awareness updates. */
  "awareness-rate": CloseCode.RateLimited,
  /** Too many new Yjs clientIDs in update messages of this connection. */
  "client-id-rate": CloseCode.RateLimited,
  /** Too many new Yjs clientIDs in one sync step 2. */
  "sync-client-ids": CloseCode.RateLimited,
  /** Too many new Yjs clientIDs in this document. */
  "document-client-ids": CloseCode.RateLimited,
  /** A sync step 1 sent while the previous one is still being answered. */
  "sync-overlap": CloseCode.RateLimited,
  /** The relay holds too many large sync replies; it refuses more for now. */
  "replies-busy": CloseCode.RateLimited,
  /** Too many new connections from this address. */
  "connect-rate": CloseCode.RateLimited,
  /** Too many new connections to this room. */
  "room-connect-rate": CloseCode.RateLimited,
  /** Too many new anonymous users from this address. */
  "anonymous-rate": CloseCode.RateLimited,

  // 4530
  /** Too many connections from this address. */
  "per-address": CloseCode.TooManyConnections,
  /** Too many connections for this user. */
  "per-user": CloseCode.TooManyConnections,

  // 4531
  /** An update depends on data the relay does not have. */
  "missing-dependency": CloseCode.Resync,

  // 4532
  /** A ping went unanswered. */
  ping: CloseCode.Timeout,
  /** Nothing was received for `idleTimeoutMs`. */
  idle: CloseCode.Timeout,
  /** The connection fell more than `maxBufferedBytes` behind in reading. */
  "slow-reader": CloseCode.Timeout,
} as const satisfies Record<string, CloseCode>;

/** Every close reason token. */
export type CloseReason = keyof typeof reasons;

/** The close reason tokens of close code `C`. */
export type CloseReasonOf<C extends CloseCode> = {
  [R in CloseReason]: (typeof reasons)[R] extends C ? R : never;
}[CloseReason];

/** The close code a token belongs to, or `undefined` if `token` is not one. */
export function closeCodeOfReason(token: string): CloseCode | undefined {
  return Object.hasOwn(reasons, token) ? reasons[token as CloseReason] : undefined;
}

/** Every token with its close code, in the order of the table. */
export function closeReasons(): ReadonlyArray<readonly [CloseReason, CloseCode]> {
  return Object.entries(reasons) as Array<[CloseReason, CloseCode]>;
}

/** The close reason to send: the token, then the prose, if any. Callers cut it to 123 bytes. */
export function formatCloseReason(token: CloseReason, detail = ""): string {
  return detail === "" ? token : `${token} ${detail}`;
}

/**
 * Reads a close reason. `reason` is the token if the first word is one that belongs to `code`,
 * `undefined` otherwise (a relay of another version, a transport close); `detail` is the rest.
 */
export function parseCloseReason(code: number, text: string): { reason: CloseReason | undefined; detail: string } {
  const space = text.indexOf(" ");
  const first = space === -1 ? text : text.slice(0, space);
  if (closeCodeOfReason(first) !== code) return { reason: undefined, detail: text };
  return { reason: first as CloseReason, detail: space === -1 ? "" : text.slice(space + 1) };
}

/**
 * Whether a close is the relay's acknowledgement of a `logout` frame: code 1000 with the token
 * `logged-out`. The relay sends it only once the logout is durable (the client record marked inactive, an
 * anonymous subject's secret revoked); until a client sees it, the logout is not delivered.
 */
export function isLogoutAck(code: number, reason: string): boolean {
  return code === CloseCode.Normal && parseCloseReason(code, reason).reason === "logged-out";
}
