/**
 * Opens the cluster a config names, for the CLI. The cluster lives in the optional `@parley/relay-cluster`
 * package (and its Redis client), imported only when the config has `cluster`: a single relay, the embedded
 * file store and the quick start never load it, and `@parley/relay` does not depend on it.
 */
import { InvalidArgumentError } from "@parley/protocol";
import type { ClusterConfig } from "../config/cluster-config.js";
import type { RelayExtension } from "../core/extension.js";
import type { Logger } from "../core/logger.js";
import type { RoomLeases } from "../core/room-leases.js";
import type { AdmissionBackend } from "../limits/admission-backend.js";
import type { RelayStorage } from "../storage/storage.js";

/**
 * What a cluster node reports to the metrics extension (`parley_cluster_*`). Totals count since the node started.
 */
export interface ClusterStats {
  /** Room leases this node holds: rooms it serves or is loading. */
  leasesHeld: number;
  /** Leases lost: another node took the room (this node was paused or cut off from PostgreSQL past the lease). */
  leasesLost: number;
  /** Idle rooms handed over because another node asked for them (a login merge there needs the room). */
  roomsHandedOver: number;
  /** Lease renewals PostgreSQL did not answer (past the lease, every held room is lost). */
  renewalsFailed: number;
  /** Connections this node is routing or piping to another node, open now. */
  pipesOpen: number;
  /** Upgrades piped to the room's owner. */
  upgradesPiped: number;
  /** Upgrades answered 503 because the room's owner could not be reached (the client retries). */
  upgradesUnroutable: number;
  /** Business API requests forwarded to the node serving their conversation. */
  requestsForwarded: number;
  /** Whether this node's Redis connection is ready (without it the node routes by PostgreSQL alone). */
  redisReady: boolean;
}

/** What the relay needs of a cluster: the room leases, the shared admission counters, the routing extension. */
export interface ClusterParts {
  /** Pass to `createRelay({ leases })`. */
  leases: RoomLeases;
  /** Pass to `createRelay({ admission })`: connection quotas and rates counted across the nodes. */
  admission: AdmissionBackend;
  /** Put first in `createRelay({ extensions })`: it routes upgrades before anything else sees them. */
  extension: RelayExtension;
  /** Pass to `defaultExtensions({ cluster })`: the metrics extension reports these. */
  stats(): ClusterStats;
}

/** What the CLI needs of `@parley/relay-cluster`. */
interface ClusterModule {
  createCluster(options: { config: ClusterConfig; storage: RelayStorage; logger: Logger }): ClusterParts;
}

// A variable, so that neither TypeScript nor the bundler tries to resolve the optional package.
const CLUSTER_PACKAGE = "@parley/relay-cluster";

/**
 * The cluster's parts for `config` on `storage` (which must be `@parley/relay-postgres`'s). Throws
 * {@link InvalidArgumentError} when the package is not installed.
 */
export async function openCluster(config: ClusterConfig, storage: RelayStorage, logger: Logger): Promise<ClusterParts> {
  let module: ClusterModule;
  try {
    module = (await import(CLUSTER_PACKAGE)) as ClusterModule;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" || !String((error as Error).message).includes(CLUSTER_PACKAGE)) throw error;
    throw new InvalidArgumentError(
      "config.cluster",
      `needs the ${CLUSTER_PACKAGE} package next to @parley/relay: npm install ${CLUSTER_PACKAGE}`,
    );
  }
  return module.createCluster({ config, storage, logger });
}
