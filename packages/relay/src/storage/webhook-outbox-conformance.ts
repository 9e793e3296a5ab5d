/**
 * The conformance suite of the {@link WebhookOutbox} capability (the contract in webhook-outbox.ts), run like
 * the storage suite (conformance.ts) on a medium whose `open()` returns storages that offer an outbox: two
 * `open()`s are two relay nodes. Everything is checked through the interface (claims show what is stored).
 * Exported from `@parley/relay/testing`.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "@parley/protocol";
import type { NewRelayStorageMedium, RelayStorageMedium, TestFunctions } from "./conformance.js";
import type { RelayStorage } from "./storage.js";
import { type NewWebhookDelivery, type WebhookOutbox, webhookOutboxOf } from "./webhook-outbox.js";

/** One promise of the outbox contract. */
export interface WebhookOutboxCase {
  readonly name: string;
  run(medium: RelayStorageMedium): Promise<void>;
}

let counter = 0;

/** A delivery of a new event to `url`. */
function delivery(url: string): NewWebhookDelivery {
  counter += 1;
  const eventId = `evt_conformance_${counter}`;
  return {
    id: `dlv_conformance_${counter}`,
    appId: "conformance",
    url,
    eventId,
    body: JSON.stringify({ id: eventId }),
  };
}

async function node(medium: RelayStorageMedium): Promise<{ storage: RelayStorage; outbox: WebhookOutbox }> {
  const storage = await medium.open();
  const outbox = webhookOutboxOf(storage);
  assert.ok(outbox, "the storage must offer a webhookOutbox");
  return { storage, outbox };
}

/** Every due delivery of `url` (claimed for 1 ms, so they are due again right after). */
async function due(outbox: WebhookOutbox, url: string): Promise<string[]> {
  const claimed = await outbox.claim([{ appId: "conformance", url, limit: 1000 }], 1);
  return claimed.map((d) => d.id).sort();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cases, one per promise of the contract. */
export const webhookOutboxCases: readonly WebhookOutboxCase[] = [
  {
    name: "stores the deliveries attached to an update with that update's append, once, and with no other",
    async run(medium) {
      const { storage, outbox } = await node(medium);
      const url = "http://hooks.test/stored";
      const [with_, without] = [new Uint8Array([1]), new Uint8Array([2])];
      const attached = [delivery(url), delivery(url)];
      outbox.attach(with_, attached);
      assert.deepEqual(await due(outbox, url), [], "nothing is stored before the append");
      const fence = await storage.claim("conformance/stored");
      await storage.append("conformance/stored", without, fence);
      assert.deepEqual(await due(outbox, url), [], "another update's append stores none of them");
      await storage.append("conformance/stored", with_, fence);
      await sleep(5);
      assert.deepEqual(await due(outbox, url), attached.map((d) => d.id).sort());
      await storage.append("conformance/stored", with_, fence);
      await sleep(5);
      assert.equal((await due(outbox, url)).length, 2, "handed over once: a second append stores no copy");
    },
  },
  {
    name: "stores none of the deliveries of a refused (fenced) append",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const url = "http://hooks.test/fenced";
      const stale = await a.storage.claim("conformance/fenced");
      await b.storage.claim("conformance/fenced");
      const update = new Uint8Array([3]);
      a.outbox.attach(update, [delivery(url)]);
      await assert.rejects(a.storage.append("conformance/fenced", update, stale), (e: { code?: unknown }) => {
        return e.code === ErrorCode.Fenced;
      });
      assert.deepEqual(await due(b.outbox, url), []);
    },
  },
  {
    name: "gives each delivery to one of two nodes claiming at the same time",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const url = "http://hooks.test/claims";
      const all = Array.from({ length: 40 }, () => delivery(url));
      await a.outbox.insert(all);
      const claimed: string[] = [];
      const worker = async (outbox: WebhookOutbox) => {
        for (;;) {
          const got = await outbox.claim([{ appId: "conformance", url, limit: 5 }], 60_000);
          if (got.length === 0) return;
          claimed.push(...got.map((d) => d.id));
        }
      };
      await Promise.all([worker(a.outbox), worker(b.outbox), worker(a.outbox), worker(b.outbox)]);
      assert.deepEqual(claimed.sort(), all.map((d) => d.id).sort(), "every delivery claimed exactly once");
    },
  },
  {
    name: "claims at most `limit` per endpoint, oldest first",
    async run(medium) {
      const { outbox } = await node(medium);
      const [busy, quiet] = ["http://hooks.test/busy", "http://hooks.test/quiet"];
      const backlog = Array.from({ length: 6 }, () => delivery(busy));
      for (const d of backlog) await outbox.insert([d]);
      await outbox.insert([delivery(quiet)]);
      const got = await outbox.claim(
        [
          { appId: "conformance", url: busy, limit: 2 },
          { appId: "conformance", url: quiet, limit: 2 },
        ],
        60_000,
      );
      assert.deepEqual(
        got.filter((d) => d.url === busy).map((d) => d.id),
        backlog.slice(0, 2).map((d) => d.id),
      );
      assert.equal(got.filter((d) => d.url === quiet).length, 1);
    },
  },
  {
    name: "brings a retried delivery back with its event id and attempts; done and given up are never claimed again",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const url = "http://hooks.test/retry";
      const [first, second, third] = [delivery(url), delivery(url), delivery(url)];
      await a.outbox.insert([first, second, third]);
      const endpoint = [{ appId: "conformance", url, limit: 10 }];
      const claimed = await a.outbox.claim(endpoint, 60_000);
      assert.deepEqual(
        claimed.map((d) => d.attempts),
        [0, 0, 0],
      );
      assert.deepEqual(await b.outbox.claim(endpoint, 60_000), [], "claimed deliveries are invisible to others");
      await a.outbox.retry(first.id, 1, 0);
      await a.outbox.done(second.id);
      await a.outbox.giveUp(third.id, 20, "HTTP 500");
      await sleep(5);
      assert.deepEqual(await b.outbox.claim(endpoint, 60_000), [{ ...first, attempts: 1 }]);
      await b.outbox.retry(first.id, 2, 0);
      await sleep(5);
      assert.deepEqual(await due(a.outbox, url), [first.id], "done and given-up deliveries stay out");
    },
  },
  {
    name: "lets a claim lapse: a node that died mid-delivery leaves it to the next claimer",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const url = "http://hooks.test/lapse";
      const lost = delivery(url);
      await a.outbox.insert([lost]);
      const endpoint = [{ appId: "conformance", url, limit: 1 }];
      assert.equal((await a.outbox.claim(endpoint, 50)).length, 1);
      let reclaimed: Awaited<ReturnType<WebhookOutbox["claim"]>> = [];
      // Polled until the 50 ms claim ran out (on the outbox's clock), not timed.
      for (let i = 0; i < 500 && reclaimed.length === 0; i++) {
        await sleep(10);
        reclaimed = await b.outbox.claim(endpoint, 60_000);
      }
      assert.deepEqual(reclaimed, [{ ...lost, attempts: 0 }]);
    },
  },
];

/** Registers the outbox suite as one `describe` block with one `it` per case, each on a fresh medium. */
export function describeWebhookOutbox(
  test: TestFunctions,
  adapterName: string,
  newMedium: NewRelayStorageMedium,
): void {
  test.describe(`${adapterName} keeps the WebhookOutbox contract`, () => {
    for (const outboxCase of webhookOutboxCases) {
      test.it(outboxCase.name, async () => {
        const medium = await newMedium();
        try {
          await outboxCase.run(medium);
        } finally {
          await medium.dispose?.();
        }
      });
    }
  });
}
