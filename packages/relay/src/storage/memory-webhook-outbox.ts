/**
 * The in-memory twin of the {@link WebhookOutbox} capability, for tests and for `MemoryStorage` (opt-in:
 * `new MemoryStorage({ webhookOutbox: true })`). Same contract as the PostgreSQL outbox (webhook-outbox.ts),
 * with the process as its only medium: claims last `claimMs` on this process's clock.
 */
import { InvalidArgumentError } from "@parley/protocol";
import type {
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  WebhookOutbox,
  WebhookOutboxEndpoint,
} from "./webhook-outbox.js";

interface Row extends ClaimedWebhookDelivery {
  /** Claimable from this time on (ms since the epoch). */
  dueAt: number;
  dead: boolean;
  /** Insertion order, the tie-break of "oldest first". */
  seq: number;
}

/** A {@link WebhookOutbox} in memory; its storage calls {@link MemoryWebhookOutbox.appended} on each append. */
export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly attached = new WeakMap<Uint8Array, NewWebhookDelivery[]>();
  private readonly rows = new Map<string, Row>();
  private seq = 0;

  attach(update: Uint8Array, deliveries: readonly NewWebhookDelivery[]): void {
    if (!(update instanceof Uint8Array)) throw new InvalidArgumentError("update", "must be a Uint8Array");
    if (deliveries.length === 0) return;
    const list = this.attached.get(update);
    if (list === undefined) this.attached.set(update, [...deliveries]);
    else list.push(...deliveries);
  }

  /**
   * The storage is appending `update`: hands over its attached deliveries (once), and returns a function that
   * stores them, for the storage to call only if the append is stored.
   */
  appended(update: Uint8Array): () => void {
    const list = this.attached.get(update);
    this.attached.delete(update);
    return () => this.store(list ?? []);
  }

  async insert(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    this.store(deliveries);
  }

  async claim(endpoints: readonly WebhookOutboxEndpoint[], claimMs: number): Promise<ClaimedWebhookDelivery[]> {
    if (!Number.isInteger(claimMs) || claimMs < 1) {
      throw new InvalidArgumentError("claimMs", "must be a positive integer");
    }
    const now = Date.now();
    const claimed: ClaimedWebhookDelivery[] = [];
    for (const endpoint of endpoints) {
      const due = [...this.rows.values()]
        .filter((row) => row.appId === endpoint.appId && row.url === endpoint.url && !row.dead && row.dueAt <= now)
        .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)
        .slice(0, Math.max(0, endpoint.limit));
      for (const row of due) {
        row.dueAt = now + claimMs;
        const { id, appId, url, eventId, body, attempts } = row;
        claimed.push({ id, appId, url, eventId, body, attempts });
      }
    }
    return claimed;
  }

  async done(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async retry(id: string, attempts: number, delayMs: number): Promise<void> {
    const row = this.rows.get(id);
    if (row === undefined) return;
    row.attempts = attempts;
    row.dueAt = Date.now() + Math.max(0, delayMs);
  }

  async giveUp(id: string, attempts: number): Promise<void> {
    const row = this.rows.get(id);
    if (row === undefined) return;
    row.attempts = attempts;
    row.dead = true;
  }

  private store(deliveries: readonly NewWebhookDelivery[]): void {
    for (const { id, appId, url, eventId, body } of deliveries) {
      this.rows.set(id, {
        id,
        appId,
        url,
        eventId,
        body,
        attempts: 0,
        dueAt: Date.now(),
        dead: false,
        seq: this.seq++,
      });
    }
  }
}
