/**
 * Self-certifying credentials for anonymous users and for clients.
 *
 * An anonymous user must work offline from the first call, so no server can hand it an identity.
 * Instead the client draws a 256-bit secret and derives its public id from it:
 *
 *   anonymousId = base64url(sha256("parley/anonymous/" + secret))[0..22]   (132 bits)
 *   clientId    = base64url(sha256("parley/client/" + secret))[0..22]
 *
 * The relay recomputes the id from the secret the client presents, so only the holder of the secret can
 * open an anonymous user's room or speak as a client, and the relay needs no registration round-trip.
 * The same mechanism names clients: a client's id, stamped on its messages and its client record, cannot
 * be claimed by another client of the same user. The relay keeps a revocation list so that an anonymous
 * logout or a merge into a userId ends the secret's power for good.
 *
 * On the wire, an anonymous token is `anon.<secret>` (a JWT always has three dot-separated parts).
 */
import * as buffer from "lib0/buffer";
import { digest } from "lib0/hash/sha256";
import { InvalidArgumentError } from "./errors.js";

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** Prefix that marks an anonymous token. */
export const ANONYMOUS_TOKEN_PREFIX = "anon.";

/** A fresh 256-bit secret, base64url without padding (43 characters). */
export function createSecret(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return buffer.toBase64UrlEncoded(bytes);
}

/** Whether `value` has the shape of a secret made by {@link createSecret}. */
export function isSecret(value: unknown): value is string {
  return typeof value === "string" && SECRET.test(value);
}

function derive(purpose: string, secret: string, argument: string): string {
  if (!isSecret(secret)) throw new InvalidArgumentError(argument, "must be a secret made by createSecret()");
  const hash = digest(new TextEncoder().encode(`parley/${purpose}/${secret}`));
  return buffer.toBase64UrlEncoded(hash).slice(0, 22);
}

/** The public id of the anonymous user who holds `secret`. */
export function anonymousIdFromSecret(secret: string): string {
  return derive("anonymous", secret, "anonymousSecret");
}

/** The public id of the client that holds `secret`. */
export function clientIdFromSecret(secret: string): string {
  return derive("client", secret, "clientSecret");
}

/** The token an anonymous user presents to the relay. */
export function anonymousToken(secret: string): string {
  if (!isSecret(secret)) throw new InvalidArgumentError("anonymousSecret", "must be a secret made by createSecret()");
  return ANONYMOUS_TOKEN_PREFIX + secret;
}

/** The secret inside an anonymous token, or `null` if `token` is not one. */
export function parseAnonymousToken(token: string): string | null {
  if (!token.startsWith(ANONYMOUS_TOKEN_PREFIX)) return null;
  const secret = token.slice(ANONYMOUS_TOKEN_PREFIX.length);
  return isSecret(secret) ? secret : null;
}
