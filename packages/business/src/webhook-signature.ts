/**
 * Verification of webhook deliveries on the receiver's side.
 *
 * The relay sends `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>`.
 * Verify against the **raw** body bytes as received (re-serialized JSON may differ), compare in constant
 * time, and refuse timestamps far from now so a recorded delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "@parley/protocol";

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
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === "v1" && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) return false;
  const now = options.now ?? Date.now();
  if (Math.abs(now / 1000 - timestamp) > (options.toleranceS ?? 300)) return false;
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  return signatures.some((signature) => timingSafeEqual(signature, expected));
}
