/**
 * The claims of the JWTs an app's backend signs for its users, and of app-level (business) tokens.
 *
 * User tokens: the `kid` header names an app key registered on the relay; the key's app is the token's
 * app. The subject is `sub`, or, for apps that already sign Smooch/Zendesk-style tokens,
 * `{ scope: "appUser", userId }` or `{ scope: "appUser", external_id }`. `exp` is strongly
 * recommended; `nbf` is honoured. Business tokens carry `scope: "app"` and no subject.
 */
import { InvalidArgumentError } from "./errors.js";
import { assertUserId } from "./rooms.js";

/** Claims Parley reads from a user token. Other claims are ignored. */
export interface UserTokenClaims {
  sub?: string;
  scope?: "appUser" | "user";
  userId?: string;
  external_id?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
}

/** Claims of an app-level token for the business API. */
export interface AppTokenClaims {
  scope: "app";
  exp?: number;
  iat?: number;
}

/**
 * The userId a verified user token speaks for, or `null` if it names none (or is an app token).
 * `sub` wins; the Smooch-style `userId` / `external_id` claims are read only with `scope: "appUser"`.
 */
export function userIdFromClaims(claims: Record<string, unknown>): string | null {
  if (claims.scope === "app") return null;
  let candidate: unknown = claims.sub;
  if (candidate === undefined && claims.scope === "appUser") {
    candidate = claims.userId ?? claims.external_id;
  }
  if (candidate === undefined) return null;
  try {
    assertUserId(candidate, "sub");
    return candidate;
  } catch {
    return null;
  }
}

/**
 * Reads the payload of a JWT **without verifying it** — for the client, which cannot verify its app's
 * signature, to check that a token names the userId it is given with and to schedule a refresh before
 * `exp`. The relay always verifies.
 */
export function decodeTokenPayload(jwt: string): Record<string, unknown> {
  if (typeof jwt !== "string") throw new InvalidArgumentError("jwt", "must be a string");
  const parts = jwt.split(".");
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === "") {
    throw new InvalidArgumentError("jwt", "is not a compact JWT (header.payload.signature)");
  }
  try {
    const base64 = parts[1].replaceAll("-", "+").replaceAll("_", "/");
    const json = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)),
    );
    const payload: unknown = JSON.parse(json);
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw new Error("not an object");
    return payload as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError("jwt", "has an unreadable payload");
  }
}
