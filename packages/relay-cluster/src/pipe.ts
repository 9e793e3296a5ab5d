/**
 * The pipe from the node that received a WebSocket upgrade to the node that serves its room: the upgrade
 * request is written again, unchanged but for the signed client address (peer-address.ts), to the owner's
 * advertised address, and from then on bytes are copied both ways. The handshake, the credentials in the
 * subprotocol entries and every frame are the client's and the owner's; the piping node parses nothing and
 * holds no document, so it can never hold a change that is not durable. If either side closes, both close,
 * and the client reconnects as after any dropped connection.
 */
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { PEER_HEADER } from "./peer-address.js";

/**
 * How long the owner may take to answer the upgrade (connect, then the first bytes of its response) before
 * the pipe gives up and the router looks again. A paused or hung node accepts connections (the kernel does)
 * but never answers: without this, a client would wait for it however long it stays paused.
 */
const ANSWER_TIMEOUT_MS = 3_000;

/** `host:port` (an IPv6 host in brackets) as connect options; `null` if malformed. */
export function parseAdvertise(advertise: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(advertise);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) return null;
  return { host: (match[1] ?? match[2])!, port };
}

/** The request head as the client sent it, with `peer` in place of any {@link PEER_HEADER} it carried. */
function requestHead(request: IncomingMessage, peer: string): Buffer {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === PEER_HEADER) continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  lines.push(`${PEER_HEADER}: ${peer}`, "", "");
  return Buffer.from(lines.join("\r\n"), "latin1");
}

/**
 * Connects to `advertise` and pipes the upgrade there. Resolves `true` once the owner answered (the socket
 * belongs to the pipe from then on), `false` if it could not be reached or did not answer in time (the
 * socket is left untouched: nothing was read from it or written to it).
 */
export function pipeUpgrade(
  advertise: string,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  peer: string,
): Promise<boolean> {
  const target = parseAdvertise(advertise);
  if (target === null || socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const upstream: Socket = connect({ ...target, noDelay: true });
    const timer = setTimeout(() => failed(), ANSWER_TIMEOUT_MS);
    const failed = () => {
      clearTimeout(timer);
      upstream.removeAllListeners("data");
      upstream.destroy();
      resolve(false);
    };
    upstream.once("error", failed);
    upstream.once("close", failed);
    upstream.once("connect", () => {
      upstream.write(requestHead(request, peer));
      if (head.length > 0) upstream.write(head);
    });
    upstream.once("data", (answer: Buffer) => {
      clearTimeout(timer);
      upstream.off("error", failed);
      upstream.off("close", failed);
      // Synchronous from here to pipe(): no other chunk can be emitted (and lost) before it is attached.
      upstream.pause();
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
      upstream.on("close", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      socket.write(answer);
      socket.pipe(upstream);
      upstream.pipe(socket);
      resolve(true);
    });
  });
}
