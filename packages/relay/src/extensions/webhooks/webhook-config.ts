/**
 * The webhooks of an app, as written in the relay config (`apps[i].webhooks`), validated up front so a
 * typo fails at start with the path of the bad field.
 *
 * ```json
 * { "url": "https://app.example/parley", "secret": "…at least 32 characters…",
 *   "events": ["message.created", "user.merged"], "timeoutMs": 10000,
 *   "retry": { "initialDelayMs": 1000, "maxDelayMs": 3600000, "maxAttempts": 20 } }
 * ```
 */
import { InvalidArgumentError, WEBHOOK_EVENTS, type WebhookEventType } from "@parley/protocol";
import { assertKnownKeys } from "../../config/known-keys.js";

export { WEBHOOK_EVENTS, type WebhookEventType };

/** How a failed delivery is retried: after `initialDelayMs`, doubling up to `maxDelayMs`, `maxAttempts` in all. */
export interface WebhookRetryConfig {
  /** Default 1,000. */
  initialDelayMs: number;
  /** Default 3,600,000 (one hour). */
  maxDelayMs: number;
  /** Attempts before a delivery is given up (moved to `<dataDir>/webhooks/dead`). Default 20. */
  maxAttempts: number;
}

/** A webhook endpoint of an app. */
export interface WebhookConfig {
  /** `http:` or `https:` URL that receives POSTs. */
  url: string;
  /** HMAC-SHA256 key of the `Parley-Signature` header; at least 32 characters. */
  secret: string;
  /** Event types delivered to this endpoint. */
  events: WebhookEventType[];
  /** How long one attempt may take before it counts as failed, in ms. Default 10,000. */
  timeoutMs: number;
  /** Deliveries to this endpoint sent at the same time. Default 2. */
  concurrency: number;
  retry: WebhookRetryConfig;
}

function fail(path: string, message: string): never {
  throw new InvalidArgumentError(`config.${path}`, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function integer(raw: Record<string, unknown>, key: string, fallback: number, min: number, max: number, path: string) {
  const value = raw[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(`${path}.${key}`, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function parseWebhook(raw: unknown, path: string): WebhookConfig {
  if (!isObject(raw)) fail(path, "must be an object");
  assertKnownKeys(raw, ["url", "secret", "events", "timeoutMs", "concurrency", "retry"], path);
  let url: URL;
  try {
    url = new URL(String(raw.url));
  } catch {
    fail(`${path}.url`, "must be an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`${path}.url`, "must be an http(s) URL");
  if (typeof raw.secret !== "string" || raw.secret.length < 32) {
    fail(`${path}.secret`, "must be a string of at least 32 characters");
  }
  if (!Array.isArray(raw.events) || raw.events.length === 0) fail(`${path}.events`, "must be a non-empty array");
  const events = raw.events.map((event, i) => {
    if (!(WEBHOOK_EVENTS as readonly unknown[]).includes(event)) {
      fail(`${path}.events[${i}]`, `must be one of ${WEBHOOK_EVENTS.join(", ")}`);
    }
    return event as WebhookEventType;
  });
  const retry = raw.retry ?? {};
  if (!isObject(retry)) fail(`${path}.retry`, "must be an object");
  assertKnownKeys(retry, ["maxAttempts", "initialDelayMs", "maxDelayMs"], `${path}.retry`);
  const retryPath = `${path}.retry`;
  return {
    url: url.href,
    secret: raw.secret,
    events: [...new Set(events)],
    timeoutMs: integer(raw, "timeoutMs", 10_000, 100, 120_000, path),
    concurrency: integer(raw, "concurrency", 2, 1, 64, path),
    retry: {
      initialDelayMs: integer(retry, "initialDelayMs", 1_000, 10, 3_600_000, retryPath),
      maxDelayMs: integer(retry, "maxDelayMs", 3_600_000, 10, 86_400_000, retryPath),
      maxAttempts: integer(retry, "maxAttempts", 20, 1, 1_000, retryPath),
    },
  };
}

/** Validates `apps[i].webhooks` (absent means none). `path` is the app's path in the config. */
export function parseWebhooks(raw: unknown, path: string): WebhookConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(`${path}.webhooks`, "must be an array");
  const webhooks = raw.map((webhook, i) => parseWebhook(webhook, `${path}.webhooks[${i}]`));
  const urls = new Set<string>();
  for (const [i, webhook] of webhooks.entries()) {
    // Pending deliveries name their endpoint by URL, so a URL must be unique within an app.
    if (urls.has(webhook.url)) fail(`${path}.webhooks[${i}].url`, "is used twice");
    urls.add(webhook.url);
  }
  return webhooks;
}
