/**
 * A writer paused past its lease writes nothing after another took the room: the child process below is
 * SIGSTOPped while appending, its lease runs out, this process acquires the room and appends, and the child,
 * SIGCONTed, is refused. The room's sequence has no gap and no duplicate, and every ack the child printed
 * is stored, before every row of the new owner.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Sql } from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

const FIXTURE = fileURLToPath(new URL("./fenced-writer.fixture.mjs", import.meta.url));
const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const ROOM = "app/fenced";
const LEASE_MS = 1_500;

let admin: Sql;
const schema = uniqueSchema();
let storage: PostgresStorage;
let child: ChildProcess | undefined;

beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error("build @parley/relay-postgres first (pnpm build): the child runs dist/");
  admin = await adminConnection();
  storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
  await storage.ready();
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
  await storage?.close();
  if (admin) {
    await dropSchema(admin, schema);
    await admin.end();
  }
});

/** Collects the child's stdout lines and lets the test wait for one matching a pattern. */
function lines(process: ChildProcess) {
  const seen: string[] = [];
  const waiters: Array<{ test: (line: string) => boolean; resolve: () => void }> = [];
  let rest = "";
  process.stdout!.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      seen.push(line);
      for (const waiter of waiters.filter((w) => w.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  return {
    seen,
    waitFor: (test: (line: string) => boolean) =>
      seen.some(test) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ test, resolve })),
  };
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 50));
}

it("a writer SIGSTOPped past its lease and SIGCONTed after another owner took over writes nothing", async () => {
  child = spawn(process.execPath, [FIXTURE, TEST_POSTGRES_URL, schema, ROOM, String(LEASE_MS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const output = lines(child);
  const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
  await output.waitFor((line) => line === "acked 20");
  child.kill("SIGSTOP");
  const childFence = Number(output.seen.find((line) => line.startsWith("fence "))!.split(" ")[1]);

  // The child holds the lease until it runs out on the server's clock; then this process takes the room.
  expect(await storage.ownership.acquire(ROOM, "parent", 60_000)).toBeNull();
  await until(async () => (await storage.ownership.owner(ROOM)) === null);
  const lease = (await storage.ownership.acquire(ROOM, "parent", 60_000))!;
  expect(lease.fence).toBeGreaterThan(childFence);
  for (let i = 0; i < 10; i++) await storage.append(ROOM, new TextEncoder().encode(`parent:${i}`), lease.fence);

  child.kill("SIGCONT");
  expect(await exited).toBe(0);
  expect(output.seen.at(-1)).toMatch(/^refused \d+ ERR_FENCED$/);

  const rows = await admin.unsafe<Array<{ seq: number; bytes: Buffer }>>(
    `SELECT seq::int, bytes FROM "${schema}".updates WHERE room = $1 ORDER BY seq`,
    [ROOM],
  );
  const payloads = rows.map((row) => row.bytes.toString());
  // No gap, no duplicate.
  expect(rows.map((row) => row.seq)).toEqual(rows.map((_, i) => i + 1));
  const childRows = payloads.filter((payload) => payload.startsWith("child:"));
  const parentRows = payloads.filter((payload) => payload.startsWith("parent:"));
  // The child's rows are its appends in order, all before the new owner's; nothing of it after the takeover.
  expect(childRows).toEqual(childRows.map((_, i) => `child:${i}`));
  expect(parentRows).toEqual(Array.from({ length: 10 }, (_, i) => `parent:${i}`));
  expect(payloads).toEqual([...childRows, ...parentRows]);
  // Every append the child saw acknowledged is stored.
  const acked = output.seen.filter((line) => line.startsWith("acked ")).map((line) => Number(line.split(" ")[1]));
  expect(childRows.length).toBeGreaterThanOrEqual(Math.max(...acked) + 1);
});
