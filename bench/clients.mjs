// Conversation clients for the scenarios: a client with a Y.Doc that appends message records and hears the ones
// that arrive from the server, idle clients in their own conversations, and one-way latency between two clients.
import { messagesOf } from "@parley/protocol";
import * as Y from "yjs";
import { SyncConnection } from "./connection.mjs";
import { createClientIdentity, createMessage } from "./identity.mjs";
import { sleep } from "./stats.mjs";

/**
 * Connections closed with 1001 before their first sync and opened again, as @parley/client does: on a cluster,
 * `room-moved` when two nodes raced to load a room for the first clients to reach them at once.
 */
export const reconnects = { beforeFirstSync: 0 };
const RECONNECTS = 5;

/**
 * Connects `subject` (asking the target for its endpoint again on each attempt) and waits for the first sync.
 * @param {import("./targets.mjs").RunningTarget} target
 * @param {import("./targets.mjs").Subject} subject
 * @param {Y.Doc | null} doc
 * @param {number} timeoutMs
 * @param {(connection: SyncConnection) => void} [setup] Called on each connection before it syncs.
 * @returns {Promise<SyncConnection>}
 */
async function connect(target, subject, doc, timeoutMs, setup) {
  for (let attempt = 1; ; attempt++) {
    const connection = new SyncConnection(await target.endpoint(subject), doc);
    setup?.(connection);
    try {
      await connection.synced(timeoutMs);
      return connection;
    } catch (error) {
      await connection.close();
      if (connection.closed?.code !== 1001 || attempt > RECONNECTS) throw error;
      reconnects.beforeFirstSync += 1;
      await sleep(20 * attempt);
    }
  }
}

/**
 * @typedef {object} ConversationClient
 * @property {Y.Doc} doc
 * @property {SyncConnection} connection
 * @property {string} clientId
 * @property {(ts?: number) => string} send Appends one message; returns its id.
 * @property {(listener: (id: string) => void) => void} onRemoteMessage Called for each message the server delivers.
 * @property {(id: string, timeoutMs: number) => Promise<boolean>} arrival Whether message `id` arrives in time.
 * @property {() => Promise<void>} close
 */

/**
 * Opens a client of `userId` with its own document and waits for its first sync.
 * @param {import("./targets.mjs").RunningTarget} target
 * @param {string} userId
 * @param {{ identity?: import("./identity.mjs").ClientIdentity, doc?: Y.Doc, merge?: string, anonymousSecret?: string,
 *   node?: number }} [options] `node`: which node of a cluster target to connect to.
 * @returns {Promise<ConversationClient>}
 */
export async function openClient(target, userId, options = {}) {
  const identity = options.identity ?? createClientIdentity();
  const doc = options.doc ?? new Y.Doc();
  const messages = messagesOf(doc);
  /** @type {Array<(id: string) => void>} */
  const listeners = [];
  /** @type {Map<string, (arrived: boolean) => void>} */
  const awaited = new Map();
  // Arrivals are read from the update bytes, not from a Y.Array observer: `event.changes` walks the whole
  // array (and concatenates every inserted item's content), which costs O(conversation) per update.
  /** @param {Uint8Array} update */
  const onApplied = (update) => {
    if (listeners.length === 0 && awaited.size === 0) return;
    for (const struct of Y.decodeUpdate(update).structs) {
      if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentAny)) continue;
      for (const record of struct.content.getContent()) {
        if (record === null || typeof record !== "object" || typeof record.id !== "string") continue;
        for (const listener of listeners) listener(record.id);
        awaited.get(record.id)?.(true);
      }
    }
  };
  const subject = {
    userId,
    clientSecret: identity.secret,
    ...(options.merge === undefined ? {} : { merge: options.merge }),
    ...(options.anonymousSecret === undefined ? {} : { anonymousSecret: options.anonymousSecret }),
    ...(options.node === undefined ? {} : { node: options.node }),
  };
  const connection = await connect(target, subject, doc, 60_000, (opened) => opened.onApplied(onApplied));
  return {
    doc,
    connection,
    clientId: identity.clientId,
    send(ts) {
      const record = createMessage(identity.clientId, ts);
      messages.push([record]);
      // What a UI does right after sending (it shows the newest message); it also keeps Yjs's search markers
      // near the end, so the next push does not walk a long array (the field notes' trap).
      messages.get(messages.length - 1);
      return record.id;
    },
    onRemoteMessage(listener) {
      listeners.push(listener);
    },
    arrival(id, timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => settle(false), timeoutMs);
        const settle = (/** @type {boolean} */ arrived) => {
          clearTimeout(timer);
          awaited.delete(id);
          resolve(arrived);
        };
        awaited.set(id, settle);
      });
    },
    close: () => connection.close(),
  };
}

/**
 * Opens `count` idle connections, each in its own conversation, `concurrency` at a time.
 * @param {import("./targets.mjs").RunningTarget} target
 * @param {number} count
 * @param {string} prefix Makes the user ids unique to this batch.
 * @param {{ concurrency?: number, deadline?: number, node?: number }} [options] `deadline` (epoch ms) bounds the
 *   whole batch; `node` is the node of a cluster target they all connect to.
 * @returns {Promise<{ connections: SyncConnection[], failures: number, firstError: string }>}
 */
export async function openIdle(
  target,
  count,
  prefix,
  { concurrency = 50, deadline = Date.now() + 120_000, node } = {},
) {
  /** @type {SyncConnection[]} */
  const connections = [];
  let failures = 0;
  let firstError = "";
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const index = next++;
      const identity = createClientIdentity();
      try {
        const subject = {
          userId: `${prefix}-${index}`,
          clientSecret: identity.secret,
          ...(node === undefined ? {} : { node }),
        };
        connections.push(await connect(target, subject, null, Math.max(1_000, deadline - Date.now())));
      } catch (error) {
        failures += 1;
        if (firstError === "") firstError = String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  failures += count - connections.length - failures;
  return { connections, failures, firstError };
}

/** @param {SyncConnection[]} connections */
export async function closeAll(connections) {
  for (let i = 0; i < connections.length; i += 200) {
    await Promise.all(connections.slice(i, i + 200).map((connection) => connection.close()));
  }
}

/**
 * Measures one-way latency from `sender` to `receiver`, one message at a time.
 * @param {ConversationClient} sender
 * @param {ConversationClient} receiver
 * @param {number} count
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<{ samples: number[], lost: number }>} milliseconds
 */
export async function oneWayLatency(sender, receiver, count, { timeoutMs = 5_000 } = {}) {
  /** @type {number[]} */
  const samples = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const arrived = await receiver.arrival(sender.send(), timeoutMs);
    if (arrived) samples.push(performance.now() - started);
    else lost += 1;
  }
  return { samples, lost };
}
