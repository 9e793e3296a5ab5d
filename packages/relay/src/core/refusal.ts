/**
 * How the relay says no: a {@link Refusal} carries a WebSocket close code, the reason token of that code
 * (`@parley/protocol`'s close-reasons table; clients read it, so every refusal must name one) and prose for
 * people. Refusals complete the upgrade and then close, because browsers cannot read the HTTP status of a
 * failed upgrade.
 */
import { type CloseCode, type CloseReason, type CloseReasonOf, formatCloseReason } from "@parley/protocol";
import type { WebSocket } from "ws";

/** Thrown while admitting or serving a connection; ends it with `code`, `reason` and `detail`. */
export class Refusal<C extends CloseCode = CloseCode> extends Error {
  /** The reason token (one of `code`'s, checked by the constructor). */
  readonly reason: CloseReason;
  /**
   * @param code - the close code
   * @param reason - the machine-readable reason token, one of the code's
   * @param detail - what happened, for people (logs, error messages); never parsed
   */
  constructor(
    readonly code: C,
    reason: CloseReasonOf<C>,
    readonly detail = "",
  ) {
    super(`${code} ${formatCloseReason(reason, detail)}`);
    this.name = "Refusal";
    this.reason = reason;
  }
}

/** Longest close reason the WebSocket protocol allows, in UTF-8 bytes (`ws` throws beyond it). */
const MAX_REASON_BYTES = 123;

/** Cuts `reason` to at most 123 UTF-8 bytes without splitting a character. */
export function truncateReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= MAX_REASON_BYTES) return reason;
  let cut = "";
  for (const char of reason) {
    if (encoder.encode(cut + char).length > MAX_REASON_BYTES) break;
    cut += char;
  }
  return cut;
}

/**
 * Closes a socket with a code, its reason token and prose (`<token> <prose>`, cut to 123 bytes; the token
 * always fits); a no-op if it is already closing.
 */
export function closeSocket<C extends CloseCode>(ws: WebSocket, code: C, reason: CloseReasonOf<C>, detail = ""): void {
  if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) return;
  ws.close(code, truncateReason(formatCloseReason(reason, detail)));
  // A peer that never answers the close handshake must not hold the socket forever.
  setTimeout(() => ws.terminate(), 5_000).unref();
}
