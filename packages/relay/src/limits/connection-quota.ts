/**
 * Counts open connections per key (a user's room, a remote address) against a limit, and tells which
 * address a request comes from.
 */
import type { IncomingMessage } from "node:http";

/** Open connections per key, at most `limit` each. */
export class ConnectionQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes a slot for `key`; returns the function that gives it back (once), or `null` if `key` is full. */
  take(key: string): (() => void) | null {
    const count = this.open.get(key) ?? 0;
    if (count >= this.limit) return null;
    this.open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left === 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}

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
