#!/usr/bin/env node
/**
 * `pnpm soak:load`: 1,000 Parley clients against one relay on 127.0.0.1 for a bounded time (issue 14), then
 * checks that nothing a client saw `sent` was lost or duplicated.
 *
 *   pnpm soak:load                     1,000 clients of 50 users for 10 minutes
 *   pnpm soak:load --minutes 2         shorter; also --clients, --users, --send-every <s>, --sample-every <s>
 *
 * The relay is its own process (`parley-relay` with the file store, `fsync: "batch"`, JWT and authorship checks
 * on, per-address limits raised since every client is 127.0.0.1); this process runs the clients
 * (`@parley/client`, memory storage, one in ten on directory storage). Clients start over the first minute
 * (a tenth of the run at most) as anonymous visitors; half of them send a message before logging in as their
 * user (merging the anonymous thread); then each sends one message every `--send-every` seconds on average.
 * Every `--sample-every` seconds it prints the relay's RSS, heap and event-loop delay (its /metrics) and this
 * process's memory. When the time is up, sending stops, clients settle (at most 2 minutes), and:
 * - every message a client reported `sent` must be present exactly once on every client of its user (the user
 *   it logged in as, or its anonymous self if its login failed), and
 * - exactly once in the relay's stored document of that user (read from its data directory after it stopped).
 * Prints the samples and the totals; exits 1 if anything was lost or duplicated, 2 if the run itself failed.
 * Talks to 127.0.0.1 only and stops by itself (a hard deadline kills everything).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient, memoryStorage } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { messagesOf, roomName } from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import { SignJWT } from "jose";
import WebSocket from "ws";
import * as Y from "yjs";
import { startServer } from "../bench/server-process.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    clients: { type: "string", default: "1000" },
    users: { type: "string", default: "50" },
    "send-every": { type: "string", default: "60" },
    "sample-every": { type: "string", default: "10" },
  },
});
const MINUTES = Number(values.minutes);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
const SEND_EVERY_MS = Number(values["send-every"]) * 1000;
const SAMPLE_EVERY_MS = Number(values["sample-every"]) * 1000;
const RUN_MS = MINUTES * 60_000;
const RAMP_MS = Math.min(60_000, RUN_MS / 10);
const SETTLE_MS = 120_000;
for (const [name, value] of Object.entries({ MINUTES, CLIENTS, USERS, SEND_EVERY_MS, SAMPLE_EVERY_MS })) {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
}

const APP = { id: "soak", kid: "soak-k1", secret: "soak-secret-0123456789-abcdefghijklmnopqrstuvwxyz" };
const key = new TextEncoder().encode(APP.secret);
const signToken = (userId) =>
  new SignJWT({ sub: userId })
    .setProtectedHeader({ alg: "HS256", kid: APP.kid })
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(key);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s`;

// The hard deadline: run, settle, shutdown and checks get generous time, then everything stops.
const hardDeadline = setTimeout(
  () => {
    console.error(`soak:load: hard deadline reached after ${elapsed()}; stopping`);
    process.exit(2);
  },
  RUN_MS + SETTLE_MS + 180_000,
);
hardDeadline.unref();

const workDir = mkdtempSync(join(tmpdir(), "parley-soak-load-"));
const dataDir = join(workDir, "relay-data");
mkdirSync(dataDir);
// Whatever way the run ends, its files go (the relay child is killed by server-process.mjs's own exit hook).
process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
const configPath = join(workDir, "relay.json");
writeFileSync(
  configPath,
  JSON.stringify({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    fsync: "batch",
    apps: [{ id: APP.id, keys: [{ kid: APP.kid, alg: "HS256", secret: APP.secret }] }],
    // Every client here is 127.0.0.1; a deployment's users come from many addresses.
    limits: { connectsPerMinutePerIp: 10_000_000, newAnonymousPerHourPerIp: 10_000_000, connectionsPerIp: 10_000_000 },
  }),
);
const relay = await startServer({
  name: "relay",
  args: [join(root, "packages/relay/dist/cli.js"), "--config", configPath],
});
const relayUrl = `ws://127.0.0.1:${relay.port}/v1`;
console.log(
  `soak:load: ${CLIENTS} clients of ${USERS} users for ${MINUTES} min against ${relayUrl} (pid ${relay.pid})`,
);

/** Reads the relay's heap and event-loop delay from its Prometheus text. */
async function relayMetrics() {
  const text = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^parley_${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    heapUsed: value("nodejs_heap_size_used_bytes"),
    lagP50: value("nodejs_eventloop_lag_p50_seconds") * 1000,
    lagP99: value("nodejs_eventloop_lag_p99_seconds") * 1000,
    lagMax: value("nodejs_eventloop_lag_max_seconds") * 1000,
  };
}

/**
 * @typedef {{ index: number, userId: string, client: import("@parley/client").ParleyClient,
 *   sent: Set<string>, attempted: number, loginFailed: boolean, errors: string[] }} SoakClient
 */
/** @type {SoakClient[]} */
const clients = [];
const counters = { sendErrors: 0, loginFailures: 0, startFailures: 0 };
let sending = true;
let stopSending = () => {};
const stopped = new Promise((resolve) => {
  stopSending = resolve;
});
/** Sleeps `ms`, or less if sending stops meanwhile. */
const pause = (ms) => Promise.race([sleep(ms), stopped]);

/** One client's life: start, maybe send anonymously, log in, send until the time is up. */
async function runClient(index) {
  const userId = `soak-user-${index % USERS}`;
  const storage = index % 10 === 9 ? directoryStorage(join(workDir, `client-${index}`)) : memoryStorage();
  const client = createClient({
    appId: APP.id,
    relayUrl,
    storage,
    WebSocket,
    tabSync: false,
    onTokenExpired: (id) => signToken(id),
  });
  /** @type {SoakClient} */
  const soak = { index, userId, client, sent: new Set(), attempted: 0, loginFailed: false, errors: [] };
  clients.push(soak);
  client.on("messages", (messages) => {
    for (const message of messages) if (message.mine && message.status === "sent") soak.sent.add(message.id);
  });
  try {
    await client.ready;
  } catch (error) {
    counters.startFailures++;
    soak.errors.push(`start: ${error}`);
    return;
  }
  const send = async () => {
    soak.attempted++;
    try {
      await client.send(`soak ${index} #${soak.attempted}`);
    } catch (error) {
      counters.sendErrors++;
      soak.errors.push(`send: ${error}`);
    }
  };
  if (index % 2 === 0) await send();
  await pause(Math.random() * 5_000);
  for (let attempt = 1; ; attempt++) {
    try {
      await client.login(userId, await signToken(userId));
      break;
    } catch (error) {
      if (attempt === 3 || !sending) {
        counters.loginFailures++;
        soak.loginFailed = true;
        soak.errors.push(`login: ${error}`);
        break;
      }
      await pause(2_000);
    }
  }
  while (sending) {
    await pause(-Math.log(1 - Math.random()) * SEND_EVERY_MS);
    if (sending) await send();
  }
}

// Start the clients over the ramp, sample while the run lasts.
const samples = [];
const running = [];
const sampler = setInterval(() => void sample(), SAMPLE_EVERY_MS);
async function sample() {
  try {
    const metrics = await relayMetrics();
    const own = process.memoryUsage();
    const row = {
      at: elapsed(),
      clients: clients.length,
      relayRss: mib(relay.rssBytes()),
      relayHeap: mib(metrics.heapUsed),
      lag: `${metrics.lagP50.toFixed(1)} / ${metrics.lagP99.toFixed(1)} / ${metrics.lagMax.toFixed(0)}`,
      clientRss: mib(own.rss),
      clientHeap: mib(own.heapUsed),
      sent: clients.reduce((sum, c) => sum + c.sent.size, 0),
      attempted: clients.reduce((sum, c) => sum + c.attempted, 0),
    };
    samples.push(row);
    console.log(
      `[${row.at}] clients ${row.clients}, relay RSS ${row.relayRss} MiB heap ${row.relayHeap} MiB loop p50/p99/max ` +
        `${row.lag} ms, client process RSS ${row.clientRss} MiB heap ${row.clientHeap} MiB, sent ${row.sent}/${row.attempted}`,
    );
  } catch (error) {
    console.log(`[${elapsed()}] sample failed: ${error}`);
  }
}
for (let index = 0; index < CLIENTS; index++) {
  running.push(runClient(index));
  await sleep(RAMP_MS / CLIENTS);
}
await sleep(Math.max(0, started + RUN_MS - Date.now()));
sending = false;
stopSending();
console.log(`[${elapsed()}] time is up: sending stopped; settling (at most ${SETTLE_MS / 1000} s)`);
await Promise.all(running);

/** The identity whose thread a client's messages belong to at the end. */
const ownerOf = (soak) =>
  soak.client.identity.kind === "user"
    ? `user:${soak.client.identity.userId}`
    : `anon:${soak.client.identity.anonymousId}`;

/** Per owner: every message id some client of it reported sent. */
function expectedByOwner() {
  const expected = new Map();
  for (const soak of clients) {
    const ids = expected.get(ownerOf(soak)) ?? new Set();
    for (const id of soak.sent) ids.add(id);
    expected.set(ownerOf(soak), ids);
  }
  return expected;
}

/** Lost and duplicated messages on the clients (each client against its owner's expected ids). */
function checkClients() {
  const expected = expectedByOwner();
  let lost = 0;
  let duplicated = 0;
  let pending = 0;
  let checked = 0;
  for (const soak of clients) {
    const counts = new Map();
    for (const message of soak.client.messages()) {
      counts.set(message.id, (counts.get(message.id) ?? 0) + 1);
      if (message.mine && message.status === "pending") pending++;
    }
    for (const id of expected.get(ownerOf(soak)) ?? []) {
      const count = counts.get(id) ?? 0;
      checked++;
      if (count === 0) lost++;
      if (count > 1) duplicated += count - 1;
    }
  }
  return { lost, duplicated, pending, checked };
}

const settleUntil = Date.now() + SETTLE_MS;
let onClients = checkClients();
while ((onClients.lost > 0 || onClients.pending > 0) && Date.now() < settleUntil) {
  await sleep(1_000);
  onClients = checkClients();
}
clearInterval(sampler);
await sample();
console.log(`[${elapsed()}] settled: ${JSON.stringify(onClients)}; stopping clients and relay`);
for (const soak of clients) await soak.client.destroy().catch(() => {});
await relay.stop();

// What the relay stored, read from its data directory with the relay stopped.
const storage = new FileStorage({ dataDir });
let storedLost = 0;
let storedDuplicated = 0;
for (const [owner, ids] of expectedByOwner()) {
  const [kind, subject] = [owner.slice(0, owner.indexOf(":")), owner.slice(owner.indexOf(":") + 1)];
  const doc = new Y.Doc();
  const name = roomName({ appId: APP.id, kind: kind === "user" ? "user" : "anonymous", subject });
  for (const update of await storage.load(name)) Y.applyUpdate(doc, update);
  const counts = new Map();
  for (const record of messagesOf(doc).toArray()) counts.set(record.id, (counts.get(record.id) ?? 0) + 1);
  for (const id of ids) {
    const count = counts.get(id) ?? 0;
    if (count === 0) storedLost++;
    if (count > 1) storedDuplicated += count - 1;
  }
}
await storage.close();

const totalSent = clients.reduce((sum, c) => sum + c.sent.size, 0);
const totalAttempted = clients.reduce((sum, c) => sum + c.attempted, 0);
console.log(
  "\n| at | clients | relay RSS (MiB) | relay heap (MiB) | relay loop delay p50 / p99 / max (ms) | client process RSS / heap (MiB) | sent / attempted |",
);
console.log("|---|---|---|---|---|---|---|");
for (const row of samples) {
  console.log(
    `| ${row.at.trim()} | ${row.clients} | ${row.relayRss} | ${row.relayHeap} | ${row.lag} | ${row.clientRss} / ${row.clientHeap} | ${row.sent} / ${row.attempted} |`,
  );
}
const totals = {
  clients: clients.length,
  users: USERS,
  minutes: MINUTES,
  messagesSent: totalSent,
  messagesAttempted: totalAttempted,
  owners: expectedByOwner().size,
  "checked (message × client of its user)": onClients.checked,
  stillPending: onClients.pending,
  lostOnClients: onClients.lost,
  duplicatedOnClients: onClients.duplicated,
  lostInRelayStore: storedLost,
  duplicatedInRelayStore: storedDuplicated,
  loginFailures: counters.loginFailures,
  sendErrors: counters.sendErrors,
  startFailures: counters.startFailures,
};
console.log("\n| total | value |\n|---|---|");
for (const [name, value] of Object.entries(totals)) console.log(`| ${name} | ${value} |`);
const errors = clients.flatMap((soak) => soak.errors.map((error) => `client ${soak.index}: ${error}`));
if (errors.length > 0) console.log(`\nfirst errors:\n${errors.slice(0, 10).join("\n")}`);
const failed = onClients.lost + onClients.duplicated + storedLost + storedDuplicated > 0;
console.log(failed ? "\nFAIL: messages lost or duplicated" : "\nok: nothing lost, nothing duplicated");
process.exit(failed ? 1 : 0);
