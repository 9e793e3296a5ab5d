/**
 * How the relay says no: a {@link Refusal} carries a WebSocket close code (from `@parley/protocol`) and a
 * short reason. Refusals complete the upgrade and then close, because browsers cannot read the HTTP
 * status of a failed upgrade.
 */
import type { WebSocket } from "ws";

/** Thrown while admitting or serving a connection; ends it with `code` and `reason`. */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`${code} ${reason}`);
    this.name = "Refusal";
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

/** Closes a socket with a code and a (truncated) reason; a no-op if it is already closing. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) return;
  ws.close(code, truncateReason(reason));
  // A peer that never answers the close handshake must not hold the socket forever.
  setTimeout(() => ws.terminate(), 5_000).unref();
}
