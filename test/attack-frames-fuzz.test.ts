/**
 * Sends random and mutated protocol frames (sync steps, updates, awareness, unknown types, truncated and
 * overlong varints) to a real relay: one connection per frame, then streams of frames on one connection,
 * some sent before the session has started (they wait in the relay's admission queue). The relay must never
 * crash, must refuse only with documented close codes, must keep an honest client in another room syncing,
 * and must keep every stored document readable across a restart. A fixed seed keeps CI reproducible;
 * `PARLEY_FUZZ_ITERATIONS` (or `PARLEY_FRAME_FUZZ_ITERATIONS`) and `PARLEY_FUZZ_SEED` run longer or other
 * cases on demand.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CloseCode,
  clientIdFromSecret,
  createSecret,
  listMessages,
  type MessageRecord,
  MessageType,
  messagesOf,
  ownersOf,
  profileLogOf,
  RELAY_OWNER,
  readPositions,
  readProfile,
  readsOf,
  roomName,
} from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as awarenessProtocol from "y-protocols/awareness";
import * as syncProtocol from "y-protocols/sync";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { readRelayDoc } from "./support/client.js";
import { type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const ITERATIONS = Number(process.env.PARLEY_FUZZ_ITERATIONS ?? process.env.PARLEY_FRAME_FUZZ_ITERATIONS ?? 200);
/** Connections that each send a stream of hostile frames. */
const STREAMS = Math.max(10, Math.floor(ITERATIONS / 5));
/** Long runs on demand get the time they need. */
const TIMEOUT_MS = Math.max(60_000, ITERATIONS * 100);
const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? 0x0f4ae5);
const BUSINESS_MESSAGE = { id: "business-hello", role: "business", author: {}, text: "Hello", ts: 1 } as const;
/** Closes the relay may answer a hostile frame with (1000: a logout frame). */
const ALLOWED_CLOSES = new Set<number>([
  1000,
  CloseCode.BadFrame,
  CloseCode.Authorship,
  CloseCode.TooLarge,
  CloseCode.Resync,
]);
/** A stream of frames on one connection may also run over its rate budgets. */
const ALLOWED_STREAM_CLOSES = new Set<number>([...ALLOWED_CLOSES, CloseCode.RateLimited]);

/** mulberry32 */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const int = (max: number) => Math.floor(random() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const attackerId = `fuzz-attacker-${createSecret().slice(0, 6)}`;
const honestId = `fuzz-honest-${createSecret().slice(0, 6)}`;
const attackerRoom = roomName({ appId: TEST_APP.id, kind: "user", subject: attackerId });
const honestRoom = roomName({ appId: TEST_APP.id, kind: "user", subject: honestId });

let relay: RelayHandle;
let attackerToken: string;
let honestToken: string;
const cleanup: Array<() => void> = [];
/** Parley client ids of every attacker connection: the only user authors the attacker's room may hold. */
const attackerClients = new Set<string>();

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

function syncFrame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  return frame((encoder) => {
    encoding.writeVarUint(encoder, MessageType.sync);
    write(encoder);
  });
}

/** Valid frames a client could send into the attacker's room: the seeds the mutations start from. */
function seedFrames(secret: string): Uint8Array[] {
  const clientId = clientIdFromSecret(secret);
  const doc = new Y.Doc();
  const frames: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => frames.push(syncFrame((e) => syncProtocol.writeUpdate(e, update))));
  const n = int(1_000_000);
  messagesOf(doc).push([{ id: `fuzz-${n}-0000`, role: "user", client: clientId, text: `hi ${n}`, ts: Date.now() }]);
  profileLogOf(doc).push([{ key: "givenName", value: "Fuzz", ts: Date.now(), client: clientId }]);
  readsOf(doc).set(clientId, { ts: Date.now() });
  messagesOf(doc).push([{ ...BUSINESS_MESSAGE, id: `forged-${n}` } as MessageRecord]);
  doc.getMap("junk").set("k", n);
  frames.push(syncFrame((e) => syncProtocol.writeSyncStep1(e, doc)));
  frames.push(syncFrame((e) => syncProtocol.writeSyncStep2(e, doc)));
  const awareness = new awarenessProtocol.Awareness(doc);
  awareness.setLocalState({ user: { name: "fuzz" } });
  frames.push(
    frame((e) => {
      encoding.writeVarUint(e, MessageType.awareness);
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]));
    }),
  );
  awareness.destroy();
  frames.push(frame((e) => encoding.writeVarUint(e, MessageType.queryAwareness)));
  frames.push(frame((e) => encoding.writeVarUint(e, 42)));
  return frames;
}

function mutate(bytes: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  const out = Array.from(bytes);
  for (let n = 1 + int(3); n > 0; n--) {
    const at = int(out.length + 1);
    switch (int(6)) {
      case 0:
        if (out.length > 0) out[at % out.length] = (out[at % out.length] as number) ^ (1 << int(8));
        break;
      case 1:
        out.length = Math.min(out.length, at);
        break;
      case 2: {
        const other = pick(others);
        const from = int(other.length);
        out.splice(at, int(6), ...other.subarray(from, from + 1 + int(20)));
        break;
      }
      case 3:
        out.splice(at, int(2), ...new Array(6 + int(8)).fill(0xff), int(128));
        break;
      case 4:
        out.splice(at, 1 + int(4));
        break;
      default:
        if (out.length > 0) out[at % out.length] = int(256);
    }
  }
  return new Uint8Array(out);
}

/** The next hostile frame: a mutated valid frame, an unmutated one, or random bytes. */
function nextFrame(secret: string): Uint8Array {
  const seeds = seedFrames(secret);
  const roll = random();
  if (roll < 0.1) return Uint8Array.from({ length: 1 + int(64) }, () => int(256));
  if (roll < 0.25) return pick(seeds);
  return mutate(pick(seeds), seeds);
}

/** Most frames of a stream are ones an honest client sends, so streams get past their first frame. */
function nextStreamFrame(secret: string): Uint8Array {
  if (random() < 0.25) return nextFrame(secret);
  const seeds = seedFrames(secret);
  // its own message, sync step 1, awareness, query awareness (the other seed updates depend on the first)
  return seeds[pick([0, 5, 7, 8])] as Uint8Array;
}

type Outcome = { kind: "alive" } | { kind: "closed"; code: number };

/**
 * Connects to the attacker's room and sends `early` at once (before the session has started), `late` after
 * the relay's sync step 1, then a sync step 1 as a probe: the relay either answers the probe (the connection
 * survived) or closes.
 */
function sendStream(secret: string, early: Uint8Array[], late: Uint8Array[]): Promise<Outcome> {
  const params = new URLSearchParams({ token: attackerToken, client: secret });
  const socket = new WebSocket(`${relay.url}/${attackerRoom}?${params}`);
  return new Promise((resolve, reject) => {
    let probed = false;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error("the relay neither answered nor closed"));
    }, 20_000);
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.terminate();
      resolve(outcome);
    };
    socket.on("error", () => {});
    socket.on("open", () => {
      for (const hostile of early) socket.send(hostile);
    });
    socket.on("close", (code: number) => finish({ kind: "closed", code }));
    socket.on("message", (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== MessageType.sync) return;
      const syncType = decoding.readVarUint(decoder);
      if (!probed && syncType === syncProtocol.messageYjsSyncStep1) {
        probed = true;
        for (const hostile of late) socket.send(hostile);
        socket.send(syncFrame((e) => syncProtocol.writeSyncStep1(e, new Y.Doc())));
      } else if (probed && syncType === syncProtocol.messageYjsSyncStep2) {
        finish({ kind: "alive" });
      }
    });
  });
}

/** An honest client of another room, connected for the whole file. */
let honest: { doc: Y.Doc; clientId: string };

/** Writes a message as the honest client and waits until the relay has stored it. */
async function honestStillSyncs(tag: string): Promise<void> {
  const id = `honest-${tag}-0000`;
  messagesOf(honest.doc).push([
    { id, role: "user", client: honest.clientId, text: `still here ${tag}`, ts: Date.now() },
  ]);
  await waitFor(async () => listMessages(await readRelayDoc(relay, honestRoom, honestToken)).some((m) => m.id === id), {
    what: `honest message ${id} to be stored`,
  });
}

/** The relay answers /healthz, and after a restart every stored document reads and holds no forgery. */
async function expectRelayAndStoreIntact(): Promise<void> {
  const health = await fetch(`${relay.httpUrl}/healthz`);
  expect(health.status).toBe(200);
  await relay.restart();
  const authors = { [attackerRoom]: attackerClients, [honestRoom]: new Set([honest.clientId]) };
  for (const [room, token] of [
    [attackerRoom, attackerToken],
    [honestRoom, honestToken],
  ] as const) {
    const stored = await readRelayDoc(relay, room, token);
    expect(() => [listMessages(stored), readProfile(stored), readPositions(stored)]).not.toThrow();
    const messages = listMessages(stored);
    expect(messages.filter((m) => m.role === "business")).toEqual([BUSINESS_MESSAGE]);
    // Accepted mutants may carry any text, but only as a client that really connected to that room.
    for (const message of messages) if (message.role === "user") expect(authors[room]).toContain(message.client);
    expect(stored.share.has("junk")).toBe(false);
  }
}

async function seedStore(dataDir: string): Promise<void> {
  const storage = new FileStorage({ dataDir });
  for (const room of [attackerRoom, honestRoom]) {
    const doc = new Y.Doc();
    doc.transact(() => {
      ownersOf(doc).set(String(doc.clientID), RELAY_OWNER);
      messagesOf(doc).push([BUSINESS_MESSAGE as MessageRecord]);
    });
    await storage.append(room, Y.encodeStateAsUpdate(doc), await storage.claim(room));
  }
  await storage.close();
}

beforeAll(async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "parley-frame-fuzz-")), "data");
  await seedStore(dataDir);
  // Hundreds of attacker connections to one room within seconds: this test is about frames, not connection rates.
  relay = await startRelay({ dataDir, extraConfig: { limits: { connectsPerMinutePerRoom: 1_000_000 } } });
  attackerToken = await signUserToken(attackerId);
  honestToken = await signUserToken(honestId);
  const doc = new Y.Doc();
  const secret = createSecret();
  const provider = new WebsocketProvider(relay.url, honestRoom, doc, {
    params: { token: honestToken, client: secret },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  cleanup.push(() => provider.destroy());
  honest = { doc, clientId: clientIdFromSecret(secret) };
  await waitFor(() => provider.synced, { what: "the honest client to sync" });
});

afterAll(async () => {
  for (const stop of cleanup) stop();
  await relay?.stop();
});

describe("hostile frames against a real relay", () => {
  it(
    `never crash it, close only with documented codes, and leave other rooms and stored data intact (${ITERATIONS} frames)`,
    async () => {
      const closes = new Map<number, number>();
      let alive = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const attacker = createSecret();
        attackerClients.add(clientIdFromSecret(attacker));
        const hostile = nextFrame(attacker);
        const outcome = await sendStream(attacker, [], [hostile]);
        if (outcome.kind === "alive") alive++;
        else {
          expect(ALLOWED_CLOSES, `close ${outcome.code} for ${Buffer.from(hostile).toString("hex")}`).toContain(
            outcome.code,
          );
          closes.set(outcome.code, (closes.get(outcome.code) ?? 0) + 1);
        }
        // The honest client in another room keeps syncing through the relay while the fuzz goes on.
        if (i % 50 === 49) await honestStillSyncs(`frame-${i}`);
      }
      console.info("frame fuzz", { frames: ITERATIONS, alive, closes: Object.fromEntries(closes) });
      expect(alive + [...closes.values()].reduce((a, b) => a + b, 0)).toBe(ITERATIONS);
      expect(alive).toBeGreaterThan(0);
      expect(closes.get(CloseCode.BadFrame) ?? 0).toBeGreaterThan(0);
      expect(closes.get(CloseCode.Authorship) ?? 0).toBeGreaterThan(0);

      await expectRelayAndStoreIntact();
    },
    TIMEOUT_MS,
  );

  it(
    `survive streams of hostile frames on one connection, some sent before the session starts (${STREAMS} connections)`,
    async () => {
      const closes = new Map<number, number>();
      let alive = 0;
      let frames = 0;
      for (let i = 0; i < STREAMS; i++) {
        const attacker = createSecret();
        attackerClients.add(clientIdFromSecret(attacker));
        const early = Array.from({ length: int(4) }, () => nextStreamFrame(attacker));
        const late = Array.from({ length: 1 + int(16) }, () => nextStreamFrame(attacker));
        frames += early.length + late.length;
        const outcome = await sendStream(attacker, early, late);
        if (outcome.kind === "alive") alive++;
        else {
          const sent = [...early, ...late].map((f) => Buffer.from(f).toString("hex")).join(" ");
          expect(ALLOWED_STREAM_CLOSES, `close ${outcome.code} for ${sent}`).toContain(outcome.code);
          closes.set(outcome.code, (closes.get(outcome.code) ?? 0) + 1);
        }
        if (i % 10 === 9) await honestStillSyncs(`stream-${i}`);
      }
      console.info("frame stream fuzz", { connections: STREAMS, frames, alive, closes: Object.fromEntries(closes) });
      expect(alive + [...closes.values()].reduce((a, b) => a + b, 0)).toBe(STREAMS);
      expect(closes.get(CloseCode.BadFrame) ?? 0).toBeGreaterThan(0);
      await expectRelayAndStoreIntact();
    },
    TIMEOUT_MS,
  );
});
