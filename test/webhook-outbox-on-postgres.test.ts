/**
 * The durable webhook outbox on PostgreSQL, through real relay processes: while the app's endpoint is down,
 * messages are acknowledged and their deliveries fail; the relay is SIGKILLed; a new relay process — another
 * data directory, the same schema, as another node would be — comes up, and the endpoint (now up) receives a
 * `message.created` for every acknowledged message, with the event id the failed attempts carried.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { WebhookEvent } from "@parley/business";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type ReceivedDelivery,
  startBusinessRelay,
  startReceiver,
  type WebhookReceiver,
  webhookConfig,
} from "./business-support.js";
import { assertPostgresReachable, PG_URL, postgresAdmin } from "./support/postgres.js";
import { type RelayHandle, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const schema = `parley_it_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgresAdmin();
const relays: RelayHandle[] = [];
const clients: ParleyClient[] = [];
let receiver: WebhookReceiver | undefined;

beforeAll(() => assertPostgresReachable(admin));

afterEach(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  for (const relay of relays.splice(0)) await relay.stop();
  await receiver?.stop();
  receiver = undefined;
});

afterAll(async () => {
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

/** A relay process on the test schema; each call is a new process with its own data directory. */
async function relayOnPostgres(endpoint: string, timeoutMs = 500): Promise<RelayHandle> {
  const relay = await startBusinessRelay({
    // A short timeout keeps the claim an attempt cut by the SIGKILL holds (timeoutMs + 5 s) short.
    webhooks: [
      {
        ...(webhookConfig(endpoint, ["message.created"], { initialDelayMs: 50, maxDelayMs: 200 }) as object),
        timeoutMs,
      },
    ],
    extraConfig: { storage: { kind: "postgres", url: PG_URL, schema } },
  });
  relays.push(relay);
  return relay;
}

const eventOf = (delivery: ReceivedDelivery) => JSON.parse(delivery.rawBody) as WebhookEvent;
const messageIdOf = (delivery: ReceivedDelivery) => (eventOf(delivery).data as { message: { id: string } }).message.id;

it("delivers every acknowledged message's event after the relay that stored it was SIGKILLed, from another process", async () => {
  receiver = await startReceiver();
  receiver.respond = () => 503;
  const first = await relayOnPostgres(receiver.url);
  const phone = createClient({ appId: TEST_APP.id, relayUrl: first.url, storage: memoryStorage(), WebSocket });
  clients.push(phone);
  await phone.login("outbox-user", await signUserToken("outbox-user"));
  for (let i = 0; i < 12; i++) await phone.send(`while the endpoint is down ${i}`);
  await waitFor(() => phone.messages().length === 12 && phone.messages().every((m) => m.status === "sent"), {
    what: "all 12 messages acknowledged",
  });
  const acknowledged = phone.messages().map((m) => m.id);
  const target = receiver;
  // Every event was stored and attempted (and refused) before the kill.
  await waitFor(() => acknowledged.every((id) => target.received.some((d) => messageIdOf(d) === id)), {
    what: "a failed attempt for every acknowledged message",
  });
  const failedEventIds = new Map(target.received.map((d) => [messageIdOf(d), eventOf(d).id]));

  await first.kill();
  await phone.destroy();
  // Nothing went to the first relay's data directory: the deliveries are rows in PostgreSQL.
  expect(existsSync(join(first.dataDir, "webhooks"))).toBe(false);
  target.respond = () => 204;
  const second = await relayOnPostgres(target.url);
  expect(second.dataDir).not.toBe(first.dataDir);

  await waitFor(
    () => acknowledged.every((id) => target.received.some((d) => d.answered === 204 && messageIdOf(d) === id)),
    { what: "every acknowledged message delivered by the second relay" },
  );
  for (const id of acknowledged) {
    const attempts = target.received.filter((d) => messageIdOf(d) === id);
    // One event per message, whatever node or attempt sent it: receivers deduplicate on this id.
    expect(new Set(attempts.map((d) => eventOf(d).id))).toEqual(new Set([failedEventIds.get(id)]));
    expect(new Set(attempts.map((d) => d.headers["parley-event-id"]))).toEqual(new Set([failedEventIds.get(id)]));
  }
  const remaining = async () =>
    (await admin.unsafe<[{ n: number }]>(`SELECT count(*)::int AS n FROM "${schema}".webhook_outbox`))[0].n;
  await waitFor(async () => (await remaining()) === 0, { what: "the outbox emptied once delivered" });
  expect(await remaining()).toBe(0);
});

it("hands a delivery it was sending back to the outbox when stopped (SIGTERM), for the next process", async () => {
  receiver = await startReceiver();
  receiver.respond = () => "hang";
  // A long attempt timeout: the claim would hold the delivery for 35 s if the stopping relay kept it.
  const first = await relayOnPostgres(receiver.url, 30_000);
  const phone = createClient({ appId: TEST_APP.id, relayUrl: first.url, storage: memoryStorage(), WebSocket });
  clients.push(phone);
  await phone.login("outbox-stopped", await signUserToken("outbox-stopped"));
  await phone.send("sent while the endpoint hangs");
  const target = receiver;
  await waitFor(() => target.received.length === 1, { what: "the attempt reached the hanging endpoint" });
  const eventId = eventOf(target.received[0]!).id;
  await phone.destroy();
  await first.stop();
  const [row] = await admin.unsafe<[{ due: boolean; attempts: number }]>(
    `SELECT next_attempt_at <= now() AS due, attempts FROM "${schema}".webhook_outbox WHERE event_id = $1`,
    [eventId],
  );
  expect(row).toEqual({ due: true, attempts: 1 });

  target.respond = () => 204;
  await relayOnPostgres(target.url, 30_000);
  await waitFor(() => target.received.some((d) => d.answered === 204), { what: "delivered by the next process" });
  expect(target.received.map((d) => eventOf(d).id)).toEqual([eventId, eventId]);
  expect(target.received.map((d) => d.headers["parley-attempt"])).toEqual(["1", "2"]);
});
