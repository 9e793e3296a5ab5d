/**
 * Signing Parley user tokens: the one thing an app's backend must do for Parley.
 *
 * The relay knows the app key by its `kid`; a token signed with it speaks for the user in `sub`. The secret
 * stays on this server: the browser only ever sees signed tokens, which expire quickly and are refreshed
 * through the client's `onTokenExpired` callback.
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";

/** An HS256 app key, as registered on the relay (`apps[].keys[]` in its config). */
export interface AppKey {
  kid: string;
  secret: string;
}

/** How long a user token lives by default. Short, because the client asks for a fresh one when it expires. */
export const DEFAULT_TOKEN_TTL_SECONDS = 15 * 60;

/**
 * Signs a user token for `userId` with the app key. Each token carries a random `jti`, so that an operator can
 * kill one that leaked without rotating the key: its id goes into the app's `denyTokenIds` on the relay.
 */
export function signUserToken(key: AppKey, userId: string, ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "JWT" })
    .setSubject(userId)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(key.secret));
}
