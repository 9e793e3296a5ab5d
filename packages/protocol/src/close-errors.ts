/**
 * The typed error a relay close stands for: the close code picks the class (one per code a caller can act
 * on), the reason token (close-reasons.ts) fills its `reason`, and the prose after the token only goes into
 * the message. Nothing is read from the prose.
 */
import { CloseCode, errorCodeForClose } from "./close-codes.js";
import { type CloseReason, type CloseReasonOf, parseCloseReason } from "./close-reasons.js";
import { ErrorCode } from "./error-codes.js";
import {
  AuthorshipError,
  BadFrameError,
  BadRequestError,
  ConnectionTimeoutError,
  ForbiddenError,
  OriginNotAllowedError,
  type ParleyError,
  RateLimitedError,
  RelayError,
  ResyncError,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
  TooLargeError,
  TooManyConnectionsError,
  UnknownAppError,
} from "./errors.js";

/**
 * Maps a WebSocket close code and close reason from the relay to a {@link ParleyError} subclass whose
 * `reason` is the token the relay sent (`undefined` if it sent none this version knows for that code).
 *
 * @param code - the close code
 * @param text - the close reason as received: `<token> <prose>`
 */
export function errorForClose(code: number, text: string): ParleyError {
  const { reason: token, detail } = parseCloseReason(code, text);
  const said = [token, detail].filter((part) => part !== undefined && part !== "").join(": ");
  const suffix = said === "" ? "" : ` (${said})`;
  const reason = <C extends CloseCode>() => token as CloseReasonOf<C> | undefined;
  switch (code) {
    case CloseCode.BadRequest:
      return new BadRequestError(`the relay refused the connection request${suffix}`, { reason: reason<4400>() });
    case CloseCode.Unauthorized:
      return new TokenInvalidError(reason<4401>(), `the relay refused the token${suffix}`);
    case CloseCode.TokenExpired:
      return new TokenExpiredError(`the token expired${suffix}`);
    case CloseCode.Forbidden:
      return new ForbiddenError(`the relay refused access to this conversation${suffix}`, { reason: reason<4403>() });
    case CloseCode.UnknownApp:
      return new UnknownAppError(`the relay does not know this app${suffix}`);
    case CloseCode.TokenNotYetValid:
      return new TokenNotYetValidError(`the token is not valid yet${suffix}`);
    case CloseCode.OriginNotAllowed:
      return new OriginNotAllowedError(`the relay does not allow this origin${suffix}`);
    case CloseCode.BadFrame:
      return new BadFrameError(`the relay could not read a frame${suffix}`, { reason: reason<4408>() });
    case CloseCode.Authorship:
      return new AuthorshipError(`the relay refused a change${suffix}`, { reason: reason<4409>() });
    case CloseCode.TooLarge:
      return new TooLargeError(`a frame was too large for the relay${suffix}`, { reason: reason<4413>() });
    case CloseCode.RateLimited:
      return new RateLimitedError(`the relay's rate limit was reached${suffix}`, { reason: reason<4529>() });
    case CloseCode.TooManyConnections:
      return new TooManyConnectionsError(`too many connections${suffix}`, { reason: reason<4530>() });
    case CloseCode.Resync:
      return new ResyncError(`the relay needs a full sync${suffix}`);
    case CloseCode.Timeout:
      return new ConnectionTimeoutError(`the relay timed the connection out${suffix}`, { reason: reason<4532>() });
    default:
      return new RelayError(
        errorCodeForClose(code) ?? ErrorCode.RelayUnavailable,
        code,
        `the relay closed the connection (${code})${suffix}`,
        { reason: token as CloseReason | undefined },
      );
  }
}
