/**
 * Token refresh in band (`refresh` frame, see @parley/protocol token-refresh.ts): verifies a connection's new
 * user token with the relay's {@link KeyRing} exactly as at connect, and decides what happens to the
 * connection. Another app or another user is an abuse of the connection and closes it (4403); a token that
 * does not verify, has expired or is denied (`token-denied`) is only refused, so the connection keeps its old
 * `exp` (and its old credential, which a reload may still close).
 */
import {
  CloseCode,
  ForbiddenError,
  type RefreshAnswer,
  type RoomRef,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
} from "@parley/protocol";
import { Refusal } from "../core/refusal.js";
import type { Credential } from "./credential.js";
import type { KeyRing } from "./jwt.js";

/** The answer to send, and for an accepted token the credential the connection now stands on. */
export interface RefreshOutcome {
  answer: RefreshAnswer;
  credential?: Credential;
}

/**
 * Verifies `token` for the connection to `ref`: resolves the answer to send (accepted with the new `exp` and
 * the token's credential, or refused with a 4401/4402 reason token), or throws a {@link Refusal} that closes the
 * connection.
 */
export async function verifyRefresh(keys: KeyRing, ref: RoomRef, token: string): Promise<RefreshOutcome> {
  if (ref.kind !== "user")
    throw new Refusal(CloseCode.Forbidden, "other-room", "an anonymous connection has no token to refresh");
  let verified: Awaited<ReturnType<KeyRing["verify"]>>;
  try {
    verified = await keys.verify(token, ref.appId);
  } catch (error) {
    if (error instanceof TokenExpiredError) return { answer: { accepted: false, reason: "expired" } };
    if (error instanceof TokenNotYetValidError) return { answer: { accepted: false, reason: "claims" } };
    if (error instanceof TokenInvalidError) return { answer: { accepted: false, reason: error.reason ?? "malformed" } };
    if (error instanceof ForbiddenError)
      throw new Refusal(CloseCode.Forbidden, error.reason ?? "denied", error.message);
    return { answer: { accepted: false, reason: "malformed" } };
  }
  if (verified.appId !== ref.appId)
    throw new Refusal(CloseCode.Forbidden, "other-app", "refresh token is for another app");
  if (verified.userId !== ref.subject)
    throw new Refusal(CloseCode.Forbidden, "other-room", "refresh token is for another user");
  // keys.verify requires exp for user tokens.
  return { answer: { accepted: true, exp: verified.exp ?? 0 }, credential: verified.credential };
}
