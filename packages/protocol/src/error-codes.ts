/**
 * Stable error codes: the `code` of every {@link ParleyError}. Codes never change meaning once published;
 * match on `error.code` (or `instanceof`), never on the message text. Each relay close code a caller can
 * act on maps to one of them (close-codes.ts).
 */
export const ErrorCode = {
  InvalidArgument: "ERR_INVALID_ARGUMENT",
  InvalidState: "ERR_INVALID_STATE",
  TokenInvalid: "ERR_TOKEN_INVALID",
  TokenExpired: "ERR_TOKEN_EXPIRED",
  TokenNotYetValid: "ERR_TOKEN_NOT_YET_VALID",
  Forbidden: "ERR_FORBIDDEN",
  UnknownApp: "ERR_UNKNOWN_APP",
  BadRequest: "ERR_BAD_REQUEST",
  BadFrame: "ERR_BAD_FRAME",
  TooLarge: "ERR_TOO_LARGE",
  Authorship: "ERR_AUTHORSHIP",
  RateLimited: "ERR_RATE_LIMITED",
  OriginNotAllowed: "ERR_ORIGIN_NOT_ALLOWED",
  TooManyConnections: "ERR_TOO_MANY_CONNECTIONS",
  Resync: "ERR_RESYNC",
  Timeout: "ERR_TIMEOUT",
  RelayUnavailable: "ERR_RELAY_UNAVAILABLE",
  UnsentChanges: "ERR_UNSENT_CHANGES",
  ClientDestroyed: "ERR_CLIENT_DESTROYED",
  ClientNotReady: "ERR_CLIENT_NOT_READY",
  Storage: "ERR_STORAGE",
  Fenced: "ERR_FENCED",
  NotFound: "ERR_NOT_FOUND",
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
