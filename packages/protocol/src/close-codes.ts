/**
 * WebSocket close codes the relay uses, and what a client should do about each.
 *
 * They sit in the bands the stock y-websocket client (3.1+) understands: 4400–4499 are permanent (the
 * stock client stops and emits `closed`; Parley's client asks the app for a fresh token where that
 * helps) and 4500–4599 are transient (reconnect with backoff). Each code maps one-to-one to an
 * {@link ErrorCode} and one error class (`errorForClose`), and carries a reason token
 * (close-reasons.ts) that says which of its refusals it was.
 */
import { ErrorCode } from "./error-codes.js";

export const CloseCode = {
  /** The URL, room name or a connection parameter is malformed. */
  BadRequest: 4400,
  /**
   * No token, or the token is malformed, badly signed, from an unknown key or algorithm, or lacks a subject; or
   * it is denied by id, or a config reload removed its key (an open connection closes then).
   */
  Unauthorized: 4401,
  /** The token expired (at connect time or while connected). Get a fresh token and reconnect. */
  TokenExpired: 4402,
  /** The credential is valid but does not open this room (another user, another app, a revoked anonymous user). */
  Forbidden: 4403,
  /** The app id is not configured on this relay. */
  UnknownApp: 4404,
  /** The token's `nbf` is in the future. */
  TokenNotYetValid: 4405,
  /** The request's Origin is not in the relay's allow-list. */
  OriginNotAllowed: 4406,
  /** A frame could not be decoded (unknown message type, truncated data, an update Yjs cannot read). */
  BadFrame: 4408,
  /** An update breaks the conversation layout or the authorship rules; nothing of it was stored. */
  Authorship: 4409,
  /** A frame or update exceeds the relay's size limit. */
  TooLarge: 4413,
  /** The sender exceeded a rate limit. Reconnect later. */
  RateLimited: 4529,
  /** Too many connections for this user or address. Reconnect later. */
  TooManyConnections: 4530,
  /** An update depends on data the relay does not have yet; reconnect to run a full sync. */
  Resync: 4531,
  /** The connection stopped answering pings, sent nothing for too long, or fell too far behind in reading. */
  Timeout: 4532,
  /** The client logged out and the relay stored it; the relay closes normally. */
  Normal: 1000,
  /** The relay is shutting down. Reconnect later. */
  GoingAway: 1001,
  /** Unexpected relay failure. Reconnect later. */
  InternalError: 1011,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

const errorCodeByClose: Record<number, ErrorCode> = {
  [CloseCode.BadRequest]: ErrorCode.BadRequest,
  [CloseCode.Unauthorized]: ErrorCode.TokenInvalid,
  [CloseCode.TokenExpired]: ErrorCode.TokenExpired,
  [CloseCode.Forbidden]: ErrorCode.Forbidden,
  [CloseCode.UnknownApp]: ErrorCode.UnknownApp,
  [CloseCode.TokenNotYetValid]: ErrorCode.TokenNotYetValid,
  [CloseCode.OriginNotAllowed]: ErrorCode.OriginNotAllowed,
  [CloseCode.BadFrame]: ErrorCode.BadFrame,
  [CloseCode.Authorship]: ErrorCode.Authorship,
  [CloseCode.TooLarge]: ErrorCode.TooLarge,
  [CloseCode.RateLimited]: ErrorCode.RateLimited,
  [CloseCode.TooManyConnections]: ErrorCode.TooManyConnections,
  [CloseCode.Resync]: ErrorCode.Resync,
  [CloseCode.Timeout]: ErrorCode.Timeout,
};

/** The error code a close code stands for, or `undefined` for ordinary and transport closes. */
export function errorCodeForClose(code: number): ErrorCode | undefined {
  return errorCodeByClose[code];
}

/** Whether a client should reconnect on its own after this close code. */
export function isTransientClose(code: number): boolean {
  return !(code >= 4400 && code <= 4499);
}

/** Whether fetching a fresh token can cure this close. */
export function isAuthClose(code: number): boolean {
  return code === CloseCode.TokenExpired || code === CloseCode.Unauthorized;
}
