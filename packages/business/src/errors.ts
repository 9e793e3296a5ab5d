/**
 * Errors of the business SDK: every refusal of the API is a {@link BusinessApiError} carrying the
 * relay's stable error `code` and the HTTP `status`; match on `code`. {@link NotFoundError} has its own
 * class because "no such user" is the one callers branch on most. A relay that cannot be reached, or
 * answers with something that is not the API, is a {@link RelayUnavailableError}.
 */
import { type ErrorCode, ParleyError } from "@parley/protocol";

export { ErrorCode, ParleyError, RelayUnavailableError } from "@parley/protocol";

/** The business API refused a call. */
export class BusinessApiError extends ParleyError {
  /** The HTTP status of the answer. */
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** The user or anonymous user does not exist (nothing was ever stored for it). */
export class NotFoundError extends BusinessApiError {
  static readonly code = "ERR_NOT_FOUND";
  constructor(message: string) {
    super("ERR_NOT_FOUND", 404, message);
  }
}
