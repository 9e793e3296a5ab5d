/**
 * The webhook outbox's SQL on a real PostgreSQL: deliveries are stored by their change's append (and only if it
 * is stored), two nodes claiming at once never get the same delivery, and a failed delivery comes back with its
 * event id and attempt count.
 */
import { FencedError } from "@parley/protocol";
import type { NewWebhookDelivery } from "@parley/relay";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

let admin: Sql;
const schema = uniqueSchema();
/** Two storages on one schema: two relay nodes, each with its own connection pool. */
let nodeA: PostgresStorage;
let nodeB: PostgresStorage;
let counter = 0;

beforeAll(async () => {
  admin = await adminConnection();
  nodeA = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
  nodeB = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
  await Promise.all([nodeA.ready(), nodeB.ready()]);
});

afterAll(async () => {
  await Promise.all([nodeA?.close(), nodeB?.close()]);
  if (admin) {
    await dropSchema(admin, schema);
    await admin.end();
  }
});

/** A delivery of a new event to `url` of app `app`. */
function delivery(url: string, app = "app"): NewWebhookDelivery {
  counter += 1;
  const eventId = `evt_${counter}`;
  return { id: `dlv_${counter}`, appId: app, url, eventId, body: JSON.stringify({ id: eventId }) };
}

async function rows(url: string): Promise<Array<{ id: string; event_id: string; attempts: number; dead: boolean }>> {
  return admin.unsafe(
    `SELECT id, event_id, attempts, dead FROM "${schema}".webhook_outbox WHERE url = $1 ORDER BY id`,
    [url],
  );
}

describe("deliveries are stored by the append of their change", () => {
  it("inserts the deliveries attached to an update with it, and none for another update", async () => {
    const url = "http://hooks.test/stored";
    const first = new Uint8Array([1]);
    const second = new Uint8Array([2]);
    const fence = await nodeA.claim("app/outbox-stored");
    const attached = [delivery(url), delivery(url)];
    nodeA.webhookOutbox.attach(first, attached);
    await Promise.all([
      nodeA.append("app/outbox-stored", first, fence),
      nodeA.append("app/outbox-stored", second, fence),
    ]);
    expect((await rows(url)).map((row) => row.id)).toEqual(attached.map((d) => d.id).sort());
    // Handed over once: appending the same object again stores no second copy.
    await nodeA.append("app/outbox-stored", first, fence);
    expect(await rows(url)).toHaveLength(2);
  });

  it("inserts nothing for a fenced append, even in the batch of a stored one", async () => {
    const url = "http://hooks.test/fenced";
    const stale = await nodeA.claim("app/outbox-fenced");
    await nodeB.claim("app/outbox-fenced");
    const liveFence = await nodeA.claim("app/outbox-live");
    const refused = new Uint8Array([3]);
    const stored = new Uint8Array([4]);
    const lost = delivery(url);
    const kept = delivery(url);
    nodeA.webhookOutbox.attach(refused, [lost]);
    nodeA.webhookOutbox.attach(stored, [kept]);
    const [refusal, success] = await Promise.allSettled([
      nodeA.append("app/outbox-fenced", refused, stale),
      nodeA.append("app/outbox-live", stored, liveFence),
    ]);
    expect(refusal.status === "rejected" && refusal.reason).toBeInstanceOf(FencedError);
    expect(success.status).toBe("fulfilled");
    expect((await rows(url)).map((row) => row.id)).toEqual([kept.id]);
    expect(nodeA.stats.appendBatches).toBeGreaterThan(0);
  });
});

describe("claims", () => {
  it("gives each delivery to one of two nodes claiming at the same time", async () => {
    const url = "http://hooks.test/claims";
    const all = Array.from({ length: 60 }, () => delivery(url));
    await nodeA.webhookOutbox.insert(all);
    const claimed: string[] = [];
    // Both nodes claim in rounds until nothing is left; rows one holds are skipped by the other, not waited on.
    const worker = async (node: PostgresStorage) => {
      for (;;) {
        const got = await node.webhookOutbox.claim([{ appId: "app", url, limit: 7 }], 60_000);
        if (got.length === 0) return;
        claimed.push(...got.map((d) => d.id));
      }
    };
    await Promise.all([worker(nodeA), worker(nodeB), worker(nodeA), worker(nodeB)]);
    expect(claimed.sort()).toEqual(all.map((d) => d.id).sort());
    expect(new Set(claimed).size).toBe(all.length);
  });

  it("takes at most `limit` per endpoint, so one endpoint's backlog leaves room for another's", async () => {
    const busy = "http://hooks.test/busy";
    const quiet = "http://hooks.test/quiet";
    await nodeA.webhookOutbox.insert([...Array.from({ length: 10 }, () => delivery(busy)), delivery(quiet)]);
    const got = await nodeB.webhookOutbox.claim(
      [
        { appId: "app", url: busy, limit: 2 },
        { appId: "app", url: quiet, limit: 2 },
      ],
      60_000,
    );
    expect(got.filter((d) => d.url === busy)).toHaveLength(2);
    expect(got.filter((d) => d.url === quiet)).toHaveLength(1);
  });

  it("brings a failed delivery back with its event id and attempts; done removes it; given up is kept aside", async () => {
    const url = "http://hooks.test/retry";
    const first = delivery(url);
    const second = delivery(url);
    await nodeA.webhookOutbox.insert([first, second]);
    const endpoint = [{ appId: "app", url, limit: 10 }];
    const claimed = await nodeA.webhookOutbox.claim(endpoint, 60_000);
    expect(claimed.map((d) => [d.id, d.eventId, d.attempts])).toEqual([
      [first.id, first.eventId, 0],
      [second.id, second.eventId, 0],
    ]);
    // While claimed, no other node sees them.
    expect(await nodeB.webhookOutbox.claim(endpoint, 60_000)).toEqual([]);
    await nodeA.webhookOutbox.retry(first.id, 1, 0);
    const again = await nodeB.webhookOutbox.claim(endpoint, 60_000);
    expect(again).toEqual([{ ...first, attempts: 1 }]);
    await nodeB.webhookOutbox.done(first.id);
    await nodeA.webhookOutbox.giveUp(second.id, 20, "HTTP 500");
    expect(await rows(url)).toEqual([{ id: second.id, event_id: second.eventId, attempts: 20, dead: true }]);
    expect(await nodeA.webhookOutbox.claim(endpoint, 1)).toEqual([]);
  });

  it("lets a claim lapse: a node that died mid-delivery leaves it to the next claimer", async () => {
    const url = "http://hooks.test/lapse";
    const lost = delivery(url);
    await nodeA.webhookOutbox.insert([lost]);
    const endpoint = [{ appId: "app", url, limit: 1 }];
    expect(await nodeA.webhookOutbox.claim(endpoint, 50)).toHaveLength(1);
    // The 50 ms claim runs out on the server's clock; polled, not timed.
    let reclaimed: Awaited<ReturnType<typeof nodeB.webhookOutbox.claim>> = [];
    while (reclaimed.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      reclaimed = await nodeB.webhookOutbox.claim(endpoint, 60_000);
    }
    expect(reclaimed).toEqual([{ ...lost, attempts: 0 }]);
  });
});
