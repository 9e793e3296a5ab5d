/**
 * Typed errors shared by the client and the relay.
 *
 * Every failure a caller can act on has its own subclass with a stable `code`. Codes never change
 * meaning once published; match on `error.code` (or `instanceof`), never on the message text.
 */

/** Stable error codes. */
export const ErrorCode = {
  InvalidArgument: "ERR_INVALID_ARGUMENT",
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

/** Base class of every error Parley throws on purpose. */
export class ParleyError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  // Spelled out per class: minifiers rename classes, so `constructor.name` would not survive a bundle.
  override name = "ParleyError";
}

/** An argument of a public function is missing or malformed. `argument` names it. */
export class InvalidArgumentError extends ParleyError {
  override name = "InvalidArgumentError";
  static readonly code = ErrorCode.InvalidArgument;
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(ErrorCode.InvalidArgument, `${argument}: ${message}`);
    this.argument = argument;
  }
}

/** Why a token was refused. */
export type TokenProblem = "missing" | "malformed" | "signature" | "unknown-key" | "algorithm" | "claims" | "revoked";

/** A token is malformed, badly signed, signed by an unknown key or carries unusable claims. */
export class TokenInvalidError extends ParleyError {
  override name = "TokenInvalidError";
  static readonly code = ErrorCode.TokenInvalid;
  readonly reason: TokenProblem;
  constructor(reason: TokenProblem, message: string) {
    super(ErrorCode.TokenInvalid, message);
    this.reason = reason;
  }
}

/** The token's `exp` has passed. Ask the app's backend for a fresh one. */
export class TokenExpiredError extends ParleyError {
  override name = "TokenExpiredError";
  static readonly code = ErrorCode.TokenExpired;
  constructor(message = "token expired") {
    super(ErrorCode.TokenExpired, message);
  }
}

/** The token's `nbf` lies in the future. */
export class TokenNotYetValidError extends ParleyError {
  override name = "TokenNotYetValidError";
  static readonly code = ErrorCode.TokenNotYetValid;
  constructor(message = "token not yet valid") {
    super(ErrorCode.TokenNotYetValid, message);
  }
}

/** A valid credential that does not grant what was asked (another user's room, another app). */
export class ForbiddenError extends ParleyError {
  override name = "ForbiddenError";
  static readonly code = ErrorCode.Forbidden;
  constructor(message: string) {
    super(ErrorCode.Forbidden, message);
  }
}

/** There are unsent local changes and the relay cannot be reached to store them. */
export class UnsentChangesError extends ParleyError {
  override name = "UnsentChangesError";
  static readonly code = ErrorCode.UnsentChanges;
  /** Ids of the user's messages that would be lost. */
  readonly messageIds: readonly string[];
  /** Profile fields whose newest value would be lost (`givenName`, `properties.plan`, ...). */
  readonly profileFields: readonly string[];
  /** Whether the user's newest read position would be lost. */
  readonly readPosition: boolean;
  constructor(
    messageIds: readonly string[],
    message: string,
    pending: { profileFields?: readonly string[]; readPosition?: boolean } = {},
  ) {
    super(ErrorCode.UnsentChanges, message);
    this.messageIds = messageIds;
    this.profileFields = pending.profileFields ?? [];
    this.readPosition = pending.readPosition ?? false;
  }
}

/** The relay refused or ended a connection; `closeCode` is the WebSocket close code. */
export class RelayError extends ParleyError {
  override name = "RelayError";
  readonly closeCode: number;
  constructor(code: ErrorCode, closeCode: number, message: string) {
    super(code, message);
    this.closeCode = closeCode;
  }
}

/** The relay could not be reached in time. */
export class RelayUnavailableError extends ParleyError {
  override name = "RelayUnavailableError";
  static readonly code = ErrorCode.RelayUnavailable;
  constructor(message = "relay unreachable") {
    super(ErrorCode.RelayUnavailable, message);
  }
}

/** The client was destroyed; create a new one. */
export class ClientDestroyedError extends ParleyError {
  override name = "ClientDestroyedError";
  static readonly code = ErrorCode.ClientDestroyed;
  constructor() {
    super(ErrorCode.ClientDestroyed, "client destroyed");
  }
}

/** The client's identity is not loaded yet: await `client.ready` first. */
export class ClientNotReadyError extends ParleyError {
  override name = "ClientNotReadyError";
  static readonly code = ErrorCode.ClientNotReady;
  constructor(what: string) {
    super(ErrorCode.ClientNotReady, `${what} is not known until the client is ready (await client.ready)`);
  }
}

/** Local or relay storage failed. */
export class StorageError extends ParleyError {
  override name = "StorageError";
  // Typed wide so that subclasses (FencedError) can carry their own code.
  static readonly code: ErrorCode = ErrorCode.Storage;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Storage, message, options);
  }
}

/**
 * A storage write carried a fence (epoch) older than the room's: another writer claimed the room since, so
 * this one must stop writing to it. Nothing of the refused write was stored. `room` names the document.
 */
export class FencedError extends StorageError {
  override name = "FencedError";
  static override readonly code = ErrorCode.Fenced;
  override readonly code = ErrorCode.Fenced;
  readonly room: string;
  constructor(room: string, options?: { cause?: unknown }) {
    super(`room "${room}" was claimed by a newer writer; this write was refused`, options);
    this.room = room;
  }
}

/** What was asked for does not exist (an unknown user or anonymous user on the business API). */
export class NotFoundError extends ParleyError {
  override name = "NotFoundError";
  static readonly code = ErrorCode.NotFound;
  constructor(message: string) {
    super(ErrorCode.NotFound, message);
  }
}
