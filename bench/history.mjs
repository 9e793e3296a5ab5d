// A long conversation built once per run and given to every target as the same bytes.
//
// Its messages alternate between two writers (two clients of the user), as a real thread alternates between
// speakers: consecutive appends of one Yjs client merge into one item, so a one-writer history would be a
// handful of items and hide every per-item cost. Here each message is its own Yjs item. The relay-only `owners`
// map binds each writer's Yjs clientID to its Parley client id, as the relay would have recorded it.
//
// Building appends near the end of a long Y.Array: each push reads the last element back, which keeps Yjs's
// search markers near the end (without it, 100,000 pushes take ~30 s instead of ~1 s here: the field notes' trap).
import { messagesOf, ownersOf, RELAY_OWNER } from "@parley/protocol";
import * as Y from "yjs";
import { openClient } from "./clients.mjs";
import { createClientIdentity, createMessage } from "./identity.mjs";

/**
 * @typedef {object} History
 * @property {number} count Messages in it.
 * @property {Uint8Array[]} updates One update per batch, in order (the first also holds the owners).
 * @property {string[]} lastIds The id of the last message of each batch.
 * @property {string} newestId
 * @property {{ client: number, clock: number }} newestItem The Yjs id of the item holding the newest message.
 * @property {number} encodedBytes Size of the whole document as one update.
 */

/**
 * @param {import("./identity.mjs").ClientIdentity[]} writers They take turns, one message each.
 * @param {number} count
 * @param {number} [batch]
 * @returns {History}
 */
export function buildHistory(writers, count, batch = 500) {
  const doc = new Y.Doc();
  /** @type {Uint8Array[]} */
  const updates = [];
  doc.on("update", (/** @type {Uint8Array} */ update) => updates.push(update));
  const ids = new Set();
  while (ids.size < writers.length + 1) ids.add(randomClientId());
  const [relayId, ...yjsIds] = /** @type {number[]} */ ([...ids]);
  const messages = messagesOf(doc);
  // Timestamps one millisecond apart, ending a minute ago: history, inside the relay's clock-skew rule.
  const firstTs = Date.now() - 60_000 - count;
  /** @type {string[]} */
  const lastIds = [];
  let newestItem = { client: 0, clock: 0 };
  for (let i = 0; i < count; i += batch) {
    let lastId = "";
    doc.transact(() => {
      if (i === 0) {
        doc.clientID = relayId;
        const owners = ownersOf(doc);
        owners.set(String(relayId), RELAY_OWNER);
        for (const [w, writer] of writers.entries()) owners.set(String(yjsIds[w]), writer.clientId);
      }
      for (let j = i; j < Math.min(count, i + batch); j++) {
        const w = j % writers.length;
        doc.clientID = /** @type {number} */ (yjsIds[w]);
        const record = createMessage(
          /** @type {import("./identity.mjs").ClientIdentity} */ (writers[w]).clientId,
          firstTs + j,
        );
        messages.push([record]);
        messages.get(messages.length - 1);
        lastId = record.id;
        newestItem = { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) - 1 };
      }
    });
    lastIds.push(lastId);
  }
  const encodedBytes = Y.encodeStateAsUpdate(doc).length;
  doc.destroy();
  return { count, updates, lastIds, newestId: /** @type {string} */ (lastIds.at(-1)), newestItem, encodedBytes };
}

function randomClientId() {
  return Math.floor(Math.random() * 2 ** 31) + 1;
}

/**
 * Gives a history to a running target: through its storage where it offers that (Parley: its authorship check
 * rightly refuses one connection sending two clients' messages), else through one connection. Resolves once
 * `observer` (another client of the same conversation) holds all of it.
 * @param {import("./run.mjs").StartedTarget} running
 * @param {{ userId?: string, anonymousSecret?: string }} subject Whose conversation.
 * @param {History} history
 * @param {{ window?: number, timeoutMs?: number }} [options]
 */
export async function giveHistory(running, subject, history, { window = 8, timeoutMs = 120_000 } = {}) {
  const userId = subject.userId ?? "";
  const options = subject.anonymousSecret === undefined ? {} : { anonymousSecret: subject.anonymousSecret };
  if (running.seed !== undefined) {
    const { documentName } = await running.endpoint({ ...subject, clientSecret: createClientIdentity().secret });
    await running.seed(documentName, history.updates);
    const observer = await openClient(running, userId, options);
    const received = messagesOf(observer.doc).length;
    await observer.close();
    observer.doc.destroy();
    if (received < history.count) throw new Error(`seeded ${history.count} messages, a client received ${received}`);
    return;
  }
  const writer = await openClient(running, userId, options);
  const observer = await openClient(running, userId, options);
  /** @type {Promise<boolean>[]} */
  const confirmations = [];
  for (let k = 0; k < history.updates.length; k++) {
    if (k >= window && !(await confirmations[k - window])) {
      throw new Error(`batch ${k - window} of the history never reached the other client`);
    }
    confirmations.push(observer.arrival(/** @type {string} */ (history.lastIds[k]), timeoutMs));
    writer.connection.sendUpdate(/** @type {Uint8Array} */ (history.updates[k]));
  }
  const results = await Promise.all(confirmations);
  await writer.close();
  await observer.close();
  observer.doc.destroy();
  if (results.some((arrived) => !arrived)) throw new Error("the end of the history never reached the other client");
}
