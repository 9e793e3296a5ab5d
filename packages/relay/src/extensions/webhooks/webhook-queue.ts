/**
 * The webhook outbox: durable, at-least-once delivery of events to the apps' webhook endpoints.
 *
 * Each delivery (one event to one endpoint) is a file `<dataDir>/webhooks/<deliveryId>.json`, written
 * (temp file, rename; then fdatasync with `fsync: "batch"`) before anything is sent, and removed only
 * after the endpoint answered 2xx.
 * A failure (non-2xx, network error, timeout) reschedules it with exponential backoff and ±20 % jitter;
 * after `maxAttempts` it moves to `webhooks/dead/`. On start every file left by a previous process is
 * loaded and sent, so a restart (even SIGKILL) loses no pending delivery; a delivery that was in flight
 * when the process died is sent again — receivers deduplicate on the event `id`.
 *
 * Scheduling keeps one app from delaying another: deliveries wait in a queue per endpoint, endpoints take
 * turns (round-robin, one delivery per turn), each endpoint has at most its `concurrency` deliveries in flight
 * (default 2), and the relay at most `concurrency` in all (default 32). An app may have at most
 * `maxQueuedPerApp` deliveries outstanding; events beyond that are dropped and logged.
 *
 * An event about a change is queued while the change is applied, so its file exists before the change's
 * own append is issued: no crash can leave a stored change without its event. Such a delivery carries the Yjs id of the change (`after`) and is held until the
 * room's stored state covers it; if a restarted relay finds the change was never stored (it crashed
 * between the two writes) the delivery is dropped — the change did not happen, and when the client
 * resends it, it is a new change with a new event.
 *
 * With a storage that has its own outbox (`options.outbox`, PostgreSQL) the files are not used: deliveries are
 * rows written by the change's own append and claimed by any node (webhook-claims.ts); the scheduling, signing
 * and retry rules below are the same, and a retry or give-up is written back to the outbox.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { AppConfig, FsyncPolicy } from "../../config/config.js";
import type { Logger } from "../../core/logger.js";
import type { WebhookOutbox } from "../../storage/webhook-outbox.js";
import { CLAIM_MARGIN_MS, OutboxClaims } from "./webhook-claims.js";
import type { WebhookConfig, WebhookEventType } from "./webhook-config.js";
import { flushDelivery, loadDeliveries, persistDelivery, writeDeliveryNow } from "./webhook-files.js";
import { postWebhook } from "./webhook-post.js";
import { type EndpointTurn, takeTurns } from "./webhook-turns.js";

/** The body of every delivery. */
export interface WebhookEvent {
  /** Unique per event; the same on every retry. Receivers deduplicate on it. */
  id: string;
  type: WebhookEventType;
  appId: string;
  /** When the relay saw the change, ms since the epoch. */
  createdAt: number;
  data: Record<string, unknown>;
}

/** The Yjs id of the change an event reports: the delivery waits until the room has stored it. */
export interface ChangeRef {
  room: string;
  client: number;
  clock: number;
}

/** Whether a change is durably stored: `pending` while it is applied but not yet stored. */
export type ChangeState = "stored" | "pending" | "lost";

/** One event to one endpoint, as stored in its outbox file. */
export interface Delivery {
  id: string;
  appId: string;
  url: string;
  eventId: string;
  body: string;
  attempts: number;
  nextAttemptAt: number;
  after?: ChangeRef;
}

/** Options of {@link WebhookQueue}. */
export interface WebhookQueueOptions {
  dataDir: string;
  fsync: FsyncPolicy;
  apps: readonly AppConfig[];
  logger: Logger;
  /** Tells whether the change an event reports is stored yet. */
  changeState(change: ChangeRef): Promise<ChangeState>;
  /** Deliveries sent at the same time, over all endpoints. Default 32. */
  concurrency?: number;
  /** Deliveries one app may have outstanding; events beyond it are dropped. Default 10,000. */
  maxQueuedPerApp?: number;
  /**
   * The storage's durable outbox, if it offers one (PostgreSQL): deliveries are then rows stored with their
   * change and claimed by any node (webhook-claims.ts) instead of files under `dataDir`; `maxQueuedPerApp`
   * bounds only what this node has claimed.
   */
  outbox?: WebhookOutbox;
}

/** Deliveries queue per endpoint: an app and one of its URLs. */
const endpointKey = (delivery: { appId: string; url: string }): string => `${delivery.appId}\n${delivery.url}`;

/** How often a delivery waiting for its change to be stored looks again, in ms. */
const STORE_POLL_MS = 25;

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("base64url")}`;
}

/** The durable webhook outbox and its sender. Call {@link WebhookQueue.start} once. */
export class WebhookQueue {
  private readonly dir: string;
  private readonly deadDir: string;
  private readonly waiting = new Map<string, Delivery>();
  private readonly inFlight = new Map<string, AbortController>();
  private readonly writes = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private failedAttempts = 0;
  private givenUp = 0;
  private dropped = 0;
  /** Deliveries in flight per endpoint. */
  private readonly busy = new Map<string, number>();
  /** Deliveries outstanding per app (waiting or in flight). */
  private readonly outstanding = new Map<string, number>();
  /** The endpoint served last, so the next pump starts after it (round-robin across pumps). */
  private lastServed: string | undefined;
  /** The storage outbox's staging and claims, when the storage has one. */
  private readonly claims: OutboxClaims | undefined;

  constructor(private readonly options: WebhookQueueOptions) {
    this.dir = join(options.dataDir, "webhooks");
    this.deadDir = join(this.dir, "dead");
    const { outbox } = options;
    if (outbox !== undefined) {
      this.claims = new OutboxClaims({
        outbox,
        logger: options.logger,
        capacity: () => this.capacity(),
        claimMs: () =>
          Math.max(0, ...options.apps.flatMap((app) => (app.webhooks ?? []).map((w) => w.timeoutMs))) + CLAIM_MARGIN_MS,
        receive: (claimed) => {
          for (const delivery of claimed) this.add({ ...delivery, nextAttemptAt: 0 });
          this.pump();
        },
      });
    }
  }

  /** The change of `room` whose events were just found is `update`, about to be appended (outbox only). */
  changeApplied(room: string, update: Uint8Array): void {
    this.claims?.attach(room, update);
  }

  /** A room's change was stored: its deliveries can be claimed now (outbox only). */
  changeStored(): void {
    this.claims?.stored();
  }

  /** `room` left memory (outbox only: drops events of changes it never appended). */
  roomUnloaded(room: string): void {
    this.claims?.forget(room);
  }

  /** Whether some app subscribes to `type` (lets callers skip building events nobody wants). */
  wants(appId: string, type: WebhookEventType): boolean {
    return this.endpoints(appId, type).length > 0;
  }

  /** Loads the deliveries a previous process left and starts sending. */
  async start(): Promise<void> {
    if (this.claims !== undefined) {
      // Nothing on disk: what a previous process (or another node) left is in the outbox, claimed like the rest.
      this.started = true;
      this.claims.start();
      return;
    }
    const configured = this.options.apps.some((app) => (app.webhooks?.length ?? 0) > 0);
    // Without webhooks the relay touches nothing on disk, unless deliveries are left from an earlier config.
    if (!configured && !existsSync(this.dir)) {
      this.started = true;
      return;
    }
    for (const delivery of await loadDeliveries(this.dir, this.deadDir, this.options.logger)) this.add(delivery);
    if (this.waiting.size > 0) this.options.logger.info("webhook deliveries resumed", { count: this.waiting.size });
    this.started = true;
    this.pump();
  }

  /**
   * Queues `event` for every endpoint of its app that wants its type; `after` holds the deliveries until
   * that change is stored. The files are written before this returns — synchronously, so an event found
   * while a change is applied is in the outbox before the change's own append is even issued, and a
   * crashed process never loses the notification of a change it stored. The promise resolves once the
   * files are also flushed to the disk (`fsync: "batch"`, against power loss), at once otherwise.
   * Throws if the files cannot be written.
   */
  enqueue(event: Omit<WebhookEvent, "id" | "createdAt">, after?: ChangeRef): Promise<void> {
    const endpoints = this.endpoints(event.appId, event.type);
    if (endpoints.length === 0 || this.closed) return Promise.resolve();
    const limit = this.options.maxQueuedPerApp ?? 10_000;
    if ((this.outstanding.get(event.appId) ?? 0) + endpoints.length > limit) {
      this.dropped += endpoints.length;
      this.options.logger.error("webhook outbox full for this app; event dropped", {
        app: event.appId,
        type: event.type,
        outstanding: this.outstanding.get(event.appId),
      });
      return Promise.resolve();
    }
    const full: WebhookEvent = { id: newId("evt"), createdAt: Date.now(), ...event };
    const body = JSON.stringify(full);
    const deliveries = endpoints.map((endpoint) => {
      const delivery: Delivery = {
        id: newId("dlv"),
        appId: event.appId,
        url: endpoint.url,
        eventId: full.id,
        body,
        attempts: 0,
        nextAttemptAt: Date.now(),
      };
      if (after !== undefined) delivery.after = after;
      return delivery;
    });
    if (this.claims !== undefined) {
      const rows = deliveries.map(({ id, appId, url, eventId, body }) => ({ id, appId, url, eventId, body }));
      if (after !== undefined) {
        this.claims.stage(after.room, rows);
        return Promise.resolve();
      }
      return this.options.outbox!.insert(rows).then(() => this.claims?.claim());
    }
    for (const delivery of deliveries) {
      writeDeliveryNow(this.dir, delivery);
      this.add(delivery);
    }
    this.pump();
    if (this.options.fsync !== "batch") return Promise.resolve();
    return this.track(Promise.all(deliveries.map((delivery) => flushDelivery(this.dir, delivery.id)))).then(() => {});
  }

  /** Deliveries queued (waiting or in flight), attempts failed and deliveries given up since the start. */
  stats(): { queued: number; failedAttempts: number; givenUp: number } {
    return {
      queued: this.waiting.size + this.inFlight.size,
      failedAttempts: this.failedAttempts,
      givenUp: this.givenUp,
    };
  }

  /** Deliveries dropped because their app's outbox was full, since the start. */
  get droppedDeliveries(): number {
    return this.dropped;
  }

  private add(delivery: Delivery): void {
    this.waiting.set(delivery.id, delivery);
    this.outstanding.set(delivery.appId, (this.outstanding.get(delivery.appId) ?? 0) + 1);
  }

  private forget(delivery: Delivery): void {
    if (!this.waiting.delete(delivery.id)) return;
    const left = (this.outstanding.get(delivery.appId) ?? 1) - 1;
    if (left === 0) this.outstanding.delete(delivery.appId);
    else this.outstanding.set(delivery.appId, left);
  }

  /** Stops sending (in-flight attempts are aborted and stay queued) and waits for pending file writes. */
  async close(): Promise<void> {
    this.closed = true;
    this.claims?.stop();
    clearTimeout(this.timer);
    for (const controller of this.inFlight.values()) controller.abort();
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    const { outbox } = this.options;
    if (outbox === undefined) return;
    // Hands what this node claimed back at once, rather than when its claims lapse: another node (or the next
    // start) sends it. An attempt cut here may have reached the endpoint: at least once, same event id.
    const claimed = [...this.waiting.values()];
    this.waiting.clear();
    await Promise.allSettled(claimed.map((delivery) => outbox.retry(delivery.id, delivery.attempts, 0)));
  }

  private endpoints(appId: string, type: WebhookEventType): WebhookConfig[] {
    const app = this.options.apps.find((candidate) => candidate.id === appId);
    return (app?.webhooks ?? []).filter((webhook) => webhook.events.includes(type));
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.writes.add(work);
    void work.finally(() => this.writes.delete(work)).catch(() => {});
    return work;
  }

  /**
   * Starts due deliveries, endpoints taking turns (one delivery each per turn, starting after the endpoint
   * served last) within each endpoint's and the relay's concurrency, and sets a timer for the next one due.
   */
  private pump(): void {
    if (this.closed || !this.started) return;
    clearTimeout(this.timer);
    const limit = this.options.concurrency ?? 32;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const endpoints = new Map<string, EndpointTurn<Delivery>>();
    for (const delivery of this.waiting.values()) {
      if (this.inFlight.has(delivery.id)) continue;
      if (delivery.nextAttemptAt > now) {
        next = Math.min(next, delivery.nextAttemptAt);
        continue;
      }
      const key = endpointKey(delivery);
      const turn = endpoints.get(key);
      if (turn !== undefined) turn.due.push(delivery);
      else {
        const concurrency = this.endpointConcurrency(delivery);
        endpoints.set(key, { due: [delivery], busy: this.busy.get(key) ?? 0, concurrency });
      }
    }
    for (const { key, delivery } of takeTurns(endpoints, limit - this.inFlight.size, this.lastServed)) {
      this.launch(delivery, key);
      this.lastServed = key;
    }
    if (Number.isFinite(next)) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      this.timer.unref();
    }
  }

  /** Per configured endpoint: how many more deliveries it could start now (what a claim may take for it). */
  private capacity(): Array<{ appId: string; url: string; limit: number }> {
    // Claims beyond what can start now would wait here while their claim runs out, and be sent twice.
    if (this.waiting.size >= (this.options.concurrency ?? 32)) return [];
    const held = new Map<string, number>();
    for (const delivery of this.waiting.values()) {
      held.set(endpointKey(delivery), (held.get(endpointKey(delivery)) ?? 0) + 1);
    }
    return this.options.apps.flatMap((app) =>
      (app.webhooks ?? []).map((webhook) => ({
        appId: app.id,
        url: webhook.url,
        limit: webhook.concurrency - (held.get(endpointKey({ appId: app.id, url: webhook.url })) ?? 0),
      })),
    );
  }

  private endpointConcurrency(delivery: Delivery): number {
    const app = this.options.apps.find((candidate) => candidate.id === delivery.appId);
    return app?.webhooks?.find((candidate) => candidate.url === delivery.url)?.concurrency ?? 1;
  }

  private launch(delivery: Delivery, key: string): void {
    const controller = new AbortController();
    this.inFlight.set(delivery.id, controller);
    this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
    void this.attempt(delivery, controller).finally(() => {
      this.inFlight.delete(delivery.id);
      const left = (this.busy.get(key) ?? 1) - 1;
      if (left === 0) this.busy.delete(key);
      else this.busy.set(key, left);
      this.pump();
    });
  }

  private async attempt(delivery: Delivery, controller: AbortController): Promise<void> {
    const app = this.options.apps.find((candidate) => candidate.id === delivery.appId);
    const endpoint = app?.webhooks?.find((candidate) => candidate.url === delivery.url);
    if (endpoint === undefined) {
      this.options.logger.warn("webhook endpoint no longer configured; delivery dropped", { delivery: delivery.id });
      await this.remove(delivery);
      return;
    }
    if (delivery.after !== undefined) {
      let state: ChangeState;
      try {
        state = await this.options.changeState(delivery.after);
      } catch (error) {
        // The room cannot be loaded now (storage trouble): look again later, not in a tight loop.
        this.options.logger.warn("webhook delivery waits for an unreadable room", { delivery: delivery.id, error });
        delivery.nextAttemptAt = Date.now() + endpoint.retry.initialDelayMs;
        return;
      }
      if (state === "pending") {
        delivery.nextAttemptAt = Date.now() + STORE_POLL_MS;
        return;
      }
      if (state === "lost") {
        this.options.logger.warn("webhook event for a change that was never stored; dropped", {
          delivery: delivery.id,
          event: delivery.eventId,
        });
        await this.remove(delivery);
        return;
      }
      delete delivery.after;
    }
    if (this.closed) return;
    delivery.attempts++;
    const failure = await postWebhook(
      endpoint,
      {
        url: delivery.url,
        body: delivery.body,
        eventId: delivery.eventId,
        deliveryId: delivery.id,
        attempt: delivery.attempts,
      },
      controller,
    );
    if (this.closed) return;
    if (failure === undefined) {
      this.options.logger.debug("webhook delivered", { delivery: delivery.id, attempts: delivery.attempts });
      await this.remove(delivery);
      return;
    }
    this.failedAttempts++;
    if (delivery.attempts >= endpoint.retry.maxAttempts) {
      this.givenUp++;
      this.forget(delivery);
      const { outbox } = this.options;
      await this.track(
        outbox !== undefined
          ? outbox.giveUp(delivery.id, delivery.attempts, failure).catch((error: unknown) => {
              this.options.logger.warn("webhook give-up not stored", { delivery: delivery.id, error });
            })
          : rename(join(this.dir, `${delivery.id}.json`), join(this.deadDir, `${delivery.id}.json`)).catch(() => {}),
      );
      this.options.logger.error("webhook delivery given up", { delivery: delivery.id, url: delivery.url, failure });
      return;
    }
    const base = Math.min(endpoint.retry.initialDelayMs * 2 ** (delivery.attempts - 1), endpoint.retry.maxDelayMs);
    delivery.nextAttemptAt = Date.now() + Math.round(base * (0.8 + Math.random() * 0.4));
    this.options.logger.info("webhook delivery failed; will retry", {
      delivery: delivery.id,
      attempts: delivery.attempts,
      failure,
      retryInMs: delivery.nextAttemptAt - Date.now(),
    });
    if (this.options.outbox !== undefined) {
      // Back to the outbox: whichever node claims it after the delay sends it, with the same event id.
      this.forget(delivery);
      const delayMs = delivery.nextAttemptAt - Date.now();
      await this.track(this.options.outbox.retry(delivery.id, delivery.attempts, delayMs)).catch((error: unknown) =>
        this.options.logger.warn("webhook retry state not stored; the claim will lapse", {
          delivery: delivery.id,
          error,
        }),
      );
      return;
    }
    await this.track(persistDelivery(this.dir, delivery, this.options.fsync)).catch((error: unknown) =>
      this.options.logger.warn("webhook retry state not stored", { delivery: delivery.id, error }),
    );
  }

  private async remove(delivery: Delivery): Promise<void> {
    this.forget(delivery);
    if (this.options.outbox === undefined) {
      await this.track(rm(join(this.dir, `${delivery.id}.json`), { force: true }));
      return;
    }
    // If this fails, the claim lapses and the delivery is sent again: at least once, same event id.
    await this.track(this.options.outbox.done(delivery.id)).catch((error: unknown) =>
      this.options.logger.warn("webhook delivery not marked done; it may be sent again", {
        delivery: delivery.id,
        error,
      }),
    );
  }
}
