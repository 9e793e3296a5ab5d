/**
 * PostgresStorage against the relay's storage conformance suite (@parley/relay/testing), each case on a
 * fresh schema. The crash case cuts a compaction two ways: the writer process SIGKILLed while its statement
 * waits in PostgreSQL (the statement then commits without it), and the statement's backend terminated
 * (it rolls back).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { type CompactionCrasher, describeRelayStorage } from "@parley/relay/testing";
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

const FIXTURE = fileURLToPath(new URL("./compacting-writer.fixture.mjs", import.meta.url));
let admin: Sql;

beforeAll(async () => {
  admin = await adminConnection();
});

afterAll(async () => {
  await admin?.end();
});

/** Opens a session holding the room row's lock (in an open transaction), so that a compaction waits. */
async function lockRow(schema: string, name: string): Promise<Sql> {
  const locker = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
  await locker`BEGIN`;
  await locker.unsafe(`SELECT 1 FROM "${schema}".rooms WHERE name = $1 FOR UPDATE`, [name]);
  return locker;
}

/** The pid of the backend whose compaction statement waits for a lock; polls until there is one. */
async function waitingCompaction(schema: string): Promise<number> {
  for (;;) {
    const rows = await admin.unsafe<Array<{ pid: number }>>(
      `SELECT pid FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE $1 AND query LIKE '%snapshot_seq = last_seq%'`,
      [`%"${schema}".rooms%`],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function release(locker: Sql): Promise<void> {
  await locker`COMMIT`;
  await locker.end();
}

function crasher(schema: string): CompactionCrasher {
  return {
    points: ["writer SIGKILLed while its statement waits", "statement's backend terminated"],
    async compactAndCrash(name, snapshot, point) {
      if (point === "statement's backend terminated") {
        const storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
        const fence = await storage.claim(name);
        await storage.load(name);
        const locker = await lockRow(schema, name);
        const compaction = storage.compact(name, snapshot, fence).catch((error: unknown) => error);
        await admin`SELECT pg_terminate_backend(${await waitingCompaction(schema)})`;
        await compaction;
        await release(locker);
        await storage.close();
        return;
      }
      const hex = Buffer.from(snapshot).toString("hex");
      const child = spawn(process.execPath, [FIXTURE, TEST_POSTGRES_URL, schema, name, hex], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      const exited = once(child, "exit");
      await once(child.stdout!, "data");
      const locker = await lockRow(schema, name);
      child.stdin!.write("go\n");
      await waitingCompaction(schema);
      child.kill("SIGKILL");
      await exited;
      await release(locker);
    },
  };
}

describeRelayStorage(
  { describe, it },
  "PostgresStorage",
  () => {
    const schema = uniqueSchema();
    const opened: PostgresStorage[] = [];
    return {
      open() {
        const storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
        opened.push(storage);
        return storage;
      },
      crasher: crasher(schema),
      async dispose() {
        await Promise.all(opened.map((storage) => storage.close()));
        await dropSchema(admin, schema);
      },
    };
  },
  { crashes: true },
);
