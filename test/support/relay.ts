/**
 * Test harness: runs the real relay CLI (`node packages/relay/dist/cli.js --config <file>`) as a child
 * process on a free port and a temporary data directory, and signs user tokens for the test app.
 * The relay must be built first (`pnpm test` builds).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clientIdFromSecret, createSecret } from "@parley/protocol";
import { SignJWT } from "jose";
import { WebSocket } from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

/** The HS256 app every test relay is configured with. */
export const TEST_APP: { id: string; kid: string; secret: string } = {
  id: "testapp",
  kid: "test-k1",
  secret: "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
};

/** The `apps` of every test relay's config unless a test gives its own. */
export const TEST_APPS = [{ id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] }];

/** A running relay process. */
export interface RelayHandle {
  port: number;
  /** `ws://127.0.0.1:<port>/v1`, the `serverUrl` for a WebsocketProvider. */
  url: string;
  /** `http://127.0.0.1:<port>`. */
  httpUrl: string;
  dataDir: string;
  /** Every stdout line (JSON logs) of the current process, for debugging and log assertions. */
  logs: string[];
  /** The config file the process reads (at start, and again on SIGHUP); `restart()` rewrites it. */
  configFile: string;
  /** Sends `signal` to the current process (SIGHUP reloads the config file; SIGSTOP / SIGCONT pause it). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for exit. */
  kill(): Promise<void>;
  /** Starts the relay again on the same port and data directory. */
  restart(): Promise<void>;
}

const CLI = fileURLToPath(new URL("../../packages/relay/dist/cli.js", import.meta.url));
/**
 * Relay processes still running, kept on the process: vitest runs many test files in one worker, each with
 * its own copy of this module, and one exit hook per copy would pile up listeners (MaxListenersExceededWarning).
 */
const LIVE = Symbol.for("parley.test.liveRelays");
const registry = globalThis as { [LIVE]?: Set<ChildProcess> };
const live: Set<ChildProcess> = registry[LIVE] ?? new Set<ChildProcess>();

function installExitHook(): void {
  if (registry[LIVE] !== undefined) return;
  registry[LIVE] = live;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Spawns the CLI with `configFile`, resolves with the port from its "listening" log line. */
function spawnRelay(configFile: string, logs: string[]): Promise<{ child: ChildProcess; port: number }> {
  installExitHook();
  const child = spawn(process.execPath, [CLI, "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return new Promise((resolve, reject) => {
    let buffered = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`relay did not start within 30 s\n${logs.join("\n")}\n${stderr}`));
    }, 30_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf("\n");
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === "listening" && typeof entry.port === "number") {
            clearTimeout(timer);
            resolve({ child, port: entry.port });
          }
        } catch {
          // not a JSON line; kept in logs
        }
        newline = buffered.indexOf("\n");
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code ?? signal}) before listening\n${logs.join("\n")}\n${stderr}`));
    });
  });
}

/**
 * Starts a relay process. `apps` replaces the default (TEST_APP only); `extraConfig` is merged into the
 * config file (e.g. `{ roomGraceMs: 0, fsync: "off" }`); `port` is a fixed port (default: a free one), for a
 * relay whose address must be known before it starts (a cluster node advertises it).
 */
export async function startRelay(
  options: { dataDir?: string; port?: number; apps?: unknown[]; extraConfig?: Record<string, unknown> } = {},
): Promise<RelayHandle> {
  const work = mkdtempSync(join(tmpdir(), "parley-relay-"));
  const dataDir = options.dataDir ?? join(work, "data");
  const apps = options.apps ?? TEST_APPS;
  // Rooms hibernate after a quarter second (the default is 30 s), so every test also runs through rooms that
  // drop their document between its steps and load it again on the next frame (core/hibernation.ts).
  const baseConfig = { host: "127.0.0.1", dataDir, fsync: "batch", roomHibernateMs: 250, apps, ...options.extraConfig };
  const configFile = join(work, "relay.json");
  writeFileSync(configFile, JSON.stringify({ ...baseConfig, port: options.port ?? 0 }));
  const logs: string[] = [];
  let { child, port } = await spawnRelay(configFile, logs);

  const handle: RelayHandle = {
    port,
    url: `ws://127.0.0.1:${port}/v1`,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    logs,
    configFile,
    signal(signal) {
      child.kill(signal);
    },
    async stop() {
      const exited = waitForExit(child);
      child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      const exited = waitForExit(child);
      child.kill("SIGKILL");
      await exited;
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) await handle.stop();
      writeFileSync(configFile, JSON.stringify({ ...baseConfig, port }));
      logs.length = 0;
      ({ child, port } = await spawnRelay(configFile, logs));
    },
  };
  return handle;
}

/**
 * Signs an HS256 user token for `userId` with the test app's key. `expiresIn`: a jose time span
 * ("1h", "2s") or a number of seconds from now (negative for an already expired token); default "1h".
 * `claims` are added to the payload; `sub` is set to `userId` unless `claims` has a `sub` key or uses the
 * Smooch-style `scope: "appUser"`.
 */
export async function signUserToken(
  userId: string,
  options: { expiresIn?: string | number; kid?: string; secret?: string; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const claims = options.claims ?? {};
  const payload: Record<string, unknown> = { ...claims };
  if (!("sub" in claims) && claims.scope !== "appUser") payload.sub = userId;
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = options.expiresIn ?? "1h";
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", kid: options.kid ?? TEST_APP.kid })
    .setIssuedAt(now)
    .setExpirationTime(typeof expiresIn === "number" ? now + expiresIn : expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_APP.secret));
}

/** A raw WebSocket to the relay that records frames and the close code. */
export interface RawClient {
  ws: WebSocket;
  /** Binary frames received so far. */
  frames: Uint8Array[];
  /** Resolves when the socket opened (rejects if it closed first). */
  opened: Promise<void>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a raw WebSocket on `<relay.url>/<room>?<params>`. */
export function connectRaw(relay: Pick<RelayHandle, "url">, room: string, params: Record<string, string>): RawClient {
  const query = new URLSearchParams(params).toString();
  const ws = new WebSocket(`${relay.url}/${room}${query ? `?${query}` : ""}`);
  ws.binaryType = "nodebuffer";
  const frames: Uint8Array[] = [];
  ws.on("message", (data: Buffer) => frames.push(new Uint8Array(data)));
  ws.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", (code) => reject(new Error(`closed with ${code} before open`)));
  });
  opened.catch(() => {});
  return { ws, frames, opened, closed };
}

/** A stock y-websocket provider on its own Y.Doc, with its own client secret. */
export interface TestProvider {
  doc: Y.Doc;
  provider: WebsocketProvider;
  clientSecret: string;
  /** The Parley client id derived from `clientSecret`. */
  clientId: string;
  /** Destroys the provider and the doc. */
  destroy(): void;
}

/**
 * Connects a stock `WebsocketProvider` to `room` with `disableBc: true` (so sync can only go through the
 * relay). `params` are added to `{ token, client }`.
 */
export function openProvider(
  relay: Pick<RelayHandle, "url">,
  room: string,
  token: string,
  options: { clientSecret?: string; params?: Record<string, string>; doc?: Y.Doc } = {},
): TestProvider {
  const clientSecret = options.clientSecret ?? createSecret();
  const doc = options.doc ?? new Y.Doc();
  const provider = new WebsocketProvider(relay.url, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token, client: clientSecret, ...options.params },
  });
  return {
    doc,
    provider,
    clientSecret,
    clientId: clientIdFromSecret(clientSecret),
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}
