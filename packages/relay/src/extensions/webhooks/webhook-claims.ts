/**
 * The webhook queue's side of a storage's durable outbox (`WebhookOutbox`, storage/webhook-outbox.ts), used
 * instead of the per-process files when the storage offers one (PostgreSQL):
 *
 * - events found while a change is applied are staged per room, then attached to the change's update in the
 *   `onChange` hook, which the relay calls right before it appends that update: the storage stores them in the
 *   append's transaction, so a change is stored with its events or not at all (no `after` hold needed);
 * - a claim loop takes due deliveries from the outbox — every {@link CLAIM_POLL_MS}, and soon after a stored
 *   change carried some — at most as many per endpoint as that endpoint could start now, so the per-endpoint
 *   concurrency and round-robin of the queue stay the rules, across nodes too (each node claims only what it
 *   can send).
 */
import type { Logger } from "../../core/logger.js";
import type {
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  WebhookOutbox,
  WebhookOutboxEndpoint,
} from "../../storage/webhook-outbox.js";

/** How often the outbox is asked for due deliveries (retries, and what other nodes stored), in ms. */
export const CLAIM_POLL_MS = 250;
/**
 * How long a claim outlives the endpoint's `timeoutMs`: a node that dies mid-delivery leaves the delivery to
 * another node after at most `timeoutMs` + this.
 */
export const CLAIM_MARGIN_MS = 5_000;

/** Options of {@link OutboxClaims}. */
export interface OutboxClaimsOptions {
  outbox: WebhookOutbox;
  logger: Logger;
  /** The configured endpoints, each with how many deliveries it could start now. */
  capacity(): WebhookOutboxEndpoint[];
  /** How long a claim lasts, in ms. */
  claimMs(): number;
  /** Takes claimed deliveries into the queue. */
  receive(deliveries: ClaimedWebhookDelivery[]): void;
}

/** Staging of change events and the claim loop; see the module comment. */
export class OutboxClaims {
  private readonly staged = new Map<string, NewWebhookDelivery[]>();
  private timer: NodeJS.Timeout | undefined;
  private claiming = false;
  private again = false;
  private attachedSinceClaim = false;
  private stopped = false;

  constructor(private readonly options: OutboxClaimsOptions) {}

  start(): void {
    this.timer = setInterval(() => this.claim(), CLAIM_POLL_MS);
    this.timer.unref();
    this.claim();
  }

  /** Holds deliveries of an event found in a change of `room` until that change's update is known. */
  stage(room: string, deliveries: readonly NewWebhookDelivery[]): void {
    const list = this.staged.get(room);
    if (list === undefined) this.staged.set(room, [...deliveries]);
    else list.push(...deliveries);
  }

  /** The change of `room` whose events were staged is `update`, about to be appended: attach them to it. */
  attach(room: string, update: Uint8Array): void {
    const list = this.staged.get(room);
    if (list === undefined) return;
    this.staged.delete(room);
    this.options.outbox.attach(update, list);
    this.attachedSinceClaim = true;
  }

  /** `room` left memory: events staged for it will never be attached (its change was never appended). */
  forget(room: string): void {
    this.staged.delete(room);
  }

  /** A change was stored: if it carried deliveries, claim now rather than at the next poll. */
  stored(): void {
    if (this.attachedSinceClaim) this.claim();
  }

  /** Claims what the endpoints can start now (one claim at a time; a request meanwhile runs once after it). */
  claim(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const endpoints = this.options.capacity().filter((endpoint) => endpoint.limit > 0);
    if (endpoints.length === 0) return;
    this.claiming = true;
    this.attachedSinceClaim = false;
    void this.options.outbox
      .claim(endpoints, this.options.claimMs())
      .then(
        (deliveries) => {
          if (!this.stopped && deliveries.length > 0) this.options.receive(deliveries);
        },
        (error: unknown) => this.options.logger.warn("webhook outbox claim failed; will retry", { error }),
      )
      .finally(() => {
        this.claiming = false;
        if (this.again) {
          this.again = false;
          this.claim();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
