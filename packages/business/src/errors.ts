/**
 * Errors of the business SDK: every refusal of the API is a {@link BusinessApiError} carrying the
 * relay's stable error `code` and the HTTP `status`; match on `code`. "No such user" is the one callers branch
 * on most, so it is `@parley/protocol`'s {@link NotFoundError} (the same class the relay throws), with the
 * API's answer as its `cause`. A relay that cannot be reached, or answers with something that is not the API,
 * is a {@link RelayUnavailableError}.
 */
import { type ErrorCode, ParleyError } from "@parley/protocol";

export { ErrorCode, NotFoundError, ParleyError, RelayUnavailableError } from "@parley/protocol";

/** The business API refused a call. */
export class BusinessApiError extends ParleyError {
  override name = "BusinessApiError";
  /** The HTTP status of the answer. */
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}
