/**
 * One delivery attempt: the signed POST of an event to its endpoint. Anything but a 2xx answer within the
 * endpoint's `timeoutMs` is a failure; redirects are not followed (an endpoint that moved is misconfigured, and
 * following one would send the signed body somewhere nobody configured).
 */
import type { WebhookConfig } from "./webhook-config.js";
import { SIGNATURE_HEADER, signWebhook } from "./webhook-signature.js";

/** What an attempt sends: the event's body and the ids that name it. */
export interface WebhookPost {
  url: string;
  body: string;
  eventId: string;
  deliveryId: string;
  attempt: number;
}

/**
 * Posts `post` to its endpoint. Resolves with `undefined` when the endpoint answered 2xx, else with the failure
 * in words (`HTTP 503`, `Error: no answer within 10000 ms`, …); aborting `controller` ends the attempt as failed.
 */
export async function postWebhook(
  endpoint: WebhookConfig,
  post: WebhookPost,
  controller: AbortController,
): Promise<string | undefined> {
  // A plain timer, not AbortSignal.timeout(): combined with AbortSignal.any() that signal is held only
  // weakly and can be garbage-collected before it fires, leaving the attempt hanging.
  const timeout = setTimeout(
    () => controller.abort(new Error(`no answer within ${endpoint.timeoutMs} ms`)),
    endpoint.timeoutMs,
  );
  try {
    const response = await fetch(post.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "parley-relay",
        [SIGNATURE_HEADER]: signWebhook(endpoint.secret, post.body, Math.floor(Date.now() / 1000)),
        "Parley-Event-Id": post.eventId,
        "Parley-Delivery-Id": post.deliveryId,
        "Parley-Attempt": String(post.attempt),
      },
      body: post.body,
      signal: controller.signal,
      redirect: "manual",
    });
    await response.body?.cancel().catch(() => {});
    return response.status >= 200 && response.status <= 299 ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    return reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  } finally {
    clearTimeout(timeout);
  }
}
