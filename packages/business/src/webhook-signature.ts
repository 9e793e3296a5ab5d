/**
 * Verification of webhook deliveries on the receiver's side.
 *
 * The relay sends `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>` (the
 * format is `@parley/protocol`'s webhooks.ts).
 * Verify against the **raw** body bytes as received (re-serialized JSON may differ), compare in constant
 * time, and refuse timestamps far from now so a recorded delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError, parseWebhookSignature, webhookSignedPrefix } from "@parley/protocol";

/** Options of {@link verifyWebhookSignature}. */
export interface VerifyWebhookOptions {
  /** Largest accepted distance between the signature's `t` and now, in seconds. Default 300. */
  toleranceS?: number;
  /** The current time in ms (for tests). Default `Date.now()`. */
  now?: number;
}

/**
 * Whether `header` (the `Parley-Signature` value) signs `rawBody` with `secret` within the tolerance.
 * Several `v1=` values are accepted (any match counts), so a relay can sign with an old and a new secret
 * while a secret is rotated.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): boolean {
  if (typeof secret !== "string" || secret.length === 0) throw new InvalidArgumentError("secret", "must be a string");
  if (typeof header !== "string") return false;
  const parsed = parseWebhookSignature(header);
  if (parsed === null) return false;
  const timestamp = parsed.unixSeconds;
  const now = options.now ?? Date.now();
  if (Math.abs(now / 1000 - timestamp) > (options.toleranceS ?? 300)) return false;
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
  const expected = createHmac("sha256", secret).update(webhookSignedPrefix(timestamp)).update(body).digest();
  return parsed.signatures.some((signature) => timingSafeEqual(Buffer.from(signature, "hex"), expected));
}
