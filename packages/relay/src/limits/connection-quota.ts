/**
 * Which address a request comes from: the key of the per-address connection quota and rates (counted by the
 * admission backend, admission-backend.ts).
 */
import type { IncomingMessage } from "node:http";

/**
 * The remote address of a request: the socket's peer, or with `trustProxy` the last `x-forwarded-for`
 * entry — the one the relay's own proxy appended; entries before it are whatever the client sent.
 */
export function remoteAddress(request: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = request.headers["x-forwarded-for"];
    const value = Array.isArray(header) ? header.at(-1) : header;
    const last = value?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return request.socket.remoteAddress ?? "unknown";
}
