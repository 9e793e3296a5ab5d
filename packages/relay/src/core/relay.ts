/**
 * The relay: an HTTP server with `GET /healthz` and WebSocket upgrades on `/v1/<room>`.
 *
 * A connection's session, in order: admission (URL, client secret, token; see admission.ts), the login
 * merge if asked, the room loaded fully from storage, the anonymous revocation check, then the sync.
 * Frames that arrive meanwhile wait (bounded) and are handled once the room is ready, so nothing is
 * answered from a half-loaded document.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { CloseCode, FencedError, InvalidArgumentError, PARLEY_SUBPROTOCOL } from "@parley/protocol";
import { type WebSocket, WebSocketServer } from "ws";
import { type AppConfig, parseConfig, type RelayConfig } from "../config/config.js";
import { businessApi } from "../extensions/business-api/business-api-extension.js";
import type { ClusterStatsSource } from "../extensions/metrics/cluster-metrics.js";
import { metrics } from "../extensions/metrics/metrics.js";
import { webhooks } from "../extensions/webhooks/webhooks.js";
import { type Admission, admit, WS_PATH_PREFIX } from "../identity/admission.js";
import { PROBLEM_TEXT } from "../identity/credential.js";
import { KeyRing } from "../identity/jwt.js";
import { AnonymousMerges } from "../identity/merge.js";
import { revocationOf } from "../identity/revocation.js";
import { revocationRefusal } from "../identity/revocation-gate.js";
import { type AdmissionBackend, LocalAdmission } from "../limits/admission-backend.js";
import { AdmissionRates } from "../limits/admission-rates.js";
import { remoteAddress } from "../limits/connection-quota.js";
import type { Limits } from "../limits/limits.js";
import { ReplyQueue } from "../limits/reply-queue.js";
import { FileStorage } from "../storage/file-store.js";
import { revocationStoreOf } from "../storage/revocation-store.js";
import type { RelayStorage } from "../storage/storage.js";
import { handleAdminRequest } from "./admin-endpoint.js";
import { Connection } from "./connection.js";
import type { RelayExtension } from "./extension.js";
import { Extensions } from "./extensions.js";
import { privateRooms, roomInUrl } from "./log-privacy.js";
import { type Logger, silentLogger } from "./logger.js";
import { closeSocket, Refusal } from "./refusal.js";
import { Reloader, type ReloadResult } from "./reloader.js";
import type { RoomLeases } from "./room-leases.js";
import { Rooms } from "./rooms.js";
import { timedStorage } from "./timed-storage.js";

/** Options of {@link createRelay}: the config (defaults as in {@link RelayConfig}) plus embeddings. */
export interface RelayOptions extends Partial<Omit<RelayConfig, "apps" | "limits" | "storage" | "cluster">> {
  apps: AppConfig[];
  /** Limits to change from their defaults (see {@link Limits}). */
  limits?: Partial<Limits>;
  /**
   * Storage adapter. Default: a {@link FileStorage} under `dataDir` with the `fsync` policy. For PostgreSQL,
   * pass `await createPostgresStorage({ url })` from `@parley/relay-postgres`.
   */
  storage?: RelayStorage;
  /**
   * Who may load a room when several relay nodes share the storage (room-leases.ts). Default: none. The CLI
   * passes the leases of `@parley/relay-cluster` when the config has `cluster`, with its extension.
   */
  leases?: RoomLeases;
  /**
   * Where connections per address and per user and connection rates per address are counted
   * (limits/admission-backend.ts). Default: this process's memory. The CLI passes the Redis-backed one of
   * `@parley/relay-cluster` when the config has `cluster`, so the limits hold for the whole cluster.
   */
  admission?: AdmissionBackend;
  /** Default: silent. The CLI logs JSON lines to stdout. */
  logger?: Logger;
  /**
   * The extensions, in order (see {@link RelayExtension}). Default: {@link defaultExtensions}() — the business
   * API and webhooks. Pass `[...defaultExtensions(), yours]` to add one, or a list without one to leave it out.
   */
  extensions?: readonly RelayExtension[];
  /**
   * Where {@link Relay.reload} without an argument and `POST /v1/admin/reload` read the new configuration
   * (options as here, without embeddings). The CLI reads its config file and the environment again. Default:
   * none (those answer `InvalidStateError` / 409).
   */
  configSource?: () => ReloadOptions | Promise<ReloadOptions>;
}

/** A configuration to reload: {@link RelayOptions} without the embeddings. */
export type ReloadOptions = Omit<RelayOptions, "storage" | "logger" | "extensions" | "configSource">;

export type { ReloadResult } from "./reloader.js";

/**
 * The extensions a relay runs unless told otherwise: the business API (history imports reported as webhooks),
 * webhooks, and Prometheus metrics (served if the config's `metrics.enabled`; with `cluster`, the node's
 * cluster metrics too).
 */
export function defaultExtensions(options: { cluster?: ClusterStatsSource } = {}): RelayExtension[] {
  const events = webhooks();
  return [businessApi({ webhooks: events }), events, metrics({ webhooks: events, ...options })];
}

/** A relay instance. */
export interface Relay {
  /** Starts listening; resolves with the actual port (useful with `port: 0`). */
  listen(): Promise<{ port: number }>;
  /** Closes every connection (1001), waits for pending writes, and stops. */
  close(): Promise<void>;
  /** The storage adapter (`storage.list(prefix)` names the stored rooms). */
  readonly storage: RelayStorage;
  /**
   * Applies a new configuration without a restart (SIGHUP and `POST /v1/admin/reload` call this): each app's
   * `keys`, `denyTokenIds`, `audience` and `issuer`, and `admin.token`. A new key opens rooms at once; open
   * connections whose token was signed by a removed (or replaced) key, or whose `jti` is now denied, close
   * with 4401 `key-removed` / `token-denied` before this resolves. Other settings that differ are listed in
   * `restartNeeded` and keep their running values.
   *
   * @param config - the new configuration; default: read from `configSource`.
   * @throws `InvalidArgumentError` if it does not validate or adds or removes an app (nothing changed then);
   *   `InvalidStateError` without `config` and without a `configSource`.
   */
  reload(config?: ReloadOptions): Promise<ReloadResult>;
}

/** Largest request head the HTTP server reads; a token up to `limits.maxTokenBytes` fits with room to spare. */
const MAX_HEADER_BYTES = 128 * 1024;

interface Frame {
  data: Buffer;
  isBinary: boolean;
}

/** Creates a relay. Throws `InvalidArgumentError` on a bad config. */
export function createRelay(options: RelayOptions): Relay {
  const {
    storage: givenStorage,
    logger: givenLogger,
    extensions: givenExtensions,
    configSource,
    leases,
    admission: counters = new LocalAdmission(),
    ...raw
  } = options;
  if ((raw as { cluster?: unknown }).cluster !== undefined) {
    // Like `storage`: a config's `cluster` is for the CLI (openCluster), which builds the leases and extension.
    throw new InvalidArgumentError("cluster", "open a config's cluster with openCluster() and pass its parts");
  }
  if (givenStorage !== undefined && typeof (givenStorage as Partial<RelayStorage>).claim !== "function") {
    // A config's `storage: { kind }` is a choice for the CLI (openStorage), not an adapter.
    throw new InvalidArgumentError(
      "storage",
      "must be a RelayStorage adapter; open a config's storage with openStorage()",
    );
  }
  const config = parseConfig(raw);
  const logger = privateRooms(givenLogger ?? silentLogger);
  const storage =
    givenStorage ??
    new FileStorage({
      dataDir: config.dataDir,
      fsync: config.fsync,
      onTruncate: (name, kept, dropped) => logger.warn("cut a torn log tail", { room: name, kept, dropped }),
    });
  const extensions = new Extensions(givenExtensions ?? defaultExtensions(), logger);
  const measured = extensions.has("onStorageWrite")
    ? timedStorage(storage, (event) => extensions.storageWrote(event))
    : storage;
  const rooms = new Rooms({
    storage: measured,
    logger,
    graceMs: config.roomGraceMs,
    hibernateMs: config.roomHibernateMs,
    extensions,
    leases,
  });
  const revocations = revocationStoreOf(storage);
  const merges = new AnonymousMerges(rooms, revocations);
  const appIds = new Set(config.apps.map((app) => app.id));
  const keys = KeyRing.create(config.apps, config.clockToleranceS, config.maxTokenLifetimeS);
  keys.catch(() => {}); // reported by listen()
  const { limits } = config;
  const rates = new AdmissionRates(limits, counters);
  const replies = new ReplyQueue(limits.maxQueuedReplyBytes);
  const sockets = new Set<WebSocket>();
  /** Admitted connections, which a reload checks against the new keys and denylists. */
  const connections = new Set<Connection>();
  const reloader = new Reloader(config, {
    keys,
    connections,
    logger,
    ...(configSource === undefined ? {} : { source: configSource }),
  });
  let closing = false;

  const wss = new WebSocketServer({
    noServer: true,
    // Frames somewhat over a limit are read and refused with 4413; far beyond it ws cuts them off with 1009.
    maxPayload: limits.maxSyncBytes + limits.maxFrameBytes,
    perMessageDeflate: false,
    // Only Parley's own subprotocol is ever selected: the other entries a client offers carry its credentials
    // (see `credentialSubprotocols`), and ws's default would echo the first one back in the 101 response.
    handleProtocols: (offered) => (offered.has(PARLEY_SUBPROTOCOL) ? PARLEY_SUBPROTOCOL : false),
  });

  // Node's 16 KiB default would refuse a long token with HTTP 431 before the upgrade, which a browser cannot
  // see (it retries forever); with room for it, admission refuses the token with a close code instead.
  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (request.method === "GET" && path === "/healthz") {
      response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      return;
    }
    const admin = { token: () => reloader.running.admin.token, reload: () => reloader.reload() };
    if (handleAdminRequest(request, response, admin)) return;
    void extensions.request(request, response).then((answered) => {
      if (!answered) response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    });
  });

  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", (error) => logger.debug("socket error", { error }));
    if (closing) {
      socket.destroy();
      return;
    }
    if (!extensions.routesUpgrades) {
      wss.handleUpgrade(request, socket, head, (ws) => void accept(ws, request));
      return;
    }
    // Another relay node may serve this room (the cluster extension pipes the socket there).
    void extensions.upgrade(request, socket, head).then((decision) => {
      if (decision !== undefined && "taken" in decision) return;
      if (closing || socket.destroyed) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => void accept(ws, request, decision?.clientAddress));
    });
  });

  async function accept(ws: WebSocket, request: IncomingMessage, clientAddress?: string): Promise<void> {
    sockets.add(ws);
    ws.on("error", (error) => logger.debug("websocket error", { error }));
    // Quota slots go back when the socket closes, including one taken while it was already closing.
    let ended = false;
    const releases: Array<() => void> = [];
    const keep = (release: () => void) => (ended ? release() : releases.push(release));
    ws.on("close", () => {
      ended = true;
      sockets.delete(ws);
      for (const release of releases) release();
    });
    const queued: Frame[] = [];
    let queuedBytes = 0;
    const early = (data: Buffer, isBinary: boolean) => {
      queued.push({ data, isBinary });
      queuedBytes += data.length;
      // What a connection can make the relay hold before it is admitted is bounded.
      if (queued.length > 1024 || queuedBytes > limits.maxSyncBytes + limits.maxFrameBytes) {
        const room = roomInUrl(request.url, WS_PATH_PREFIX);
        logger.info("connection refused", { room, code: CloseCode.TooLarge, reason: "early-data" });
        closeSocket(ws, CloseCode.TooLarge, "early-data", "too much data before the session started");
      }
    };
    ws.on("message", early);
    let admission: Admission | undefined;
    try {
      const address = clientAddress ?? remoteAddress(request, limits.trustProxy);
      await rates.connectFrom(address);
      const fromIp = await counters.takeSlot("per-address", address, limits.connectionsPerIp);
      if (fromIp === null)
        throw new Refusal(CloseCode.TooManyConnections, "per-address", "too many connections from this address");
      keep(fromIp);
      const origin = request.headers.origin;
      if (limits.allowedOrigins !== null && origin !== undefined && !limits.allowedOrigins.includes(origin)) {
        throw new Refusal(CloseCode.OriginNotAllowed, "origin", "origin not allowed");
      }
      admission = await admit(request, {
        keys: await keys,
        appIds,
        maxTokenBytes: limits.maxTokenBytes,
        authenticate: (asked) => extensions.authenticate(asked),
      });
      rates.connectTo(admission.room);
      const fromUser = await counters.takeSlot("per-user", admission.room, limits.connectionsPerUser);
      if (fromUser === null)
        throw new Refusal(CloseCode.TooManyConnections, "per-user", "too many connections for this user");
      keep(fromUser);
      // Before the load, which in a cluster would take the room's lease (identity/revocation-gate.ts).
      const revoked = revocations === undefined ? null : await revocationRefusal(revocations, admission);
      if (revoked !== null) throw revoked;
      const room = await rooms.open(admission.room);
      const release = room.hold();
      try {
        if (admission.mergeFrom !== undefined) await merges.merge(room, admission.ref.subject, admission.mergeFrom);
        const refuseIfRevoked = () => {
          if (admission?.ref.kind !== "anonymous") return;
          const revocation = revocationOf(room.doc);
          if (!revocation.revoked && !merges.isClaimed(room.name)) return;
          const reason = revocation.revoked && revocation.mergedInto === undefined ? "revoked" : "merged";
          throw new Refusal(CloseCode.Forbidden, reason, "anonymous user was logged out or merged");
        };
        refuseIfRevoked();
        if (admission.ref.kind === "anonymous" && room.doc.store.clients.size === 0)
          await rates.newAnonymousFrom(address, admission.ref.subject);
        const ring = await keys;
        // A reload while this connection was admitted did not see it: check its credential against it now.
        const problem = admission.credential === undefined ? null : ring.problem(admission.credential);
        if (problem !== null) throw new Refusal(CloseCode.Unauthorized, problem, PROBLEM_TEXT[problem]);
        // Again after the awaits above: a logout or a merge may have revoked the room meanwhile.
        refuseIfRevoked();
        if (ws.readyState !== ws.OPEN) return;
        ws.off("message", early);
        const connection = new Connection(ws, admission, room, {
          limits,
          logger,
          clockToleranceS: config.clockToleranceS,
          extensions,
          replies,
          keys: ring,
          rooms,
          revocations,
        });
        connections.add(connection);
        ws.once("close", () => connections.delete(connection));
        connection.start(queued);
        const clientId = admission.clientId;
        extensions.connected({ room, clientId });
        // The room it is in when it closes: after a hibernation that is another object than the one it joined.
        ws.once("close", (code: number) => extensions.disconnected({ room: connection.currentRoom, clientId, code }));
        logger.debug("connection opened", { room: admission.room, client: admission.clientId });
      } finally {
        release();
      }
    } catch (caught) {
      // Another relay node holds the room (room leases): the client reconnects and is routed to it.
      const error =
        caught instanceof FencedError
          ? new Refusal(CloseCode.GoingAway, "room-moved", "another relay node holds the room")
          : caught;
      if (error instanceof Refusal) {
        const room = admission?.room ?? roomInUrl(request.url, WS_PATH_PREFIX);
        logger.info("connection refused", { room, code: error.code, reason: error.reason, detail: error.detail });
        const refusal = { code: error.code, reason: error.reason, detail: error.detail };
        extensions.refused(admission === undefined ? refusal : { ...refusal, room: admission.ref });
        closeSocket(ws, error.code, error.reason, error.detail);
      } else {
        logger.error("connection failed", { room: admission?.room, error });
        closeSocket(ws, CloseCode.InternalError, "internal", "internal error");
      }
    }
  }

  return {
    storage,
    reload: (given) => reloader.reload(given),
    async listen() {
      const ring = await keys;
      if (storage instanceof FileStorage) await storage.prepare();
      await extensions.start({ config, storage, logger, rooms, keys: ring });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, config.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      logger.info("listening", { port, host: config.host });
      return { port };
    },
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ws of sockets) closeSocket(ws, CloseCode.GoingAway, "shutdown", "relay shutting down");
      await rooms.close(CloseCode.GoingAway, "shutdown", "relay shutting down");
      await extensions.stop();
      await storage.close();
      for (const ws of sockets) ws.terminate();
      server.closeAllConnections();
      await stopped;
      wss.close();
      logger.info("closed");
    },
  };
}
