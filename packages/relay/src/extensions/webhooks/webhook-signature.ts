/**
 * The signature of a webhook delivery:
 *
 *   Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>
 *
 * The timestamp is inside the signed text, so a receiver that also refuses old timestamps (five minutes
 * is the usual tolerance) cannot be fed a recorded delivery later. Each attempt is signed afresh; the
 * body, and so the event id inside it, stays the same across retries.
 */
import { createHmac } from "node:crypto";

/** Name of the signature header. */
export const SIGNATURE_HEADER = "Parley-Signature";

/** The `Parley-Signature` value for `rawBody` sent at `unixSeconds`. */
export function signWebhook(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${rawBody}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}
