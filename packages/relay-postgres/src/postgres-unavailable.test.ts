/**
 * PostgreSQL stalled or failing means no acks. The stall is made without touching the shared server: another
 * session holds the room row's lock, so the append statement waits in PostgreSQL exactly as it would behind
 * a paused server. Its failure is `pg_terminate_backend` on the backend running the append.
 */
import { StorageError } from "@parley/protocol";
import type { Sql } from "postgres";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

const bytes = (...values: number[]) => new Uint8Array(values);
let admin: Sql;
let locker: Sql;
const schema = uniqueSchema();
let storage: PostgresStorage;

beforeAll(async () => {
  admin = await adminConnection();
  locker = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
  storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
  await storage.ready();
});

afterEach(async () => {
  await locker`ROLLBACK`.catch(() => {});
});

afterAll(async () => {
  await storage?.close();
  await locker?.end();
  if (admin) {
    await dropSchema(admin, schema);
    await admin.end();
  }
});

/** Holds the row lock of `name` in an open transaction of the `locker` connection. */
async function lockRoom(name: string): Promise<void> {
  await locker`BEGIN`;
  await locker.unsafe(`SELECT 1 FROM "${schema}".rooms WHERE name = $1 FOR UPDATE`, [name]);
}

/** The pid of the backend whose append statement waits on a lock; polls until there is one. */
async function blockedAppend(): Promise<number> {
  for (;;) {
    const rows = await admin.unsafe<Array<{ pid: number }>>(
      `SELECT pid FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%unnest%' AND query LIKE $1`,
      [`%"${schema}".rooms%`],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function track(promise: Promise<void>) {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

it("acknowledges no append while PostgreSQL cannot commit it, and every one once it can", async () => {
  const stalled = "app/stalled";
  const other = "app/other";
  const fence = await storage.claim(stalled);
  const otherFence = await storage.claim(other);
  await lockRoom(stalled);
  const first = track(storage.append(stalled, bytes(1), fence));
  await blockedAppend();
  // Queued behind the stalled statement: a later append (another room too) is not acknowledged either.
  const second = track(storage.append(other, bytes(2), otherFence));
  await new Promise((resolve) => setImmediate(resolve));
  expect(first.settled).toBe(false);
  expect(second.settled).toBe(false);
  expect(await storage.load(stalled)).toEqual([]);

  await locker`COMMIT`;
  await Promise.all([first.promise, second.promise]);
  expect(await storage.load(stalled)).toEqual([bytes(1)]);
  expect(await storage.load(other)).toEqual([bytes(2)]);
});

it("rejects an append whose backend is killed mid-statement, stores nothing of it, and writes again after", async () => {
  const name = "app/killed";
  const fence = await storage.claim(name);
  await lockRoom(name);
  const write = track(storage.append(name, bytes(1), fence));
  const pid = await blockedAppend();
  await admin`SELECT pg_terminate_backend(${pid})`;
  await expect(write.promise).rejects.toBeInstanceOf(StorageError);
  await locker`COMMIT`;
  expect(await storage.load(name)).toEqual([]);
  await storage.append(name, bytes(2), fence);
  expect(await storage.load(name)).toEqual([bytes(2)]);
});
