/**
 * The webhook outbox's SQL on a real PostgreSQL: the relay's WebhookOutbox conformance suite (deliveries stored
 * by their change's append and only if it is stored, two nodes claiming at once never get the same delivery, a
 * failed delivery comes back with its event id and attempt count, a lapsed claim is taken by the next claimer),
 * then what only SQL shows: a refused append and a stored one in one group-commit statement, and the rows left.
 */
import { FencedError } from "@parley/protocol";
import type { NewWebhookDelivery } from "@parley/relay";
import { describeWebhookOutbox } from "@parley/relay/testing";
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

describe("rows", () => {
  it("keeps a given-up delivery as a dead row with its last failure, and deletes a delivered one", async () => {
    const url = "http://hooks.test/rows";
    const [delivered, givenUp] = [delivery(url), delivery(url)];
    await nodeA.webhookOutbox.insert([delivered, givenUp]);
    expect(await nodeB.webhookOutbox.claim([{ appId: "app", url, limit: 10 }], 60_000)).toHaveLength(2);
    await nodeB.webhookOutbox.done(delivered.id);
    await nodeB.webhookOutbox.giveUp(givenUp.id, 20, "HTTP 500");
    expect(await rows(url)).toEqual([{ id: givenUp.id, event_id: givenUp.eventId, attempts: 20, dead: true }]);
    const [row] = await admin.unsafe(`SELECT failure FROM "${schema}".webhook_outbox WHERE id = $1`, [givenUp.id]);
    expect(row?.failure).toBe("HTTP 500");
  });
});

describeWebhookOutbox({ describe, it }, "PostgresStorage", () => {
  const medium = uniqueSchema();
  const opened: PostgresStorage[] = [];
  return {
    open() {
      const storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema: medium });
      opened.push(storage);
      return storage;
    },
    async dispose() {
      await Promise.all(opened.map((storage) => storage.close()));
      await dropSchema(admin, medium);
    },
  };
});
