/**
 * Webhooks as they cross the wire: the event types a relay posts and the signature header that proves a
 * delivery came from it.
 *
 *   Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>
 *
 * The timestamp is inside the signed text, so a receiver that refuses old timestamps cannot be fed a recorded
 * delivery later. Several `v1=` values may appear (a secret being rotated); any match counts. The HMAC itself
 * is computed by the relay (signing) and `@parley/business` (verifying); this module fixes the format.
 */

/** Every event type a webhook can ask for. */
export const WEBHOOK_EVENTS = [
  "message.created",
  "user.merged",
  "client.added",
  "client.loggedOut",
  "conversation.imported",
] as const;

/** One of {@link WEBHOOK_EVENTS}. */
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Name of the signature header of a webhook delivery. */
export const WEBHOOK_SIGNATURE_HEADER = "Parley-Signature";

/** The text the HMAC covers, before the raw body: `<unix seconds>.` (the body follows byte for byte). */
export function webhookSignedPrefix(unixSeconds: number): string {
  return `${unixSeconds}.`;
}

/** The `Parley-Signature` value for a delivery at `unixSeconds` with HMAC `macHex`. */
export function formatWebhookSignature(unixSeconds: number, macHex: string): string {
  return `t=${unixSeconds},v1=${macHex}`;
}

/**
 * Reads a `Parley-Signature` value: its timestamp and every well-formed `v1=` HMAC (64 hex digits), or `null`
 * if it has no timestamp or no signature.
 */
export function parseWebhookSignature(header: string): { unixSeconds: number; signatures: string[] } | null {
  let unixSeconds: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value)) unixSeconds = Number(value);
    if (key === "v1" && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  return unixSeconds === undefined || signatures.length === 0 ? null : { unixSeconds, signatures };
}
