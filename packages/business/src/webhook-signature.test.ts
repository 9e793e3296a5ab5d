import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyWebhookSignature } from "./webhook-signature.js";

const secret = "whsec-0123456789-abcdefghijklmnopqrstuvwxyz";
const body = '{"id":"evt_1","type":"message.created"}';
const now = 1_700_000_000_000;
const t = now / 1000;
const sign = (text: string, at = t, key = secret) => createHmac("sha256", key).update(`${at}.${text}`).digest("hex");

describe("verifyWebhookSignature", () => {
  it("accepts the documented signature over the raw body, as a string or bytes", () => {
    const header = `t=${t},v1=${sign(body)}`;
    expect(verifyWebhookSignature(secret, header, body, { now })).toBe(true);
    expect(verifyWebhookSignature(secret, header, new TextEncoder().encode(body), { now })).toBe(true);
    // During a secret rotation a header may carry several signatures; one match is enough.
    expect(verifyWebhookSignature(secret, `t=${t},v1=${sign(body, t, "old")},v1=${sign(body)}`, body, { now })).toBe(
      true,
    );
  });

  it("refuses a wrong secret, a changed body, a stale or missing timestamp, and malformed headers", () => {
    const header = `t=${t},v1=${sign(body)}`;
    expect(verifyWebhookSignature("another-secret", header, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, header, `${body} `, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, { now: now + 301_000 })).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, { now: now + 301_000, toleranceS: 600 })).toBe(true);
    expect(verifyWebhookSignature(secret, `v1=${sign(body)}`, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, `t=${t}`, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, `t=${t},v1=${sign(body).slice(2)}`, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, undefined, body, { now })).toBe(false);
    expect(() => verifyWebhookSignature("", header, body)).toThrow(/secret/);
  });
});
