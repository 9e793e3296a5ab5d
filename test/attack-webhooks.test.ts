/**
 * One app's webhook endpoint cannot delay another's, against a real relay process: an app whose endpoint
 * hangs gets at most its endpoint's `concurrency` deliveries in flight while another app's events are
 * delivered at once; and an app's outstanding deliveries are capped (`limits.maxWebhookDeliveriesPerApp`),
 * events beyond it dropped and logged, while the other app's deliveries and honest clients carry on.
 */
import { messagesOf, roomName } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { startReceiver, WEBHOOK_SECRET, type WebhookReceiver } from "./business-support.js";
import { expectHonestSync } from "./support/honest-sync.js";
import {
  openProvider,
  type RelayHandle,
  signUserToken,
  startRelay,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const SLOW = { id: "slowapp", kid: "k1", secret: "slow-secret-0123456789-abcdefghijklmnopqr" };

let relay: RelayHandle | undefined;
const receivers: WebhookReceiver[] = [];
const providers: TestProvider[] = [];

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.destroy();
  await relay?.stop();
  for (const receiver of receivers.splice(0)) await receiver.stop();
});

function endpoint(url: string, concurrency: number) {
  return {
    url,
    secret: WEBHOOK_SECRET,
    events: ["message.created"],
    timeoutMs: 120_000,
    concurrency,
    retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 3 },
  };
}

/** A relay with the test app (fast endpoint) and a slow app whose endpoint never answers. */
async function scene(options: { slowConcurrency: number; limits?: Record<string, number> }) {
  const slow = await startReceiver();
  slow.respond = () => "hang";
  const fast = await startReceiver();
  receivers.push(slow, fast);
  relay = await startRelay({
    apps: [
      {
        id: TEST_APP.id,
        keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }],
        webhooks: [endpoint(fast.url, 2)],
      },
      {
        id: SLOW.id,
        keys: [{ kid: SLOW.kid, alg: "HS256", secret: SLOW.secret }],
        webhooks: [endpoint(slow.url, options.slowConcurrency)],
      },
    ],
    extraConfig: { fsync: "off", limits: options.limits ?? {} },
  });
  return { slow, fast, relay };
}

/** A synced writer in `userId`'s room of `app`. */
async function writer(handle: RelayHandle, app: { id: string; kid: string; secret: string }, userId: string) {
  const token = await signUserToken(userId, { kid: app.kid, secret: app.secret });
  const provider = openProvider(handle, roomName({ appId: app.id, kind: "user", subject: userId }), token);
  providers.push(provider);
  await waitFor(() => provider.provider.synced, { what: `${app.id} writer synced` });
  return provider;
}

function writeMessages(provider: TestProvider, count: number, prefix: string): string[] {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}-0000`);
  for (const id of ids) {
    messagesOf(provider.doc).push([{ id, role: "user", client: provider.clientId, text: id, ts: Date.now() }]);
  }
  return ids;
}

const deliveredIds = (receiver: WebhookReceiver) =>
  receiver.received.map((d) => (JSON.parse(d.rawBody) as { data: { message: { id: string } } }).data.message.id);

describe("webhooks: one app cannot delay another", () => {
  it("a hung endpoint holds only its own concurrency; another app's events go out at once", async () => {
    const { slow, fast, relay: handle } = await scene({ slowConcurrency: 2 });
    const slowWriter = await writer(handle, SLOW, "slow-user");
    writeMessages(slowWriter, 40, "slow");
    await waitFor(() => slow.received.length >= 2, { what: "the slow endpoint's first deliveries" });

    const fastWriter = await writer(handle, TEST_APP, "fast-user");
    const ids = writeMessages(fastWriter, 5, "fast");
    await waitFor(() => ids.every((id) => deliveredIds(fast).includes(id)), { what: "the other app's deliveries" });
    // The slow app never had more than its endpoint's concurrency in flight (none were answered).
    expect(slow.received.length).toBe(2);
    await expectHonestSync(handle, "webhook-honest");
  });

  it("caps an app's outstanding deliveries; events beyond it are dropped and logged", async () => {
    const {
      slow,
      fast,
      relay: handle,
    } = await scene({
      slowConcurrency: 1,
      limits: { maxWebhookDeliveriesPerApp: 5 },
    });
    const slowWriter = await writer(handle, SLOW, "slow-capped");
    writeMessages(slowWriter, 12, "capped");
    await waitFor(() => handle.logs.filter((l) => l.includes("webhook outbox full")).length === 7, {
      what: "the events over the cap dropped",
    });
    await waitFor(() => slow.received.length === 1, { what: "the slow endpoint's one delivery in flight" });
    const fastWriter = await writer(handle, TEST_APP, "fast-capped");
    const ids = writeMessages(fastWriter, 3, "fine");
    await waitFor(() => ids.every((id) => deliveredIds(fast).includes(id)), { what: "the other app's deliveries" });
    await expectHonestSync(handle, "webhook-capped-honest");
  });
});
