// The servers under test: how to start each one and how a client reaches a conversation on it.
//
// Every target gets the same conversation names (Parley's `<app>/u/<base64url(userId)>`), the same users, tokens
// and message records. Parley runs as a real deployment would: JWT verification, the authorship check, durable
// file storage with group-commit fsync, and `acks=1` + `attest=1` on every client (what @parley/client asks for).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { roomName } from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import { BENCH_APP, signUserToken } from "./identity.mjs";
import { relayArgs, relayEndpoint, writeRelayConfig } from "./parley-relay.mjs";
import { POSTGRES_TARGETS, postgresVersions } from "./postgres-targets.mjs";
import { startServer } from "./server-process.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** @param {string} path @returns {string} */
function versionAt(path) {
  return JSON.parse(readFileSync(join(path, "package.json"), "utf8")).version;
}
const packageDir = (/** @type {string} */ name, from = join(here, "node_modules")) => realpathSync(join(from, name));
const yWebsocketServerDir = packageDir("@y/websocket-server");
const sqliteExtensionDir = packageDir("@hocuspocus/extension-sqlite");

/** The commit the relay was built from, and whether its sources had uncommitted changes. */
function relaySource() {
  try {
    const git = (/** @type {string[]} */ ...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "packages/relay") === ""
      ? `commit ${commit}`
      : `commit ${commit} + local changes`;
  } catch {
    return "source unknown";
  }
}

/** Versions of everything measured, for the report. */
export function versions() {
  return {
    node: process.version,
    "@y/websocket-server": versionAt(yWebsocketServerDir),
    "y-leveldb (its persistence)": versionAt(packageDir("y-leveldb", join(yWebsocketServerDir, "../.."))),
    "@hocuspocus/server": versionAt(packageDir("@hocuspocus/server")),
    "@hocuspocus/extension-sqlite": versionAt(sqliteExtensionDir),
    "better-sqlite3": versionAt(packageDir("better-sqlite3", join(sqliteExtensionDir, "../.."))),
    "@parley/relay": `${versionAt(join(root, "packages/relay"))} (${relaySource()})`,
    ...postgresVersions(),
    yjs: versionAt(packageDir("yjs")),
    ws: versionAt(packageDir("ws")),
  };
}

/**
 * Who a connection speaks for. A user by default; `anonymousSecret` opens that anonymous user's room instead
 * (Parley only); `merge` asks Parley to merge an anonymous user into the user on connect; `tail` asks Parley for
 * a `recent` preview of the newest messages before the sync (peers have none and ignore it).
 * `node` picks the node of a target of several (round-robin when absent; the others ignore it).
 * @typedef {{ userId?: string, anonymousSecret?: string, clientSecret: string, merge?: string, tail?: number,
 *   node?: number }} Subject
 */

/**
 * @typedef {object} RunningTarget
 * @property {import("./server-process.mjs").ServerHandle} server
 * @property {string} dataPath Where it stores documents ("" when it keeps them in memory only).
 * @property {(subject: Subject) => Promise<import("./connection.mjs").Endpoint>} endpoint
 * @property {(documentName: string, updates: Uint8Array[]) => Promise<void>} [seed] Writes updates straight
 *   into the target's storage (before any client opens that document).
 * @property {number} [nodes] How many relay nodes it runs (a cluster); `server.parts` holds each one.
 * @property {(documentNames: string[]) => Promise<Array<number | null>>} [owners] A cluster's: the node (index)
 *   holding each room's lease now, null for none.
 * @property {DatabaseMeter} [database] The CPU of the database server's processes that serve it (PostgreSQL).
 * @property {() => Promise<void>} [dispose] Removes what it keeps outside its working directory (a PostgreSQL
 *   schema, Redis keys), once its server has stopped for good.
 */

/**
 * @typedef {object} DatabaseMeter
 * @property {() => Promise<number | null>} cpuNanos CPU time the database's processes serving this target have
 *   used so far (null when they cannot be read from here).
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} Target
 * @property {string} id
 * @property {string} name
 * @property {string} persistence What it stores documents with, in words.
 * @property {boolean} durable Whether it writes documents to disk.
 * @property {string[]} [only] The scenarios it takes part in (all when absent).
 * @property {boolean} [floor] A reference that is not a sync server (not a peer).
 * @property {() => Promise<string | null>} [unavailable] Why it cannot run on this machine (a server it needs is
 *   not reachable, and how to start one), or null when it can.
 * @property {(workDir: string, options: { profileDir?: string }) => Promise<RunningTarget>} start
 */

/**
 * @param {number} port
 * @param {"y-websocket" | "hocuspocus"} framing
 * @returns {(subject: Subject) => Promise<import("./connection.mjs").Endpoint>}
 */
function peerEndpoint(port, framing) {
  return async ({ userId = "anonymous" }) => {
    const documentName = roomName({ appId: BENCH_APP.id, kind: "user", subject: userId });
    const token = await signUserToken(userId);
    const url = framing === "hocuspocus" ? `ws://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/${documentName}`;
    return { url, framing, documentName, token };
  };
}

/** @type {Target[]} */
export const TARGETS = [
  {
    id: "ws-forward",
    name: "bare WebSocket forward (the floor)",
    persistence: "none; no Yjs, no auth: every frame forwarded as it came",
    durable: false,
    // In capacity too: memory per idle connection is judged against what a bare `ws` connection costs.
    only: ["latency", "throughput", "capacity"],
    floor: true,
    async start() {
      const server = await startServer({ name: this.id, args: [join(here, "servers/forward-server.mjs")] });
      return { server, dataPath: "", endpoint: peerEndpoint(server.port, "y-websocket") };
    },
  },
  {
    id: "y-websocket",
    name: "y-websocket server",
    persistence: "none (documents in memory)",
    durable: false,
    async start() {
      const server = await startServer({ name: this.id, args: [join(here, "servers/y-websocket-server.mjs")] });
      return { server, dataPath: "", endpoint: peerEndpoint(server.port, "y-websocket") };
    },
  },
  {
    id: "y-websocket+leveldb",
    name: "y-websocket server + y-leveldb",
    persistence: "its built-in y-leveldb persistence (YPERSISTENCE): every update appended, not awaited",
    durable: true,
    async start(workDir) {
      const dataPath = join(workDir, "leveldb");
      const server = await startServer({
        name: this.id,
        args: [join(here, "servers/y-websocket-server.mjs"), "--persistence", dataPath],
      });
      return { server, dataPath, endpoint: peerEndpoint(server.port, "y-websocket") };
    },
  },
  {
    id: "hocuspocus",
    name: "Hocuspocus",
    persistence: "none (documents in memory)",
    durable: false,
    async start() {
      const server = await startServer({ name: this.id, args: [join(here, "servers/hocuspocus-server.mjs")] });
      return { server, dataPath: "", endpoint: peerEndpoint(server.port, "hocuspocus") };
    },
  },
  {
    id: "hocuspocus+sqlite",
    name: "Hocuspocus + SQLite",
    persistence: "@hocuspocus/extension-sqlite: the whole document stored after a 2 s debounce (10 s at most)",
    durable: true,
    async start(workDir) {
      const dataPath = join(workDir, "hocuspocus.sqlite");
      const server = await startServer({
        name: this.id,
        args: [join(here, "servers/hocuspocus-server.mjs"), "--sqlite", dataPath],
      });
      return { server, dataPath, endpoint: peerEndpoint(server.port, "hocuspocus") };
    },
  },
  parleyTarget({
    id: "parley",
    name: "Parley relay",
    fsync: "batch",
    persistence:
      'its file store (append-only log per document, group commit, `fsync: "batch"`); JWT checks, authorship checks and acks on',
  }),
  parleyTarget({
    id: "parley-fsync-off",
    name: 'Parley relay, `fsync: "off"`',
    fsync: "off",
    persistence:
      'its file store with `fsync: "off"` (write() before acknowledging: survives a crash of the process, not of the machine)',
    only: ["latency", "throughput"],
  }),
  ...POSTGRES_TARGETS,
];

/** The stock server with its memory store: the reference the goals are stated against. */
export const REFERENCE = "y-websocket";

/**
 * The Parley relay on its file store, with a given fsync policy.
 * @param {{ id: string, name: string, fsync: "batch" | "off", persistence: string, only?: string[] }} options
 * @returns {Target}
 */
function parleyTarget({ id, name, fsync, persistence, only }) {
  return {
    id,
    name,
    persistence,
    durable: true,
    ...(only === undefined ? {} : { only }),
    async start(workDir, { profileDir }) {
      const dataPath = join(workDir, "parley-data");
      mkdirSync(dataPath, { recursive: true });
      const configPath = join(workDir, "parley.json");
      writeRelayConfig(configPath, dataPath, { fsync });
      const server = await startServer({ name: this.id, args: relayArgs(configPath, profileDir) });
      return {
        server,
        dataPath,
        async seed(documentName, updates) {
          const storage = new FileStorage({ dataDir: dataPath, fsync });
          const fence = await storage.claim(documentName);
          await Promise.all(updates.map((update) => storage.append(documentName, update, fence)));
          await storage.close();
        },
        endpoint: relayEndpoint(() => server.port),
      };
    },
  };
}
