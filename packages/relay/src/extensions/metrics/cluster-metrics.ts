/**
 * The `parley_cluster_*` metrics of a relay node running in a cluster (`@parley/relay-cluster`), read from the
 * cluster's stats at every scrape. Totals are Prometheus counters: each scrape adds what the node counted since
 * the one before.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ClusterStats } from "../../cluster/open-cluster.js";

/** Where the cluster metrics come from: `ClusterParts` of the relay's cluster. */
export interface ClusterStatsSource {
  stats(): ClusterStats;
}

type Total =
  | "leasesLost"
  | "roomsHandedOver"
  | "renewalsFailed"
  | "upgradesPiped"
  | "upgradesUnroutable"
  | "requestsForwarded";

const TOTALS: Array<[Total, string, string]> = [
  ["leasesLost", "parley_cluster_leases_lost_total", "Room leases lost to another node (this node paused or cut off)."],
  ["roomsHandedOver", "parley_cluster_rooms_handed_over_total", "Idle rooms handed over at another node's request."],
  ["renewalsFailed", "parley_cluster_lease_renewals_failed_total", "Lease renewals PostgreSQL did not answer."],
  ["upgradesPiped", "parley_cluster_upgrades_piped_total", "Upgrades piped to the node serving the room."],
  ["upgradesUnroutable", "parley_cluster_upgrades_unroutable_total", "Upgrades answered 503: owner unreachable."],
  ["requestsForwarded", "parley_cluster_requests_forwarded_total", "Business API requests forwarded to the owner."],
];

/** Registers the cluster metrics of `source` in `registry`. */
export function registerClusterMetrics(registry: Registry, source: ClusterStatsSource): void {
  const gauge = (name: string, help: string, read: (stats: ClusterStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(source.stats()));
      },
    });
  gauge("parley_cluster_leases_held", "Room leases this node holds (rooms it serves or loads).", (s) => s.leasesHeld);
  gauge("parley_cluster_pipes_open", "Connections being routed or piped to another node.", (s) => s.pipesOpen);
  gauge("parley_cluster_redis_ready", "1 if the node's Redis connection is ready, else 0.", (s) => +s.redisReady);
  for (const [key, name, help] of TOTALS) {
    let reported = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const total = source.stats()[key];
        this.inc(total - reported);
        reported = total;
      },
    });
  }
}
