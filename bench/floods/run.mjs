// Floods against a real relay process, measuring its event-loop delay and RSS under each (issue 13, "Bounded,
// linear work per frame"). Not a test and not timed: it prints a table of figures for the README security section.
//
//   pnpm build && node bench/floods/run.mjs
//
// Each flood runs against the default limits, from one address, after a baseline.
import { fork } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  anonymousIdFromSecret,
  anonymousToken,
  createSecret,
  MessageType,
  messagesOf,
  roomName,
} from "@parley/protocol";
import { SignJWT } from "jose";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";

const APP = { id: "floodapp", keys: [{ kid: "k1", alg: "HS256", secret: "flood-secret-0123456789-abcdefghijklmnop" }] };
const relayProcess = fork(fileURLToPath(new URL("./relay-process.mjs", import.meta.url)), {
  env: {
    ...process.env,
    FLOOD_APP: JSON.stringify(APP),
    FLOOD_DATA_DIR: join(mkdtempSync(join(tmpdir(), "parley-floods-")), "data"),
  },
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
process.on("exit", () => relayProcess.kill("SIGKILL"));
const next = () => new Promise((resolve) => relayProcess.once("message", resolve));
const { port } = await next();
const url = `ws://127.0.0.1:${port}/v1`;
const stats = async () => {
  const reply = next();
  relayProcess.send("stats");
  return reply;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function token(userId) {
  const secret = new TextEncoder().encode(APP.keys[0].secret);
  return new SignJWT({ sub: userId })
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(secret);
}
const userRoom = (userId) => roomName({ appId: APP.id, kind: "user", subject: userId });

/** Opens a raw connection; resolves once open (or closed), with its close promise. */
function connect(room, tokenValue) {
  const ws = new WebSocket(`${url}/${room}?${new URLSearchParams({ token: tokenValue, client: createSecret() })}`);
  ws.on("error", () => {});
  const closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise((resolve) => {
    ws.once("message", () => resolve(true));
    ws.once("close", () => resolve(false));
  });
  return { ws, closed, opened };
}

function frame(write) {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

/** A sync step 2 with one message from each of `count` new Yjs clientIDs, written directly (v1 update). */
function manyClientIds(count) {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, count);
  for (let i = 0; i < count; i++) {
    encoding.writeVarUint(update, 1); // structs
    encoding.writeVarUint(update, 100_000 + i); // clientID
    encoding.writeVarUint(update, 0); // clock
    encoding.writeUint8(update, 8); // ContentAny, no origins
    encoding.writeVarUint(update, 1); // parent is a root
    encoding.writeVarString(update, "messages");
    encoding.writeVarUint(update, 1);
    encoding.writeAny(update, { id: `m${i}xxxxxxx`, role: "user", client: "x", text: "x", ts: 1 });
  }
  encoding.writeVarUint(update, 0); // delete set
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2);
    encoding.writeVarUint8Array(e, encoding.toUint8Array(update));
  });
}

const results = [];
async function measure(name, run) {
  await stats(); // reset
  const started = performance.now();
  const outcome = await run();
  const figures = await stats();
  results.push({ flood: name, ...figures, seconds: Math.round((performance.now() - started) / 100) / 10, outcome });
  console.error(name, figures, outcome);
  await sleep(500);
}

await measure("idle (baseline, 1 s)", async () => {
  await sleep(1000);
  return "";
});

await measure("sync step 2 with 100,000 new clientIDs, from 5 connections", async () => {
  const payload = manyClientIds(100_000);
  const tokenValue = await token("flood-clientids");
  const codes = [];
  for (let i = 0; i < 5; i++) {
    const c = connect(userRoom("flood-clientids"), tokenValue);
    await c.opened;
    c.ws.send(payload);
    codes.push((await c.closed).code);
  }
  return `${(payload.length / 2 ** 20).toFixed(1)} MiB each; closes ${[...new Set(codes)].join(",")}`;
});

await measure("50 stalled readers × 4 empty step 1s on a 20,000-message document", async () => {
  const tokenValue = await token("flood-fullsync");
  const writer = connect(userRoom("flood-fullsync"), tokenValue);
  await writer.opened;
  const clientSecret = new URL(writer.ws.url).searchParams.get("client");
  const { clientIdFromSecret } = await import("@parley/protocol");
  const doc = new Y.Doc();
  const clientId = clientIdFromSecret(clientSecret);
  doc.transact(() => {
    for (let i = 0; i < 20_000; i++) {
      messagesOf(doc).push([
        { id: `msg-${i}-xxxxxx`, role: "user", client: clientId, text: "x".repeat(200), ts: Date.now() },
      ]);
    }
  });
  writer.ws.send(
    frame((e) => {
      encoding.writeVarUint(e, MessageType.sync);
      syncProtocol.writeSyncStep2(e, doc);
    }),
  );
  await sleep(2000);
  await stats(); // the seeding is not part of the flood
  const step1 = frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    syncProtocol.writeSyncStep1(e, new Y.Doc());
  });
  const stalled = [];
  for (let i = 0; i < 50; i++) {
    const c = connect(userRoom("flood-fullsync"), tokenValue);
    await c.opened;
    c.ws.pause(); // stops reading: replies pile up in the relay's socket buffers
    for (let j = 0; j < 4; j++) c.ws.send(step1);
    stalled.push(c);
  }
  await sleep(3000);
  const codes = await Promise.all(
    stalled.map((c) => Promise.race([c.closed.then((x) => x.code), sleep(10).then(() => "open")])),
  );
  for (const c of stalled) c.ws.terminate();
  writer.ws.close();
  const counts = {};
  for (const code of codes) counts[code] = (counts[code] ?? 0) + 1;
  return `document ${(Y.encodeStateAsUpdate(doc).length / 2 ** 20).toFixed(1)} MiB; ${JSON.stringify(counts)}`;
});

await measure("2,000 connections to one room from one address", async () => {
  const tokenValue = await token("flood-connect");
  const counts = {};
  const all = [];
  for (let batch = 0; batch < 10; batch++) {
    const group = Array.from({ length: 200 }, () => connect(userRoom("flood-connect"), tokenValue));
    await Promise.all(group.map((c) => c.opened));
    all.push(...group);
  }
  for (const c of all) {
    const code = await Promise.race([c.closed.then((x) => x.code), sleep(0).then(() => "open")]);
    counts[code] = (counts[code] ?? 0) + 1;
    c.ws.terminate();
  }
  return JSON.stringify(counts);
});

await measure("1,000 new anonymous identities from one address", async () => {
  const counts = {};
  for (let batch = 0; batch < 10; batch++) {
    const group = Array.from({ length: 100 }, () => {
      const secret = createSecret();
      const room = roomName({ appId: APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
      return connect(room, anonymousToken(secret));
    });
    await Promise.all(group.map((c) => c.opened));
    for (const c of group) {
      const code = await Promise.race([c.closed.then((x) => x.code), sleep(0).then(() => "open")]);
      counts[code] = (counts[code] ?? 0) + 1;
      c.ws.terminate();
    }
  }
  return JSON.stringify(counts);
});

relayProcess.send("stop");
console.log("| flood | event-loop delay p50 / p99 / max (ms) | RSS after / peak (MiB) | outcome |");
console.log("|---|---|---|---|");
for (const r of results) {
  console.log(`| ${r.flood} | ${r.p50Ms} / ${r.p99Ms} / ${r.maxMs} | ${r.rssMiB} / ${r.peakRssMiB} | ${r.outcome} |`);
}
process.exit(0);
