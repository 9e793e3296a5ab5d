/**
 * Typed errors shared by the client, the relay and the business SDK.
 *
 * Every failure a caller can act on has its own subclass with a static and an instance `code`
 * (error-codes.ts). An error that stands for a relay close code also has a static `closeCode` and, where the
 * code covers several refusals, a `reason`: the close reason token the relay sent (close-reasons.ts),
 * `undefined` if the relay sent none this version knows. Causes are kept (`{ cause }`).
 */
import { CloseCode } from "./close-codes.js";
import type { CloseReason, CloseReasonOf } from "./close-reasons.js";
import { ErrorCode } from "./error-codes.js";

export { ErrorCode } from "./error-codes.js";

/** Options every {@link ParleyError} takes: the error that caused it, kept as `cause`. */
export interface ParleyErrorOptions {
  cause?: unknown;
}

/** Options of an error that stands for a relay close: the reason token the relay sent, if any. */
export interface CloseErrorOptions<R extends CloseReason> extends ParleyErrorOptions {
  reason?: R | undefined;
}

/** Base class of every error Parley throws on purpose. */
export class ParleyError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ParleyErrorOptions) {
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
  constructor(argument: string, message: string, options?: ParleyErrorOptions) {
    super(ErrorCode.InvalidArgument, `${argument}: ${message}`, options);
    this.argument = argument;
  }
}

/** A call that the object's current state does not allow (not loaded yet, nothing open, already closed). */
export class InvalidStateError extends ParleyError {
  override name = "InvalidStateError";
  static readonly code = ErrorCode.InvalidState;
  constructor(message: string, options?: ParleyErrorOptions) {
    super(ErrorCode.InvalidState, message, options);
  }
}

/** Why a token was refused: the reason tokens of close code 4401. */
export type TokenProblem = CloseReasonOf<typeof CloseCode.Unauthorized>;

/**
 * A token is missing, malformed, too large, badly signed, signed by an unknown key or with an algorithm the
 * key does not allow, or carries unusable claims (close code 4401). Ask the app's backend for a fresh one.
 */
export class TokenInvalidError extends ParleyError {
  override name = "TokenInvalidError";
  static readonly code = ErrorCode.TokenInvalid;
  static readonly closeCode = CloseCode.Unauthorized;
  /** What is wrong with it; `undefined` when the relay gave no reason this version knows. */
  readonly reason: TokenProblem | undefined;
  constructor(reason: TokenProblem | undefined, message: string, options?: ParleyErrorOptions) {
    super(ErrorCode.TokenInvalid, message, options);
    this.reason = reason;
  }
}

/** The token's `exp` has passed (close code 4402). Ask the app's backend for a fresh one. */
export class TokenExpiredError extends ParleyError {
  override name = "TokenExpiredError";
  static readonly code = ErrorCode.TokenExpired;
  static readonly closeCode = CloseCode.TokenExpired;
  constructor(message = "token expired", options?: ParleyErrorOptions) {
    super(ErrorCode.TokenExpired, message, options);
  }
}

/** The token's `nbf` lies in the future (close code 4405). */
export class TokenNotYetValidError extends ParleyError {
  override name = "TokenNotYetValidError";
  static readonly code = ErrorCode.TokenNotYetValid;
  static readonly closeCode = CloseCode.TokenNotYetValid;
  constructor(message = "token not yet valid", options?: ParleyErrorOptions) {
    super(ErrorCode.TokenNotYetValid, message, options);
  }
}

/**
 * A valid credential that does not grant what was asked (close code 4403): another user's room or another
 * app (`other-room`, `other-app`), an authentication extension (`denied`), an anonymous subject that logged out (`revoked`) or was merged into a user
 * (`merged`).
 */
export class ForbiddenError extends ParleyError {
  override name = "ForbiddenError";
  static readonly code = ErrorCode.Forbidden;
  static readonly closeCode = CloseCode.Forbidden;
  readonly reason: CloseReasonOf<typeof CloseCode.Forbidden> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.Forbidden>>) {
    super(ErrorCode.Forbidden, message, options);
    this.reason = options?.reason;
  }
}

/** The connection URL is malformed (close code 4400); `reason` says which part. A client bug, not retried. */
export class BadRequestError extends ParleyError {
  override name = "BadRequestError";
  static readonly code = ErrorCode.BadRequest;
  static readonly closeCode = CloseCode.BadRequest;
  readonly reason: CloseReasonOf<typeof CloseCode.BadRequest> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.BadRequest>>) {
    super(ErrorCode.BadRequest, message, options);
    this.reason = options?.reason;
  }
}

/** The app id is not configured on the relay (close code 4404, or the business API's 404 for an app). */
export class UnknownAppError extends ParleyError {
  override name = "UnknownAppError";
  static readonly code = ErrorCode.UnknownApp;
  static readonly closeCode = CloseCode.UnknownApp;
  constructor(message = "unknown app", options?: ParleyErrorOptions) {
    super(ErrorCode.UnknownApp, message, options);
  }
}

/** The page's Origin is not in the relay's allow-list (close code 4406). */
export class OriginNotAllowedError extends ParleyError {
  override name = "OriginNotAllowedError";
  static readonly code = ErrorCode.OriginNotAllowed;
  static readonly closeCode = CloseCode.OriginNotAllowed;
  constructor(message = "origin not allowed", options?: ParleyErrorOptions) {
    super(ErrorCode.OriginNotAllowed, message, options);
  }
}

/** A frame could not be decoded (close code 4408, or a malformed frame read by the client). */
export class BadFrameError extends ParleyError {
  override name = "BadFrameError";
  static readonly code = ErrorCode.BadFrame;
  static readonly closeCode = CloseCode.BadFrame;
  readonly reason: CloseReasonOf<typeof CloseCode.BadFrame> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.BadFrame>>) {
    super(ErrorCode.BadFrame, message, options);
    this.reason = options?.reason;
  }
}

/** An update or awareness state broke the layout or the authorship rules; nothing of it was stored (4409). */
export class AuthorshipError extends ParleyError {
  override name = "AuthorshipError";
  static readonly code = ErrorCode.Authorship;
  static readonly closeCode = CloseCode.Authorship;
  readonly reason: CloseReasonOf<typeof CloseCode.Authorship> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.Authorship>>) {
    super(ErrorCode.Authorship, message, options);
    this.reason = options?.reason;
  }
}

/** A frame, update or request body is over the relay's size limit (close code 4413, HTTP 413). */
export class TooLargeError extends ParleyError {
  override name = "TooLargeError";
  static readonly code = ErrorCode.TooLarge;
  static readonly closeCode = CloseCode.TooLarge;
  readonly reason: CloseReasonOf<typeof CloseCode.TooLarge> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.TooLarge>>) {
    super(ErrorCode.TooLarge, message, options);
    this.reason = options?.reason;
  }
}

/** The sender went over a rate limit (close code 4529); `reason` names the budget. Reconnect later. */
export class RateLimitedError extends ParleyError {
  override name = "RateLimitedError";
  static readonly code = ErrorCode.RateLimited;
  static readonly closeCode = CloseCode.RateLimited;
  readonly reason: CloseReasonOf<typeof CloseCode.RateLimited> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.RateLimited>>) {
    super(ErrorCode.RateLimited, message, options);
    this.reason = options?.reason;
  }
}

/** Too many connections for this user or address (close code 4530). Reconnect later. */
export class TooManyConnectionsError extends ParleyError {
  override name = "TooManyConnectionsError";
  static readonly code = ErrorCode.TooManyConnections;
  static readonly closeCode = CloseCode.TooManyConnections;
  readonly reason: CloseReasonOf<typeof CloseCode.TooManyConnections> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.TooManyConnections>>) {
    super(ErrorCode.TooManyConnections, message, options);
    this.reason = options?.reason;
  }
}

/** An update depended on data the relay does not have (close code 4531); reconnect to run a full sync. */
export class ResyncError extends ParleyError {
  override name = "ResyncError";
  static readonly code = ErrorCode.Resync;
  static readonly closeCode = CloseCode.Resync;
  constructor(message = "resync needed", options?: ParleyErrorOptions) {
    super(ErrorCode.Resync, message, options);
  }
}

/**
 * The connection stopped answering pings (`ping`), sent nothing for too long (`idle`) or fell too far
 * behind in reading (`slow-reader`) (close code 4532). Reconnect.
 */
export class ConnectionTimeoutError extends ParleyError {
  override name = "ConnectionTimeoutError";
  static readonly code = ErrorCode.Timeout;
  static readonly closeCode = CloseCode.Timeout;
  readonly reason: CloseReasonOf<typeof CloseCode.Timeout> | undefined;
  constructor(message: string, options?: CloseErrorOptions<CloseReasonOf<typeof CloseCode.Timeout>>) {
    super(ErrorCode.Timeout, message, options);
    this.reason = options?.reason;
  }
}

/** There are unsent local changes and the relay cannot be reached to store them. */
export class UnsentChangesError extends ParleyError {
  override name = "UnsentChangesError";
  static readonly code = ErrorCode.UnsentChanges;
  /** Ids of the user's messages that would be lost (with those a login merged that the relay has not yet merged). */
  readonly messageIds: readonly string[];
  /** Profile fields whose newest value would be lost (`givenName`, `properties.plan`, ...). */
  readonly profileFields: readonly string[];
  /** Whether the user's newest read position would be lost. */
  readonly readPosition: boolean;
  constructor(
    messageIds: readonly string[],
    message: string,
    pending: { profileFields?: readonly string[]; readPosition?: boolean } = {},
    options?: ParleyErrorOptions,
  ) {
    super(ErrorCode.UnsentChanges, message, options);
    this.messageIds = messageIds;
    this.profileFields = pending.profileFields ?? [];
    this.readPosition = pending.readPosition ?? false;
  }
}

/**
 * The relay ended a connection with a code no other class stands for: it is shutting down (1001,
 * `shutdown`) or failed (1011: `internal`, `storage`, `sync-failed`, `logout-failed`). Reconnect later.
 */
export class RelayError extends ParleyError {
  override name = "RelayError";
  /** The WebSocket close code. */
  readonly closeCode: number;
  readonly reason: CloseReason | undefined;
  constructor(code: ErrorCode, closeCode: number, message: string, options?: CloseErrorOptions<CloseReason>) {
    super(code, message, options);
    this.closeCode = closeCode;
    this.reason = options?.reason;
  }
}

/** The relay could not be reached in time. */
export class RelayUnavailableError extends ParleyError {
  override name = "RelayUnavailableError";
  static readonly code = ErrorCode.RelayUnavailable;
  constructor(message = "relay unreachable", options?: ParleyErrorOptions) {
    super(ErrorCode.RelayUnavailable, message, options);
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

/** Local or relay storage failed (a read, a write, a delete that could not be verified). */
export class StorageError extends ParleyError {
  override name = "StorageError";
  // Typed wide so that subclasses (FencedError) can carry their own code.
  static readonly code: ErrorCode = ErrorCode.Storage;
  constructor(message: string, options?: ParleyErrorOptions) {
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
  constructor(room: string, options?: ParleyErrorOptions) {
    super(`room "${room}" was claimed by a newer writer; this write was refused`, options);
    this.room = room;
  }
}

/** What was asked for does not exist (an unknown user, anonymous user or endpoint on the business API). */
export class NotFoundError extends ParleyError {
  override name = "NotFoundError";
  static readonly code = ErrorCode.NotFound;
  constructor(message: string, options?: ParleyErrorOptions) {
    super(ErrorCode.NotFound, message, options);
  }
}
