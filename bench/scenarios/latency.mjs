// Latency: one conversation, two clients of one user; one message at a time from A, time until B has it.
// Every target runs at once and the samples are taken in rounds that rotate through the targets, so a noisy
// moment on the machine hits them all alike. Then again with idle connections open in other conversations.
import { closeAll, oneWayLatency, openClient, openIdle } from "../clients.mjs";
import { summarize } from "../stats.mjs";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function latency({ targets, startTarget, size, log }) {
  /** @type {Map<string, import("../run.mjs").StartedTarget>} */
  const started = new Map();
  for (const target of targets) started.set(target.id, await startTarget(target));
  const rounds = size.latencyRounds;
  const perRound = Math.ceil(size.latencySamples / rounds);
  const clients = new Map();
  for (const [id, target] of started) {
    const a = await openClient(target, "latency-user");
    const b = await openClient(target, "latency-user");
    await oneWayLatency(a, b, size.latencyWarmup);
    clients.set(id, { a, b });
  }

  /** @param {string} label */
  const measure = async (label) => {
    /** @type {Map<string, { samples: number[], lost: number }>} */
    const collected = new Map([...started.keys()].map((id) => [id, { samples: [], lost: 0 }]));
    const ids = [...started.keys()];
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < ids.length; k++) {
        const id = /** @type {string} */ (ids[(round + k) % ids.length]);
        const { a, b } = clients.get(id);
        const { samples, lost } = await oneWayLatency(a, b, perRound);
        const into = /** @type {{ samples: number[], lost: number }} */ (collected.get(id));
        into.samples.push(...samples);
        into.lost += lost;
      }
    }
    log(
      `latency ${label}: ${ids.map((id) => `${id} p50 ${summarize(collected.get(id)?.samples ?? []).p50.toFixed(3)} ms`).join(", ")}`,
    );
    return collected;
  };

  const quiet = await measure("quiet");
  const idle = new Map();
  for (const [id, target] of started) {
    idle.set(id, await openIdle(target, size.latencyIdle, "latency-idle"));
  }
  const busy = await measure(`with ${size.latencyIdle} idle connections`);

  /** @type {Record<string, unknown>} */
  const results = {};
  for (const [id, { a, b }] of clients) {
    const opened = idle.get(id);
    const quietSamples = quiet.get(id);
    const busySamples = busy.get(id);
    results[id] = {
      quiet: { ...summarize(quietSamples?.samples ?? []), lost: quietSamples?.lost ?? 0 },
      withIdle: {
        ...summarize(busySamples?.samples ?? []),
        lost: busySamples?.lost ?? 0,
        idleConnections: opened.connections.length,
        idleFailures: opened.failures,
      },
    };
    await a.close();
    await b.close();
    await closeAll(opened.connections);
  }
  for (const target of started.values()) await target.stop();
  return results;
}
