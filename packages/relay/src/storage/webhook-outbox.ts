/**
 * An optional capability of a {@link RelayStorage}: a webhook outbox kept in the same store as the documents, so
 * that "this change is stored" and "this change will be reported" are one fact, and any relay node sharing the
 * store can deliver what another node stored.
 *
 * `RelayStorage` itself gains nothing: a storage offers the outbox by having a `webhookOutbox` property (see
 * {@link webhookOutboxOf}); the webhooks extension uses it when present and otherwise keeps its per-process
 * file queue under `<dataDir>/webhooks` (the file store's case). The PostgreSQL storage of
 * `@parley/relay-postgres` implements it with a table written in the append's transaction and claimed with
 * `FOR UPDATE SKIP LOCKED`.
 *
 * Why the seam is the update's identity: the webhooks extension finds events while Yjs applies a change (its
 * observers), then the relay calls the `onChange` hook with the change's update and, synchronously after,
 * `storage.append(name, update, fence)` with that same `Uint8Array` object (wrappers pass it through, even when
 * they delay the append, as the first write of an anonymous room does). Attaching the deliveries to that object
 * binds them to exactly the append that stores their change: no room-keyed staging that could ride on another
 * append, and nothing about events for the storage to understand.
 *
 * Contract (at-least-once):
 * - deliveries {@link WebhookOutbox.attach}ed to an update are stored in the same transaction as that update's
 *   append, and only if it is stored: a refused (fenced) or failed append stores none of them;
 * - {@link WebhookOutbox.claim} hands a stored delivery to one caller at a time: it is invisible to every other
 *   claimer (on any node) until `claimMs` passed or it was retried; a claimer that dies leaves it claimable again
 *   after `claimMs`, so it may be sent twice — receivers deduplicate on the event id, which never changes;
 * - {@link WebhookOutbox.done} removes a delivery for good; {@link WebhookOutbox.retry} makes it claimable again
 *   after a delay, with its attempt count; {@link WebhookOutbox.giveUp} keeps it aside, never claimed again.
 */
import type { RelayStorage } from "./storage.js";

/** One event to one endpoint, as the webhooks extension builds it. */
export interface NewWebhookDelivery {
  /** Unique per delivery (`dlv_…`). */
  id: string;
  appId: string;
  /** The endpoint's URL, as configured. */
  url: string;
  /** The event's id, also inside `body`: stable across attempts and nodes; receivers deduplicate on it. */
  eventId: string;
  /** The JSON body, sent as is on every attempt. */
  body: string;
}

/** A delivery handed to one claimer. */
export interface ClaimedWebhookDelivery extends NewWebhookDelivery {
  /** Attempts made so far, by any node. */
  attempts: number;
}

/** An endpoint and how many of its due deliveries a claim may take. */
export interface WebhookOutboxEndpoint {
  appId: string;
  url: string;
  limit: number;
}

/** The outbox of a storage that offers one; see the module comment for the contract. */
export interface WebhookOutbox {
  /**
   * Stores `deliveries` with the append of `update` (this very object) through this storage, in its
   * transaction; nothing is stored if that append is refused or fails, or never issued. Synchronous: call it
   * before the append.
   */
  attach(update: Uint8Array, deliveries: readonly NewWebhookDelivery[]): void;
  /** Stores deliveries that report no document change of their own (an import the business API stored). */
  insert(deliveries: readonly NewWebhookDelivery[]): Promise<void>;
  /**
   * Claims due deliveries, oldest first, at most `limit` per endpoint, none another claimer holds; each stays
   * claimed for `claimMs`.
   */
  claim(endpoints: readonly WebhookOutboxEndpoint[], claimMs: number): Promise<ClaimedWebhookDelivery[]>;
  /** The delivery was answered 2xx: removed. */
  done(id: string): Promise<void>;
  /** The attempt failed: claimable again `delayMs` from now, with `attempts` recorded. */
  retry(id: string, attempts: number, delayMs: number): Promise<void>;
  /** Attempts exhausted: kept aside with the last failure, never claimed again. */
  giveUp(id: string, attempts: number, failure: string): Promise<void>;
}

/** The outbox `storage` offers, if any (a `webhookOutbox` property). */
export function webhookOutboxOf(storage: RelayStorage): WebhookOutbox | undefined {
  const outbox = (storage as { webhookOutbox?: unknown }).webhookOutbox;
  return typeof outbox === "object" && outbox !== null ? (outbox as WebhookOutbox) : undefined;
}
