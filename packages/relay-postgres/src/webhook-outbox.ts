/**
 * The webhook outbox on PostgreSQL (`@parley/relay`'s `WebhookOutbox` capability; the contract is written
 * there). Deliveries attached to an update are inserted by the append statement that stores it
 * (statements.ts `appendBatch`), so a change is stored with its events or not at all. Any node claims due rows
 * with `FOR UPDATE SKIP LOCKED`: concurrent claimers skip each other's rows instead of waiting for them, and the
 * claim moves `next_attempt_at` forward by `claimMs`, so the row stays out of every other claim while it is being
 * sent (the HTTP request is not held inside a transaction) and comes back by itself if its claimer dies.
 * Times are the server's `now()`, so nodes with skewed clocks agree on what is due.
 */
import { InvalidArgumentError, StorageError } from "@parley/protocol";
import type { ClaimedWebhookDelivery, NewWebhookDelivery, WebhookOutbox, WebhookOutboxEndpoint } from "@parley/relay";
import type { Sql } from "postgres";

/** The deliveries of one append, as the append statement's parallel arrays take them. */
export interface OutboxColumns {
  ord: number[];
  id: string[];
  appId: string[];
  url: string[];
  eventId: string[];
  body: string[];
}

function failure(what: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  return new StorageError(`webhook outbox ${what} failed: ${(error as Error).message}`, { cause: error });
}

function assertDeliveries(deliveries: unknown): asserts deliveries is readonly NewWebhookDelivery[] {
  const fields = ["id", "appId", "url", "eventId", "body"] as const;
  if (
    !Array.isArray(deliveries) ||
    !deliveries.every(
      (d) =>
        typeof d === "object" &&
        d !== null &&
        fields.every((f) => typeof (d as Record<string, unknown>)[f] === "string"),
    )
  ) {
    throw new InvalidArgumentError("deliveries", "must be an array of { id, appId, url, eventId, body } strings");
  }
}

/** The PostgreSQL outbox of one `PostgresStorage` (its `webhookOutbox`). */
export class PostgresWebhookOutbox implements WebhookOutbox {
  /** Deliveries waiting for the append of their update; keyed by the update object, so never leaked. */
  private readonly attached = new WeakMap<Uint8Array, NewWebhookDelivery[]>();

  constructor(
    private readonly sql: Sql,
    private readonly s: string,
    private readonly migrated: Promise<void>,
  ) {}

  attach(update: Uint8Array, deliveries: readonly NewWebhookDelivery[]): void {
    if (!(update instanceof Uint8Array)) throw new InvalidArgumentError("update", "must be a Uint8Array");
    assertDeliveries(deliveries);
    if (deliveries.length === 0) return;
    const list = this.attached.get(update);
    if (list === undefined) this.attached.set(update, [...deliveries]);
    else list.push(...deliveries);
  }

  /** The deliveries attached to `update`, handed over once (to the append that stores it). */
  take(update: Uint8Array): NewWebhookDelivery[] | undefined {
    const list = this.attached.get(update);
    this.attached.delete(update);
    return list;
  }

  async insert(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    assertDeliveries(deliveries);
    if (deliveries.length === 0) return;
    await this.migrated;
    try {
      await this.sql.unsafe(
        `INSERT INTO ${this.s}.webhook_outbox (id, app_id, url, event_id, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
        [
          deliveries.map((d) => d.id),
          deliveries.map((d) => d.appId),
          deliveries.map((d) => d.url),
          deliveries.map((d) => d.eventId),
          deliveries.map((d) => d.body),
        ],
      );
    } catch (error) {
      throw failure("insert", error);
    }
  }

  async claim(endpoints: readonly WebhookOutboxEndpoint[], claimMs: number): Promise<ClaimedWebhookDelivery[]> {
    if (!Number.isInteger(claimMs) || claimMs < 1)
      throw new InvalidArgumentError("claimMs", "must be a positive integer");
    const wanted = endpoints.filter((endpoint) => endpoint.limit > 0);
    if (wanted.length === 0) return [];
    await this.migrated;
    try {
      // Per endpoint (LATERAL), so one endpoint's backlog cannot fill a claim meant for all of them.
      const rows = await this.sql.unsafe<
        { id: string; app_id: string; url: string; event_id: string; body: string; attempts: number }[]
      >(
        `WITH e AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS e(app_id, url, n)
         ), picked AS (
           SELECT c.id FROM e CROSS JOIN LATERAL (
             SELECT o.id FROM ${this.s}.webhook_outbox o
             WHERE o.app_id = e.app_id AND o.url = e.url AND NOT o.dead AND o.next_attempt_at <= now()
             ORDER BY o.next_attempt_at, o.id LIMIT e.n
             FOR UPDATE SKIP LOCKED
           ) c
         )
         UPDATE ${this.s}.webhook_outbox o SET next_attempt_at = now() + make_interval(secs => $4::float8 / 1000)
         FROM picked WHERE o.id = picked.id
         RETURNING o.id, o.app_id, o.url, o.event_id, o.body, o.attempts`,
        [wanted.map((e) => e.appId), wanted.map((e) => e.url), wanted.map((e) => e.limit), claimMs],
        { prepare: true },
      );
      return rows.map((row) => ({
        id: row.id,
        appId: row.app_id,
        url: row.url,
        eventId: row.event_id,
        body: row.body,
        attempts: row.attempts,
      }));
    } catch (error) {
      throw failure("claim", error);
    }
  }

  async done(id: string): Promise<void> {
    await this.write("done", `DELETE FROM ${this.s}.webhook_outbox WHERE id = $1`, [id]);
  }

  async retry(id: string, attempts: number, delayMs: number): Promise<void> {
    await this.write(
      "retry",
      `UPDATE ${this.s}.webhook_outbox
       SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3::float8 / 1000) WHERE id = $1`,
      [id, attempts, Math.max(0, delayMs)],
    );
  }

  async giveUp(id: string, attempts: number, reason: string): Promise<void> {
    await this.write(
      "give-up",
      `UPDATE ${this.s}.webhook_outbox SET attempts = $2, dead = true, failure = $3 WHERE id = $1`,
      [id, attempts, reason],
    );
  }

  /** The append statement's outbox arrays for `deliveries` per append index (0-based, in batch order). */
  static columns(batch: ReadonlyArray<readonly NewWebhookDelivery[] | undefined>): OutboxColumns {
    const columns: OutboxColumns = { ord: [], id: [], appId: [], url: [], eventId: [], body: [] };
    for (const [i, deliveries] of batch.entries()) {
      for (const d of deliveries ?? []) {
        columns.ord.push(i + 1);
        columns.id.push(d.id);
        columns.appId.push(d.appId);
        columns.url.push(d.url);
        columns.eventId.push(d.eventId);
        columns.body.push(d.body);
      }
    }
    return columns;
  }

  private async write(what: string, text: string, params: Array<string | number>): Promise<void> {
    if (typeof params[0] !== "string") throw new InvalidArgumentError("id", "must be a delivery id");
    await this.migrated;
    try {
      await this.sql.unsafe(text, params, { prepare: true });
    } catch (error) {
      throw failure(what, error);
    }
  }
}
