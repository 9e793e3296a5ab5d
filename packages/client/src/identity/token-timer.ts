/**
 * When to ask the app for a fresh token: a little before the current one's `exp`, so the connection
 * never sees an expiry close. Timers are clamped because Node fires a timer set beyond 2^31-1 ms (or to
 * NaN) after about 1 ms.
 */
import { decodeTokenPayload, InvalidArgumentError, userIdFromClaims } from "@parley/protocol";

const MAX_TIMER_MS = 2_147_483_647;
/** Refresh at most this long before `exp`. */
const MAX_LEAD_MS = 60_000;

/** The token's `exp` in milliseconds, or `undefined` if it has none. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const exp = decodeTokenPayload(token).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds from `now` until the token should be refreshed (0 if overdue), or `undefined` for never. */
export function refreshDelay(token: string, now: number): number | undefined {
  const expiry = tokenExpiry(token);
  if (expiry === undefined) return undefined;
  const remaining = expiry - now;
  const lead = Math.min(MAX_LEAD_MS, Math.max(0, remaining / 5));
  return Math.max(0, remaining - lead);
}

/** `setTimeout` that waits as long as asked even beyond the timer limit (re-arming in steps). */
export function longTimeout(callback: () => void, delayMs: number): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const deadline = Date.now() + delayMs;
  const arm = () => {
    const remaining = Math.max(0, deadline - Date.now());
    timer = setTimeout(remaining > MAX_TIMER_MS ? arm : callback, Math.min(remaining, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

/** Throws {@link InvalidArgumentError} unless `jwt` is a compact JWT whose claims name `userId`. */
export function assertTokenFor(jwt: unknown, userId: string, argument = "jwt"): asserts jwt is string {
  if (typeof jwt !== "string") throw new InvalidArgumentError(argument, "must be a string");
  const payload = decodeTokenPayload(jwt);
  if (userIdFromClaims(payload) !== userId) {
    throw new InvalidArgumentError(argument, "does not name the given userId (sub, or scope appUser with userId)");
  }
}
