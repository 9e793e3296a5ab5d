/**
 * A relay node of a cluster: its room leases (handed to `createRelay({ leases })`), its admission counters
 * in Redis (`createRelay({ admission })`) and the extension that routes upgrades and runs the heartbeats and
 * the lease renewals from the relay's start to its stop.
 */
import { InvalidArgumentError } from "@parley/protocol";
import {
  type ClusterConfig,
  type ClusterParts,
  type ClusterStats,
  type Logger,
  type RelayExtension,
  type RelayStorage,
  type RoomHandle,
  revocationStoreOf,
} from "@parley/relay";
import type { RoomOwnership } from "@parley/relay-postgres";
import { RedisAdmission } from "./admission.js";
import { Coordination, ownerString } from "./coordination.js";
import { ClusterLeases } from "./leases.js";
import { lookupBudget } from "./lookup-budget.js";
import { Router } from "./router.js";

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  /** The validated `cluster` option of the relay config. */
  config: ClusterConfig;
  /** The relay's storage: a `PostgresStorage` of `@parley/relay-postgres` (its leases share the fence). */
  storage: RelayStorage;
  /** Logs (the CLI passes its logger with room names hashed). */
  logger: Logger;
}

/** Time between heartbeats: a node is dead to the others three beats after its last one. */
const HEARTBEAT_MS = 1_000;
/**
 * A room loaded more recently than this is not handed over on request: it is being joined (its first
 * connection is admitted before it counts as a peer), or two nodes raced to load it.
 */
const SETTLED_MS = 500;

function ownershipOf(storage: RelayStorage): RoomOwnership {
  const ownership = (storage as { ownership?: RoomOwnership }).ownership;
  if (ownership === undefined || typeof ownership.acquire !== "function") {
    throw new InvalidArgumentError("storage", "a cluster needs the PostgreSQL storage of @parley/relay-postgres");
  }
  return ownership;
}

/**
 * The parts a relay node of a cluster runs with: pass `leases` to `createRelay` and put `extension` first in
 * its extensions. Nothing connects until the relay starts.
 */
export function createCluster(options: ClusterOptions): ClusterParts {
  const { config, logger } = options;
  const ownership = ownershipOf(options.storage);
  const self = { nodeId: config.nodeId, advertise: config.advertise };
  const heartbeatMs = Math.min(HEARTBEAT_MS, Math.floor(config.leaseMs / 4));
  const coordination = new Coordination({
    url: config.redis,
    keyPrefix: config.keyPrefix,
    self,
    heartbeatMs,
    canServe: (): boolean => !leases.stalled,
    logger,
  });
  const admission = new RedisAdmission({
    url: config.redis,
    keyPrefix: config.keyPrefix,
    nodeId: config.nodeId,
    heartbeatMs,
    logger,
  });
  const leases = new ClusterLeases({
    ownership,
    coordination,
    owner: ownerString(self),
    leaseMs: config.leaseMs,
    logger,
  });
  const router = new Router({
    self,
    secret: config.secret,
    leaseMs: config.leaseMs,
    ownership,
    coordination,
    leases,
    revocations: revocationStoreOf(options.storage),
    logger,
  });
  // Rooms loaded here, to tell whether one asked for is in use (hand-over requests, coordination.ts).
  const loaded = new Map<string, { room: RoomHandle; at: number }>();
  coordination.onReleaseRequest((name) => {
    const entry = loaded.get(name);
    if (entry === undefined || !entry.room.isOpen || entry.room.peerCount > 0) return;
    if (performance.now() - entry.at < SETTLED_MS) return;
    logger.debug("room handed over on request", { room: name });
    leases.handOver(name);
  });
  const extension: RelayExtension = {
    name: "cluster",
    onRoomLoaded(room) {
      loaded.set(room.name, { room, at: performance.now() });
    },
    onRoomUnloaded(room) {
      if (loaded.get(room.name)?.room === room) loaded.delete(room.name);
    },
    async onStart(context) {
      router.trustProxy = context.config.limits.trustProxy;
      router.budget = lookupBudget(context.config.limits.connectsPerMinutePerIp);
      await Promise.all([coordination.start(), admission.start()]);
      leases.start();
      logger.info("cluster node started", { node: config.nodeId, advertise: config.advertise });
    },
    onUpgrade: (request, socket, head) => router.route(request, socket, head),
    onRequest: (request, response) => router.forward(request, response),
    async onStop() {
      router.closePipes();
      await leases.stop();
      await Promise.all([coordination.stop(), admission.stop()]);
    },
  };
  const stats = (): ClusterStats => ({
    leasesHeld: leases.size,
    leasesLost: leases.counts.lost,
    roomsHandedOver: leases.counts.handedOver,
    renewalsFailed: leases.counts.renewalsFailed,
    pipesOpen: router.openPipes,
    upgradesPiped: router.counts.piped,
    upgradesUnroutable: router.counts.unroutable,
    requestsForwarded: router.counts.forwarded,
    redisReady: coordination.ready,
  });
  return { leases, admission, extension, stats };
}
