/**
 * Signs a webhook delivery (the format is `@parley/protocol`'s webhooks.ts). Each attempt is signed afresh;
 * the body, and so the event id inside it, stays the same across retries.
 */
import { createHmac } from "node:crypto";
import { formatWebhookSignature, WEBHOOK_SIGNATURE_HEADER, webhookSignedPrefix } from "@parley/protocol";

/** Name of the signature header (`@parley/protocol`'s `WEBHOOK_SIGNATURE_HEADER`). */
export const SIGNATURE_HEADER = WEBHOOK_SIGNATURE_HEADER;

/** The `Parley-Signature` value for `rawBody` sent at `unixSeconds`. */
export function signWebhook(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(webhookSignedPrefix(unixSeconds)).update(rawBody).digest("hex");
  return formatWebhookSignature(unixSeconds, mac);
}
