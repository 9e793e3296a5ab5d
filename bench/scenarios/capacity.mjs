// Capacity: idle authenticated connections, each in its own conversation — first a smaller batch, then up to the
// larger total. Server memory per connection (VmRSS growth over the server's idle baseline, divided by the
// connections open), the time to open them all (each one through its first sync) and the server's CPU per connection
// opened (from the start of a batch until the server is quiet again).
import { closeAll, openIdle } from "../clients.mjs";
import { waitForQuiet } from "../server-process.mjs";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function capacity({ targets, startTarget, size, log }) {
  /** @type {Record<string, unknown>} */
  const results = {};
  for (const target of targets) {
    const running = await startTarget(target);
    try {
      results[target.id] = await measure(running, size);
      log(`capacity ${target.id}: ${JSON.stringify(results[target.id])}`);
    } catch (error) {
      results[target.id] = { error: String(error) };
      log(`capacity ${target.id}: ${String(error)}`);
    } finally {
      await running.stop();
    }
  }
  return results;
}

/**
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../run.mjs").Size} size
 */
async function measure(running, size) {
  const { server } = running;
  // One round trip first, so lazily loaded code (auth, storage) is in the baseline, not in the per-connection cost.
  const warm = await openIdle(running, 5, "capacity-warm");
  await closeAll(warm.connections);
  await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 10_000 });
  const baseline = server.rssBytes();
  /** @type {Array<Record<string, number | string>>} */
  const steps = [];
  /** @type {import("../connection.mjs").SyncConnection[]} */
  const open = [];
  let totalSeconds = 0;
  for (const total of size.capacitySteps) {
    const started = performance.now();
    const cpuBefore = server.cpuNanos();
    const batch = await openIdle(running, total - open.length, `capacity-${total}`, {
      deadline: Date.now() + size.capacityTimeoutMs,
    });
    const seconds = (performance.now() - started) / 1000;
    totalSeconds += seconds;
    open.push(...batch.connections);
    await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 15_000 });
    // Until quiet: what the joins set off after their first sync (client records, acks) is theirs too.
    const batchCpuNanos = server.cpuNanos() - cpuBefore;
    const rss = server.rssBytes();
    const stillOpen = open.filter((connection) => connection.closed === null).length;
    steps.push({
      connections: total,
      opened: open.length,
      failures: batch.failures,
      firstError: batch.firstError,
      stillOpen,
      batchOpenSeconds: seconds,
      cpuMicrosPerConnection: batchCpuNanos / 1000 / Math.max(1, batch.connections.length),
      openSeconds: totalSeconds,
      rssBytes: rss,
      bytesPerConnection: (rss - baseline) / Math.max(1, open.length),
    });
  }
  await closeAll(open);
  return { baselineRssBytes: baseline, steps };
}
