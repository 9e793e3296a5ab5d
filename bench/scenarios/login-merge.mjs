// Login merge (Parley only; the peers have no notion of it): an anonymous thread is merged into a user's thread
// by the first connection after login (`merge=anon.<secret>`). The relay verifies both credentials, applies the
// anonymous document into the user's, stores it and revokes the anonymous secret before it answers the sync.
// Measured: time from connect until the new client holds the merged thread, the relay's CPU for it, and a
// repeat of the same merge (a no-op).
import { createSecret, messagesOf } from "@parley/protocol";
import * as Y from "yjs";
import { SyncConnection } from "../connection.mjs";
import { buildHistory, giveHistory } from "../history.mjs";
import { createClientIdentity } from "../identity.mjs";
import { waitForQuiet } from "../server-process.mjs";

const USER = "merge-user";

/**
 * @param {import("../run.mjs").Context} context
 */
export async function loginMerge({ targets, startTarget, size, log }) {
  /** @type {Record<string, unknown>} */
  const results = {};
  const parley = targets.find((target) => target.id === "parley");
  if (parley === undefined) return results;
  const running = await startTarget(parley);
  try {
    // The device: one client secret, first anonymous, then logged in as USER (as @parley/client does it).
    // Both threads alternate between two writers (see history.mjs) and reach the relay through its storage.
    const device = createClientIdentity();
    const anonymousSecret = createSecret();
    const anonymousHistory = buildHistory([device, createClientIdentity()], size.mergeAnonymousMessages);
    await giveHistory(running, { anonymousSecret }, anonymousHistory);
    const userHistory = buildHistory([createClientIdentity(), createClientIdentity()], size.mergeUserMessages);
    await giveHistory(running, { userId: USER }, userHistory);
    await waitForQuiet(running.server, { quietMs: 2_000 * size.quietScale, timeoutMs: 30_000 });

    const expected = anonymousHistory.count + userHistory.count;
    const first = await mergeOnConnect(running, device, anonymousSecret, expected, size.largeTimeoutMs);
    await waitForQuiet(running.server, { quietMs: 2_000 * size.quietScale, timeoutMs: 30_000 });
    const repeat = await mergeOnConnect(running, device, anonymousSecret, expected, size.largeTimeoutMs);
    results.parley = {
      anonymousMessages: anonymousHistory.count,
      userMessages: userHistory.count,
      first,
      repeat,
    };
    log(`merge parley: ${JSON.stringify(results.parley)}`);
  } catch (error) {
    results.parley = { error: String(error) };
    log(`merge parley: ${String(error)}`);
  } finally {
    await running.stop();
  }
  return results;
}

/**
 * The device connects to the user's room with `merge` and an empty document; resolves once it holds `expected`
 * messages.
 * @param {import("../run.mjs").StartedTarget} running
 * @param {import("../identity.mjs").ClientIdentity} device
 * @param {string} anonymousSecret
 * @param {number} expected
 * @param {number} timeoutMs
 */
async function mergeOnConnect(running, device, anonymousSecret, expected, timeoutMs) {
  const doc = new Y.Doc();
  const messages = messagesOf(doc);
  const cpuStart = running.server.cpuNanos();
  const started = performance.now();
  const endpoint = await running.endpoint({ userId: USER, clientSecret: device.secret, merge: anonymousSecret });
  const connection = await SyncConnection.open(endpoint, doc, { timeoutMs });
  const syncedMs = performance.now() - started;
  const deadline = Date.now() + timeoutMs;
  while (messages.length < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const completeMs = performance.now() - started;
  const cpuMs = (running.server.cpuNanos() - cpuStart) / 1e6;
  const received = messages.length;
  await connection.close();
  doc.destroy();
  if (received < expected) throw new Error(`merged thread has ${received} of ${expected} messages`);
  return { syncedMs, completeMs, serverCpuMs: cpuMs, messages: received };
}
