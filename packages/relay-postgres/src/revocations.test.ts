/**
 * The revocations' SQL on a real PostgreSQL: the relay's RevocationStore conformance suite (the first claim of a
 * room wins and every node sees it, a merge into another user gets the earlier merge back, claims racing from
 * two storages with their own connection pools agree on one winner, bad arguments store nothing), then what only
 * SQL shows: one row per revoked room, never rewritten by a later claim.
 */
import { roomName } from "@parley/protocol";
import { describeRevocationStore } from "@parley/relay/testing";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

let admin: Sql;
const schema = uniqueSchema();
let nodeA: PostgresStorage;
let nodeB: PostgresStorage;

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

it("keeps one row per revoked room with the first claim's userId, which later claims do not rewrite", async () => {
  const room = roomName({ appId: "app", kind: "anonymous", subject: "rowsrowsrowsrowsrows01" });
  await Promise.all([nodeA.revocations.claim(room, "ada"), nodeB.revocations.claim(room, "bob")]);
  const [first] = await admin.unsafe(`SELECT merged_into, revoked_at FROM "${schema}".revocations WHERE room = $1`, [
    room,
  ]);
  await nodeB.revocations.claim(room);
  const rows = await admin.unsafe(`SELECT merged_into, revoked_at FROM "${schema}".revocations WHERE room = $1`, [
    room,
  ]);
  expect(rows).toHaveLength(1);
  expect(["ada", "bob"]).toContain(rows[0]?.merged_into);
  expect(rows[0]).toEqual(first);
});

describeRevocationStore({ describe, it }, "PostgresStorage", () => {
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
