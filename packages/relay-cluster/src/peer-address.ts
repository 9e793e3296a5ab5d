/**
 * The client address a node passes along with a connection it pipes to the room's owner. The owner counts
 * its per-address limits against that address, not against the piping node's; so it must believe the header
 * only from a cluster node: the value is signed with the cluster secret over the address and the request's
 * `Sec-WebSocket-Key` (random per upgrade), so a client can neither forge it nor replay one it saw with
 * another handshake. A forwarded HTTP request (business API) has no such key: the forwarding node adds a
 * random {@link NONCE_HEADER} and signs over that; there the header only says "already forwarded".
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The header a cluster node adds to an upgrade it pipes or a request it forwards: `<address> <signature>`. */
export const PEER_HEADER = "x-parley-cluster-peer";
/** The random value a forwarded HTTP request is signed over (upgrades use their `Sec-WebSocket-Key`). */
export const NONCE_HEADER = "x-parley-cluster-nonce";

/** What the signature is bound to: the upgrade's key, else the forwarded request's nonce. */
function bindingOf(request: IncomingMessage): string {
  const key = request.headers["sec-websocket-key"] ?? request.headers[NONCE_HEADER];
  return typeof key === "string" ? key : "";
}

function signature(secret: string, address: string, key: string): Buffer {
  return createHmac("sha256", secret).update(`${address}\n${key}`).digest();
}

/**
 * The header value for a piped upgrade of `request` (or, with `binding`, a forwarded request carrying that
 * {@link NONCE_HEADER}), which came from `address`.
 */
export function signPeerAddress(
  secret: string,
  address: string,
  request: IncomingMessage,
  binding = bindingOf(request),
): string {
  return `${address} ${signature(secret, address, binding).toString("base64url")}`;
}

/**
 * The client address a cluster node vouched for on `request`, or `null` if the header is absent, malformed
 * or not signed with `secret` (then the request is treated as coming straight from a client).
 */
export function verifiedPeerAddress(secret: string, request: IncomingMessage): string | null {
  const header = request.headers[PEER_HEADER];
  if (typeof header !== "string") return null;
  const [address, signed, ...rest] = header.split(" ");
  if (!address || !signed || rest.length > 0 || address.length > 64) return null;
  const expected = signature(secret, address, bindingOf(request));
  const given = Buffer.from(signed, "base64url");
  return given.length === expected.length && timingSafeEqual(given, expected) ? address : null;
}
