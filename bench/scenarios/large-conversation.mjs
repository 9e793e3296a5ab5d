// Large conversation: one conversation of `largeMessages` messages on every target.
// - stored bytes per message (what the target has on disk at the end, once it went quiet; encoded size for
//   reference). The history reaches Parley through its storage (see history.mjs), the peers through a connection;
// - a new client: time until it can show the newest 50 messages, and until its first sync is complete — with
//   the document in the server's memory (warm, rounds rotating through the targets) and, for the targets
//   that store documents, right after a restart (cold);
// - appending to the long conversation against appending to a short one: one-way latency and server CPU per
//   message, in alternating blocks.
import { messagesOf } from "@parley/protocol";
import * as Y from "yjs";
import { closeAll, oneWayLatency, openClient } from "../clients.mjs";
import { SyncConnection } from "../connection.mjs";
import { buildHistory, giveHistory } from "../history.mjs";
import { createClientIdentity } from "../identity.mjs";
import { diskBytes, waitForQuiet } from "../server-process.mjs";
import { summarize } from "../stats.mjs";

const USER = "large-user";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function largeConversation({ targets, startTarget, size, log }) {
  const history = buildHistory([createClientIdentity(), createClientIdentity()], size.largeMessages);
  log(`large: built ${history.count} messages, ${history.encodedBytes} bytes encoded`);

  /** @type {Record<string, Record<string, unknown>>} */
  const results = {};
  /** @type {Map<string, { running: import("../run.mjs").StartedTarget, keeper: SyncConnection }>} */
  const live = new Map();
  for (const target of targets) {
    try {
      const running = await startTarget(target);
      // An idle connection keeps the document loaded (Hocuspocus and the relay unload empty rooms, and
      // Hocuspocus without persistence forgets them): open before a connection uploads, after a seed.
      const keep = async () =>
        SyncConnection.open(
          await running.endpoint({ userId: USER, clientSecret: createClientIdentity().secret }),
          null,
        );
      const early = running.seed === undefined ? await keep() : null;
      const started = performance.now();
      await giveHistory(running, { userId: USER }, history);
      const loadSeconds = (performance.now() - started) / 1000;
      const keeper = early ?? (await keep());
      results[target.id] = {
        messages: history.count,
        loadedBy: running.seed === undefined ? "one connection" : "its storage",
        loadSeconds,
        encodedBytesPerMessage: history.encodedBytes / history.count,
        warm: [],
      };
      live.set(target.id, { running, keeper });
      log(`large ${target.id}: loaded in ${loadSeconds.toFixed(1)} s`);
    } catch (error) {
      results[target.id] = { error: String(error) };
      log(`large ${target.id}: ${String(error)}`);
    }
  }

  const ids = [...live.keys()];
  for (let round = 0; round < size.largeRounds; round++) {
    for (let k = 0; k < ids.length; k++) {
      const id = /** @type {string} */ (ids[(round + k) % ids.length]);
      const { running } = /** @type {{ running: import("../run.mjs").StartedTarget }} */ (live.get(id));
      const result = /** @type {{ warm: unknown[] }} */ (results[id]);
      try {
        result.warm.push(await firstSync(running, history, size.largeTimeoutMs));
      } catch (error) {
        result.warm.push({ error: String(error) });
      }
    }
  }

  for (const id of ids) {
    const { running, keeper } = /** @type {{ running: import("../run.mjs").StartedTarget, keeper: SyncConnection }} */ (
      live.get(id)
    );
    const result = /** @type {Record<string, unknown>} */ (results[id]);
    try {
      result.append = await appendCost(running, size);
      log(`large ${id}: append ${JSON.stringify(result.append)}`);
    } catch (error) {
      result.append = { error: String(error) };
    }
    await keeper.close();
    // What it stores once its writes, debounced stores and compactions are done.
    await waitForQuiet(running.server, { quietMs: 3_000 * size.quietScale, timeoutMs: 30_000 });
    if (running.dataPath !== "") {
      result.storedBytes = diskBytes(running.dataPath);
      result.storedBytesPerMessage = /** @type {number} */ (result.storedBytes) / history.count;
    } else {
      result.storedBytes = null;
      result.storedBytesPerMessage = null;
    }
    if (running.target.durable) {
      try {
        await running.restart();
        result.cold = await firstSync(running, history, size.largeTimeoutMs, true);
      } catch (error) {
        result.cold = { error: String(error) };
      }
    }
    await running.stop();
    const warm = /** @type {Array<{ syncedMs?: number }>} */ (result.warm);
    log(`large ${id}: warm first sync ${warm.map((w) => w.syncedMs?.toFixed(0)).join(", ")} ms`);
  }
  return results;
}

/**
 * A new client with an empty document joins the conversation.
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../history.mjs").History} history
 * @param {number} timeoutMs
 * @param {boolean} [appended] Whether messages were appended after the history (then the newest is one of those).
 */
async function firstSync(running, history, timeoutMs, appended = false) {
  const doc = new Y.Doc();
  const messages = messagesOf(doc);
  const cpuStart = running.server.cpuNanos();
  const started = performance.now();
  let newest50Ms = Number.NaN;
  let syncedMs = Number.NaN;
  const { client, clock } = history.newestItem;
  /** @type {(value?: unknown) => void} */
  let done = () => {};
  const complete = new Promise((resolve) => {
    done = resolve;
  });
  const identity = createClientIdentity();
  // Parley's client asks for the newest 50 (`tail`) and shows them when the `recent` preview arrives; the peers
  // have no such thing and ignore the field: for them the newest 50 show once the sync brought them.
  const endpoint = await running.endpoint({ userId: USER, clientSecret: identity.secret, tail: 50 });
  const connection = new SyncConnection(endpoint, doc);
  connection.onRecent((preview) => {
    const shown = preview.messages;
    if (
      Number.isNaN(newest50Ms) &&
      shown.length >= Math.min(50, history.count) &&
      (appended || shown.at(-1)?.id === history.newestId)
    ) {
      newest50Ms = performance.now() - started;
    }
  });
  // Checked after each update the server sends: whether the item holding the newest message is in (a state
  // vector lookup), and whether every message is.
  connection.onApplied(() => {
    if (
      Number.isNaN(newest50Ms) &&
      messages.length >= Math.min(50, history.count) &&
      Y.getState(doc.store, client) > clock
    ) {
      newest50Ms = performance.now() - started;
    }
    if (messages.length >= history.count) {
      syncedMs = performance.now() - started;
      done();
    }
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  try {
    await Promise.race([
      complete,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${messages.length} of ${history.count} messages after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await connection.close();
    doc.destroy();
  }
  const cpuMs = (running.server.cpuNanos() - cpuStart) / 1e6;
  return { newest50Ms, syncedMs, serverCpuMs: cpuMs };
}

/**
 * Appends one message at a time to the long conversation and to a short one, in alternating blocks.
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../run.mjs").Size} size
 */
async function appendCost(running, size) {
  const longSender = await openClient(running, USER);
  const longReceiver = await openClient(running, USER);
  const shortSender = await openClient(running, "short-user");
  const shortReceiver = await openClient(running, "short-user");
  await oneWayLatency(longSender, longReceiver, 20);
  await oneWayLatency(shortSender, shortReceiver, 20);
  const rooms = {
    long: { sender: longSender, receiver: longReceiver, samples: /** @type {number[]} */ ([]), cpuNanos: 0, lost: 0 },
    short: {
      sender: shortSender,
      receiver: shortReceiver,
      samples: /** @type {number[]} */ ([]),
      cpuNanos: 0,
      lost: 0,
    },
  };
  for (let block = 0; block < size.appendBlocks; block++) {
    for (const room of block % 2 === 0 ? [rooms.long, rooms.short] : [rooms.short, rooms.long]) {
      const cpuStart = running.server.cpuNanos();
      const { samples, lost } = await oneWayLatency(room.sender, room.receiver, size.appendsPerBlock);
      room.cpuNanos += running.server.cpuNanos() - cpuStart;
      room.samples.push(...samples);
      room.lost += lost;
    }
  }
  const report = (/** @type {typeof rooms.long} */ room) => ({
    latency: summarize(room.samples),
    lost: room.lost,
    cpuPerAppendUs: room.cpuNanos / 1e3 / Math.max(1, room.samples.length),
  });
  const result = { long: report(rooms.long), short: report(rooms.short) };
  await closeAll([longSender, longReceiver, shortSender, shortReceiver].map((client) => client.connection));
  longSender.doc.destroy();
  longReceiver.doc.destroy();
  return result;
}
