// Group commit through PostgresStorage itself: N rooms each appending 100-byte updates back to back for a
// few seconds; reports appends/s, latency and appends per statement. Run after `pnpm build`:
//   node bench/group-commit.mjs [seconds]
import postgres from "postgres";
import { PostgresStorage } from "../dist/index.js";

const URL = process.env.PARLEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SECONDS = Number(process.argv[2] ?? 3);
const schema = `parley_bench_${process.pid}`;

async function measure(rooms) {
  const storage = new PostgresStorage({ url: URL, schema });
  const names = Array.from({ length: rooms }, (_, i) => `bench/${rooms}-${i}`);
  const fences = await Promise.all(names.map((name) => storage.claim(name)));
  const latencies = [];
  const end = performance.now() + SECONDS * 1000;
  const before = storage.stats;
  const started = performance.now();
  await Promise.all(
    names.map(async (name, i) => {
      const update = new Uint8Array(100).fill(i);
      while (performance.now() < end) {
        const start = performance.now();
        await storage.append(name, update, fences[i]);
        latencies.push(performance.now() - start);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const after = storage.stats;
  await storage.close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  return {
    rooms,
    appendsPerS: Math.round(latencies.length / elapsed),
    p50ms: at(0.5),
    p99ms: at(0.99),
    appendsPerStatement: ((after.appends - before.appends) / (after.appendBatches - before.appendBatches)).toFixed(1),
  };
}

try {
  const results = [];
  for (const rooms of [1, 100, 1, 100]) results.push(await measure(rooms));
  console.table(results);
} finally {
  const admin = postgres(URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
