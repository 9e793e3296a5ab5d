// Throughput: many conversations × 2 clients, each client sending to the other as fast as the server delivers
// (a closed loop: at most `window` of a client's messages in flight). Measures delivered messages per second,
// latency under load, and the server's CPU per delivered message — during the window, and including the
// persistence work the window left behind (debounced stores, compaction) until the server goes quiet.
import { openClient } from "../clients.mjs";
import { waitForQuiet } from "../server-process.mjs";
import { sleep, summarize } from "../stats.mjs";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function throughput({ targets, startTarget, size, log }) {
  /** @type {Record<string, unknown>} */
  const results = {};
  for (const target of targets) {
    const running = await startTarget(target);
    try {
      results[target.id] = await measure(running, size);
      const r = /** @type {{ deliveredPerSecond: number, cpuPerMessageUs: number }} */ (results[target.id]);
      log(
        `throughput ${target.id}: ${r.deliveredPerSecond.toFixed(0)} msg/s, ${r.cpuPerMessageUs.toFixed(1)} µs CPU/msg`,
      );
    } catch (error) {
      results[target.id] = { error: String(error) };
      log(`throughput ${target.id}: ${String(error)}`);
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
  /** @type {Array<import("../clients.mjs").ConversationClient>} */
  const clients = [];
  for (let room = 0; room < size.throughputRooms; room += 10) {
    const batch = [];
    for (let r = room; r < Math.min(room + 10, size.throughputRooms); r++) {
      batch.push(openClient(running, `throughput-${r}`), openClient(running, `throughput-${r}`));
    }
    clients.push(...(await Promise.all(batch)));
  }

  /** @type {Map<string, { at: number, sender: Sender }>} */
  const inFlight = new Map();
  let sending = false;
  let end = 0;
  let delivered = 0;
  /** @type {number[]} */
  const latencies = [];

  /** @typedef {{ client: import("../clients.mjs").ConversationClient, pending: number, pump: () => void }} Sender */
  /** @type {Sender[]} */
  const senders = clients.map((client) => {
    /** @type {Sender} */
    const sender = {
      client,
      pending: 0,
      pump() {
        while (sending && sender.pending < size.throughputWindow) {
          sender.pending += 1;
          inFlight.set(client.send(), { at: performance.now(), sender });
        }
      },
    };
    return sender;
  });
  for (const { client } of senders) {
    client.onRemoteMessage((id) => {
      const sent = inFlight.get(id);
      if (sent === undefined) return;
      inFlight.delete(id);
      const now = performance.now();
      if (now <= end) {
        delivered += 1;
        latencies.push(now - sent.at);
      }
      sent.sender.pending -= 1;
      if (sending) queueMicrotask(() => sent.sender.pump());
    });
  }

  await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 10_000 });
  const cpuStart = server.cpuNanos();
  const start = performance.now();
  end = start + size.throughputMs;
  sending = true;
  for (const sender of senders) sender.pump();
  await sleep(size.throughputMs);
  sending = false;
  const cpuWindow = server.cpuNanos() - cpuStart;
  const elapsed = performance.now() - start;
  const drainDeadline = Date.now() + 10_000;
  while (inFlight.size > 0 && Date.now() < drainDeadline) await sleep(50);
  const undelivered = inFlight.size;
  const quiet = await waitForQuiet(server, { quietMs: 2_500 * size.quietScale, timeoutMs: 30_000 });
  const cpuTotal = server.cpuNanos() - cpuStart;
  const closedEarly = clients.filter((client) => client.connection.closed !== null).length;
  await Promise.all(clients.map((client) => client.close()));
  return {
    rooms: size.throughputRooms,
    clients: clients.length,
    seconds: elapsed / 1000,
    delivered,
    deliveredPerSecond: delivered / (elapsed / 1000),
    latency: summarize(latencies),
    cpuWindowMs: cpuWindow / 1e6,
    cpuPerMessageUs: cpuWindow / 1e3 / Math.max(1, delivered),
    cpuWithStoresMs: cpuTotal / 1e6,
    cpuPerMessageWithStoresUs: cpuTotal / 1e3 / Math.max(1, delivered),
    wentQuiet: quiet,
    undelivered,
    closedEarly,
  };
}
