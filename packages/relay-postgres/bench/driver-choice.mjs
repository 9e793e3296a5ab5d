// Picks the driver: the same group-commit statement (one round trip per tick, across rooms) through `postgres`
// (porsager) and `pg`, at 1 and 100 concurrent rooms on 127.0.0.1. Run: node bench/driver-choice.mjs [seconds]
import pg from "pg";
import postgres from "postgres";

const URL = process.env.PARLEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SECONDS = Number(process.argv[2] ?? 3);
const SCHEMA = `parley_bench_${process.pid}`;
const BATCH = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS t(name, fence, bytes, ord)
), counts AS (
  SELECT name, fence, count(*) AS n FROM input GROUP BY name, fence
), bumped AS (
  UPDATE ${SCHEMA}.rooms r SET last_seq = r.last_seq + c.n FROM counts c
  WHERE r.name = c.name AND r.epoch = c.fence RETURNING r.name, r.epoch, r.last_seq - c.n AS base
), inserted AS (
  INSERT INTO ${SCHEMA}.updates (room, seq, bytes)
  SELECT i.name, b.base + row_number() OVER (PARTITION BY i.name ORDER BY i.ord), i.bytes
  FROM input i JOIN bumped b ON b.name = i.name AND b.epoch = i.fence
)
SELECT name, base FROM bumped`;

const drivers = {
  postgres: () => {
    const sql = postgres(URL, { max: 1, onnotice: () => {} });
    return {
      run: (names, fences, bytes) => sql.unsafe(BATCH, [names, fences, bytes], { prepare: true }),
      end: () => sql.end(),
    };
  },
  pg: () => {
    const client = new pg.Client({ connectionString: URL });
    const ready = client.connect();
    return {
      run: async (names, fences, bytes) => {
        await ready;
        return (await client.query({ name: "batch", text: BATCH, values: [names, fences, bytes] })).rows;
      },
      end: () => client.end(),
    };
  },
};

/** Group commit: appends issued in one tick go in one statement; one statement in flight at a time. */
function groupCommit(driver) {
  let queue = [];
  let running = false;
  const flush = async () => {
    if (running || queue.length === 0) return;
    running = true;
    const batch = queue;
    queue = [];
    try {
      await driver.run(
        batch.map((a) => a.name),
        batch.map((a) => a.fence),
        batch.map((a) => a.bytes),
      );
      for (const a of batch) a.resolve();
    } catch (error) {
      for (const a of batch) a.reject(error);
    }
    running = false;
    setImmediate(flush);
  };
  return (name, fence, bytes) =>
    new Promise((resolve, reject) => {
      queue.push({ name, fence, bytes, resolve, reject });
      if (queue.length === 1) setImmediate(flush);
    });
}

async function measure(name, rooms) {
  const admin = postgres(URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DELETE FROM ${SCHEMA}.updates; UPDATE ${SCHEMA}.rooms SET last_seq = 0`);
  await admin.end();
  const driver = drivers[name]();
  const append = groupCommit(driver);
  await append("room-0", 1, Buffer.alloc(100)); // connect and prepare outside the timing
  const latencies = [];
  const end = performance.now() + SECONDS * 1000;
  const writer = async (i) => {
    const bytes = Buffer.alloc(100, i);
    while (performance.now() < end) {
      const start = performance.now();
      await append(`room-${i}`, 1, bytes);
      latencies.push(performance.now() - start);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: rooms }, (_, i) => writer(i)));
  const elapsed = (performance.now() - started) / 1000;
  await driver.end();
  const check = postgres(URL, { max: 1, onnotice: () => {} });
  const [{ count }] = await check.unsafe(`SELECT count(*)::int AS count FROM ${SCHEMA}.updates`);
  await check.end();
  if (count !== latencies.length + 1) throw new Error(`stored ${count} rows for ${latencies.length + 1} appends`);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  return { driver: name, rooms, appendsPerS: Math.round(latencies.length / elapsed), p50ms: at(0.5), p99ms: at(0.99) };
}

const admin = postgres(URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE SCHEMA ${SCHEMA};
  CREATE TABLE ${SCHEMA}.rooms (name text COLLATE "C" PRIMARY KEY, epoch bigint NOT NULL, last_seq bigint NOT NULL);
  CREATE TABLE ${SCHEMA}.updates (room text COLLATE "C", seq bigint, bytes bytea NOT NULL, PRIMARY KEY (room, seq));
  INSERT INTO ${SCHEMA}.rooms SELECT 'room-' || i, 1, 0 FROM generate_series(0, 99) i;`);
try {
  const results = [];
  for (const rooms of [1, 100])
    for (const name of ["postgres", "pg", "pg", "postgres", "postgres", "pg"]) results.push(await measure(name, rooms));
  console.table(results);
} finally {
  await admin.unsafe(`DROP SCHEMA ${SCHEMA} CASCADE`);
  await admin.end();
}
