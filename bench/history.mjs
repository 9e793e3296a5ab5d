// A long conversation built once per run and replayed to every target: the updates one client produces when it
// writes `count` messages in batches. Replaying the same bytes keeps the comparison exact. One writer's consecutive
// appends merge into few Yjs items, so this is the compact case of a long conversation; the bytes are the messages.
import { messagesOf } from "@parley/protocol";
import * as Y from "yjs";
import { createMessage } from "./identity.mjs";

/**
 * @typedef {object} History
 * @property {number} count Messages in it.
 * @property {Uint8Array[]} updates One update per batch, in order.
 * @property {string[]} lastIds The id of the last message of each batch.
 * @property {string} newestId
 * @property {number} encodedBytes Size of the whole document as one update.
 */

/**
 * @param {import("./identity.mjs").ClientIdentity} writer
 * @param {number} count
 * @param {number} [batch]
 * @returns {History}
 */
export function buildHistory(writer, count, batch = 500) {
  const doc = new Y.Doc();
  /** @type {Uint8Array[]} */
  const updates = [];
  doc.on("update", (/** @type {Uint8Array} */ update) => updates.push(update));
  const messages = messagesOf(doc);
  // Timestamps one millisecond apart, ending a minute ago: history, inside the relay's clock-skew rule.
  const firstTs = Date.now() - 60_000 - count;
  /** @type {string[]} */
  const lastIds = [];
  for (let i = 0; i < count; i += batch) {
    const records = [];
    for (let j = i; j < Math.min(count, i + batch); j++) records.push(createMessage(writer.clientId, firstTs + j));
    messages.push(records);
    lastIds.push(/** @type {{ id: string }} */ (records.at(-1)).id);
  }
  const encodedBytes = Y.encodeStateAsUpdate(doc).length;
  doc.destroy();
  return { count, updates, lastIds, newestId: /** @type {string} */ (lastIds.at(-1)), encodedBytes };
}

/**
 * Sends a history through `writer`'s connection and resolves once `observer` (another client of the same
 * conversation) has received all of it. At most `window` batches are unconfirmed at a time.
 * @param {import("./clients.mjs").ConversationClient} writer
 * @param {import("./clients.mjs").ConversationClient} observer
 * @param {History} history
 * @param {{ window?: number, timeoutMs?: number }} [options]
 */
export async function uploadHistory(writer, observer, history, { window = 8, timeoutMs = 120_000 } = {}) {
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
  if (results.some((arrived) => !arrived)) throw new Error("the end of the history never reached the other client");
}
