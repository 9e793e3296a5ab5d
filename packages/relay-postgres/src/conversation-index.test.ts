/**
 * The conversation index's SQL on a real PostgreSQL: the relay's ConversationIndex conformance suite (fenced puts
 * and removes, page order and cursors, unindexed documents, two nodes on one schema), then what only SQL shows: a
 * put racing a claim is serialized with it, and a page is an index scan of the `conversations` table.
 */
import type { ConversationSummary } from "@parley/protocol";
import { describeConversationIndex } from "@parley/relay/testing";
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

let admin: Sql;

beforeAll(async () => {
  admin = await adminConnection();
});

afterAll(async () => {
  await admin?.end();
});

describeConversationIndex({ describe, it }, "PostgresStorage", () => {
  const schema = uniqueSchema();
  const opened: PostgresStorage[] = [];
  return {
    open() {
      const storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
      opened.push(storage);
      return storage;
    },
    async dispose() {
      await Promise.all(opened.map((storage) => storage.close()));
      await dropSchema(admin, schema);
    },
  };
});

function summary(id: string, lastActivity: number): ConversationSummary {
  return {
    kind: "user",
    id,
    state: "active",
    lastActivity,
    messageCount: 0,
    lastMessage: null,
    reads: { user: 0, business: 0 },
    unread: { user: 0, business: 0 },
  };
}

describe("the PostgreSQL conversation index", () => {
  const schema = uniqueSchema();
  let storage: PostgresStorage;

  beforeAll(async () => {
    storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
    await storage.ready();
  });

  afterAll(async () => {
    await storage?.close();
    if (admin) await dropSchema(admin, schema);
  });

  it("serializes a put with a claim of its room: a put waiting behind the claim is refused", async () => {
    const name = "race/u/cmFjZQ";
    const fence = await storage.claim(name);
    // A session that holds the room row as a claim does, mid-transaction.
    const claimer = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
    try {
      await claimer`BEGIN`;
      await claimer.unsafe(`UPDATE "${schema}".rooms SET epoch = epoch + 1 WHERE name = $1`, [name]);
      const put = storage.conversationIndex.put(name, summary("race", 1), fence).then(
        () => "stored",
        (error: { code?: string }) => error.code,
      );
      // The put waits for the row lock (polled on pg_stat_activity, not timed), then the claim commits.
      for (;;) {
        const [row] = await admin.unsafe(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`%"${schema}".conversations%`],
        );
        if (row!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await claimer`COMMIT`;
      expect(await put).toBe("ERR_FENCED");
      const [count] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".conversations`);
      expect(count!.n).toBe(0);
    } finally {
      await claimer.end();
    }
  });

  it("answers a page with an index scan of (app_id, last_activity, name), not a sort of the app's rows", async () => {
    for (let i = 0; i < 200; i++) {
      const name = `plan/u/${Buffer.from(`p${i}`).toString("base64url")}`;
      await storage.conversationIndex.put(name, summary(`p${i}`, 1000 + (i % 50)), await storage.claim(name));
    }
    await admin.unsafe(`ANALYZE "${schema}".conversations`);
    const plan = await admin.unsafe<Array<{ "QUERY PLAN": string }>>(
      `EXPLAIN SELECT name, summary FROM "${schema}".conversations
       WHERE app_id = 'plan' AND last_activity IS NOT NULL AND (last_activity, name) < (1030::float8, 'plan/u/x'::text)
       ORDER BY last_activity DESC, name DESC LIMIT 51`,
    );
    const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index (Only )?Scan using conversations_by_activity/);
    expect(text).not.toMatch(/Sort/);
    const page = await storage.conversationIndex.page("plan", "user", { limit: 5 });
    expect(page.entries.map((entry) => entry.summary.lastActivity)).toEqual([1049, 1049, 1049, 1049, 1048]);
  });
});
