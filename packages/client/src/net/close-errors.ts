/** The typed error a relay close code stands for. */
import {
  CloseCode,
  ErrorCode,
  errorCodeForClose,
  ForbiddenError,
  type ParleyError,
  RelayError,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
  type TokenProblem,
} from "@parley/protocol";

const TOKEN_PROBLEMS: readonly TokenProblem[] = [
  "missing",
  "malformed",
  "signature",
  "unknown-key",
  "algorithm",
  "claims",
  "revoked",
];

/** Maps a close code (and the relay's reason text) to a {@link ParleyError} subclass. */
export function errorForClose(code: number, reason: string): ParleyError {
  const detail = reason.length > 0 ? `: ${reason}` : "";
  switch (code) {
    case CloseCode.Unauthorized: {
      const problem = TOKEN_PROBLEMS.find((p) => reason.toLowerCase().includes(p)) ?? "claims";
      return new TokenInvalidError(problem, `the relay refused the token${detail}`);
    }
    case CloseCode.TokenExpired:
      return new TokenExpiredError(`the token expired${detail}`);
    case CloseCode.TokenNotYetValid:
      return new TokenNotYetValidError(`the token is not valid yet${detail}`);
    case CloseCode.Forbidden:
      return new ForbiddenError(`the relay refused access to this conversation${detail}`);
    default:
      return new RelayError(
        errorCodeForClose(code) ?? ErrorCode.RelayUnavailable,
        code,
        `the relay closed the connection (${code})${detail}`,
      );
  }
}
