// What the webhook outbox adds to the group-commit append statement: the same batch of 100 appends (one per
// room, 100 bytes each) sent back to back through the statement without the outbox CTE (as before schema
// version 4), with it and no deliveries (a relay without webhooks), and with one delivery per append (each
// update a `message.created` of ~300 bytes). Interleaved rounds; reports median ms per statement.
//   node bench/outbox-overhead.mjs [seconds per variant per round] [rounds]
import postgres from "postgres";
import { PostgresStorage } from "../dist/index.js";

const URL = process.env.PARLEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 3);
const ROOMS = 100;
const schema = `parley_bench_outbox_${process.pid}`;
const s = `"${schema}"`;

const before = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS t(name, fence, bytes, ord)
  ), counts AS (
    SELECT name, fence, count(*) AS n FROM input GROUP BY name, fence
  ), bumped AS (
    UPDATE ${s}.rooms r SET last_seq = r.last_seq + c.n, stored = true
    FROM counts c WHERE r.name = c.name AND r.epoch = c.fence
    RETURNING r.name, r.epoch, r.last_seq - c.n AS base
  ), inserted AS (
    INSERT INTO ${s}.updates (room, seq, bytes)
    SELECT i.name, b.base + row_number() OVER (PARTITION BY i.name ORDER BY i.ord), i.bytes
    FROM input i JOIN bumped b ON b.name = i.name AND b.epoch = i.fence
  )
  SELECT name, epoch FROM bumped`;
const after = before.replace(
  "SELECT name, epoch FROM bumped",
  `, outboxed AS (
    INSERT INTO ${s}.webhook_outbox (id, app_id, url, event_id, body)
    SELECT o.id, o.app_id, o.url, o.event_id, o.body
    FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
      AS o(ord, id, app_id, url, event_id, body)
    JOIN input i ON i.ord = o.ord JOIN bumped b ON b.name = i.name AND b.epoch = i.fence
  )
  SELECT name, epoch FROM bumped`,
);

const storage = new PostgresStorage({ url: URL, schema });
await storage.ready();
const names = Array.from({ length: ROOMS }, (_, i) => `bench/${i}`);
const fences = await Promise.all(names.map((name) => storage.claim(name)));
await storage.close();
const sql = postgres(URL, { max: 1, onnotice: () => {} });
const updates = names.map((_, i) => Buffer.alloc(100, i));
let next = 0;
const body = JSON.stringify({ type: "message.created", data: { message: { text: "x".repeat(200) } } });

const variants = {
  "before (no outbox CTE)": () => sql.unsafe(before, [names, fences, updates], { prepare: true }),
  "outbox, no deliveries": () => sql.unsafe(after, [names, fences, updates, [], [], [], [], [], []], { prepare: true }),
  "outbox, 1 delivery per append": () => {
    const ids = names.map(() => `dlv_${next++}`);
    return sql.unsafe(
      after,
      [
        names,
        fences,
        updates,
        names.map((_, i) => i + 1),
        ids,
        names.map(() => "app"),
        names.map(() => "http://h"),
        ids,
        names.map(() => body),
      ],
      { prepare: true },
    );
  },
};

const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const start = performance.now();
      await run();
      times[name].push(performance.now() - start);
    }
  }
}
for (const [name, list] of Object.entries(times)) {
  list.sort((a, b) => a - b);
  const at = (q) => list[Math.floor(q * (list.length - 1))].toFixed(2);
  console.log(`${name.padEnd(32)} statements ${String(list.length).padStart(5)}  p50 ${at(0.5)} ms  p90 ${at(0.9)} ms`);
}
await sql.unsafe(`DROP SCHEMA ${s} CASCADE`);
await sql.end();
