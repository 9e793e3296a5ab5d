// Throughput: many conversations × 2 clients, each client sending to the other as fast as the server delivers
// (a closed loop: at most `window` of a client's messages in flight). Measures delivered messages per second,
// latency under load, and the server's CPU per delivered message — during the load, and including the
// persistence work the load left behind (debounced stores, compaction) until the server went quiet.
// Every target is loaded in turn, in rounds whose order rotates, so a noisy moment hits them all alike.
import { openClient } from "../clients.mjs";
import { waitForQuiet } from "../server-process.mjs";
import { sleep, summarize } from "../stats.mjs";

/**
 * @typedef {object} Load
 * @property {import("../run.mjs").StartedTarget} running
 * @property {Array<import("../clients.mjs").ConversationClient>} clients
 * @property {(ms: number) => Promise<{ delivered: number, seconds: number, cpuAtEnd: number,
 *   partsAtEnd: number[] | undefined }>} run Loads the server for `ms`; `cpuAtEnd` is the server's CPU time when
 *   the load stopped, `partsAtEnd` each process's (a target of several).
 * @property {number[]} latencies
 */

/**
 * @param {import("../run.mjs").Context} context
 */
export async function throughput({ targets, startTarget, size, log }) {
  /** @type {Record<string, any>} */
  const results = {};
  /** @type {Map<string, Load>} */
  const loads = new Map();
  for (const target of targets) {
    try {
      const running = await startTarget(target);
      const load = await prepare(running, size);
      loads.set(target.id, load);
      results[target.id] = {
        rooms: size.throughputRooms,
        clients: 2 * size.throughputRooms,
        ...(await pipedClients(load)),
        seconds: 0,
        delivered: 0,
        cpuWindowNanos: 0,
        cpuWithStoresNanos: 0,
        wentQuiet: true,
      };
    } catch (error) {
      results[target.id] = { error: String(error) };
      log(`throughput ${target.id}: ${String(error)}`);
    }
  }

  const ids = [...loads.keys()];
  const windowMs = size.throughputMs / size.throughputRounds;
  for (let round = 0; round < size.throughputRounds; round++) {
    for (let k = 0; k < ids.length; k++) {
      const id = /** @type {string} */ (ids[(round + k) % ids.length]);
      const load = /** @type {Load} */ (loads.get(id));
      const { server } = load.running;
      await waitForQuiet(server, { quietMs: 1_000 * size.quietScale, timeoutMs: 10_000 });
      const database = load.running.database;
      const dbStart = await database?.cpuNanos();
      const cpuStart = server.cpuNanos();
      const partsStart = server.parts?.map((part) => part.cpuNanos());
      const { delivered, seconds, cpuAtEnd, partsAtEnd: partsEnd } = await load.run(windowMs);
      const cpuWindow = cpuAtEnd - cpuStart;
      const quiet = await waitForQuiet(server, { quietMs: 2_500 * size.quietScale, timeoutMs: 30_000 });
      const result = results[id];
      result.delivered += delivered;
      result.seconds += seconds;
      result.cpuWindowNanos += cpuWindow;
      result.cpuWithStoresNanos += server.cpuNanos() - cpuStart;
      result.wentQuiet &&= quiet;
      const dbEnd = await database?.cpuNanos();
      if (typeof dbStart === "number" && typeof dbEnd === "number") {
        // The database's CPU, from the window's start until the relay went quiet (its commits included).
        result.dbCpuNanos = (result.dbCpuNanos ?? 0) + dbEnd - dbStart;
      }
      if (partsStart !== undefined && partsEnd !== undefined) {
        // Each node's CPU in the window (their sum is cpuWindowNanos, give or take the moments between reads).
        result.cpuWindowNanosByNode ??= partsStart.map(() => 0);
        partsEnd.forEach((end, i) => {
          result.cpuWindowNanosByNode[i] += end - (partsStart[i] ?? end);
        });
      }
    }
  }

  for (const [id, load] of loads) {
    const result = results[id];
    result.deliveredPerSecond = result.delivered / result.seconds;
    result.latency = summarize(load.latencies);
    result.cpuPerMessageUs = result.cpuWindowNanos / 1e3 / Math.max(1, result.delivered);
    result.cpuPerMessageWithStoresUs = result.cpuWithStoresNanos / 1e3 / Math.max(1, result.delivered);
    if (result.dbCpuNanos !== undefined) {
      result.dbCpuPerMessageUs = result.dbCpuNanos / 1e3 / Math.max(1, result.delivered);
    }
    result.closedEarly = load.clients.filter((client) => client.connection.closed !== null).length;
    await Promise.all(load.clients.map((client) => client.close()));
    await load.running.stop();
    log(
      `throughput ${id}: ${result.deliveredPerSecond.toFixed(0)} msg/s, ` +
        `${result.cpuPerMessageUs.toFixed(1)} µs CPU/msg (${result.cpuPerMessageWithStoresUs.toFixed(1)} with stores)`,
    );
  }
  return results;
}

/**
 * Opens the clients of every conversation and wires the closed loop; nothing is sent until `run`. `openPair`
 * opens a conversation's two clients (by default both at once, on whichever node the target picks).
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../run.mjs").Size} size
 * @param {{ rooms?: number, openPair?: (room: number) => Promise<import("../clients.mjs").ConversationClient[]> }}
 *   [options]
 * @returns {Promise<Load>}
 */
export async function prepare(running, size, options = {}) {
  const rooms = options.rooms ?? size.throughputRooms;
  const openPair =
    options.openPair ??
    ((/** @type {number} */ room) =>
      Promise.all([openClient(running, `throughput-${room}`), openClient(running, `throughput-${room}`)]));
  /** @type {Array<import("../clients.mjs").ConversationClient>} */
  const clients = [];
  for (let room = 0; room < rooms; room += 10) {
    const batch = [];
    for (let r = room; r < Math.min(room + 10, rooms); r++) batch.push(openPair(r));
    clients.push(...(await Promise.all(batch)).flat());
  }

  /** @typedef {{ client: import("../clients.mjs").ConversationClient, pending: number, pump: () => void }} Sender */
  /** @type {Map<string, { at: number, sender: Sender }>} */
  const inFlight = new Map();
  let sending = false;
  let end = 0;
  let delivered = 0;
  /** @type {number[]} */
  const latencies = [];
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

  return {
    running,
    clients,
    latencies,
    async run(ms) {
      delivered = 0;
      const start = performance.now();
      end = start + ms;
      sending = true;
      for (const sender of senders) sender.pump();
      await sleep(ms);
      sending = false;
      const cpuAtEnd = running.server.cpuNanos();
      const partsAtEnd = running.server.parts?.map((part) => part.cpuNanos());
      const seconds = (performance.now() - start) / 1000;
      // Let what is in flight arrive (uncounted) so the next window starts from an idle loop.
      const deadline = Date.now() + 10_000;
      while (inFlight.size > 0 && Date.now() < deadline) await sleep(20);
      for (const sender of senders) sender.pending = 0;
      inFlight.clear();
      return { delivered, seconds, cpuAtEnd, partsAtEnd };
    },
  };
}

/**
 * On a cluster: how many clients reached a node other than their room's owner (so are piped), from the leases.
 * @param {Load} load
 * @returns {Promise<{ pipedClients?: number }>}
 */
async function pipedClients({ running, clients }) {
  const ports = running.server.parts?.map((part) => part.port);
  if (ports === undefined || running.owners === undefined) return {};
  const owners = await running.owners(clients.map((client) => client.connection.endpoint.documentName));
  const piped = clients.filter(
    (client, i) => ports.indexOf(Number(new URL(client.connection.endpoint.url).port)) !== owners[i],
  );
  return { pipedClients: piped.length };
}
