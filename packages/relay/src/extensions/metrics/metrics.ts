/**
 * The metrics extension: Prometheus metrics at `GET /metrics` (prom-client), from the relay's hooks. Each relay
 * has its own registry, so several relays in one process do not mix their numbers.
 *
 * What it exports (all prefixed `parley_`): open connections, loaded rooms, updates applied (by clients and by
 * the relay), messages written by users, refusals by close code, durable-state advances, storage write latency
 * (append, compact, remove: from the call to durable), webhook queue depth,
 * failed attempts and given-up deliveries, a cluster node's leases, pipes and forwards (cluster-metrics.ts), plus
 * Node's process metrics (event-loop lag, heap, CPU, handles).
 * Room names and user ids never appear in labels: they would leak who talks and grow without bound.
 */
import { timingSafeEqual } from "node:crypto";
import { messagesOf } from "@parley/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Transaction } from "yjs";
import { forEachAddedMessage } from "../../authorship/added-messages.js";
import type { RelayExtension } from "../../core/extension.js";
import type { WebhooksExtension } from "../webhooks/webhooks.js";
import { type ClusterStatsSource, registerClusterMetrics } from "./cluster-metrics.js";

/** The path metrics are served on. */
export const METRICS_PATH = "/metrics";

/** Options of {@link metrics}. */
export interface MetricsOptions {
  /** Reports the webhook queue's depth and failures. */
  webhooks?: WebhooksExtension;
  /** Reports a cluster node's leases, pipes and forwards (the relay's `ClusterParts`). */
  cluster?: ClusterStatsSource;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Creates the metrics extension. Whether `/metrics` is served, and the bearer token it asks for, come from the
 * relay config's `metrics` (`{ enabled, token }`).
 */
export function metrics(options: MetricsOptions = {}): RelayExtension & { readonly registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "parley_" });
  const connections = new Gauge({
    name: "parley_connections",
    help: "Open client connections.",
    registers: [registry],
  });
  const rooms = new Gauge({ name: "parley_rooms_loaded", help: "Rooms loaded in memory.", registers: [registry] });
  const updates = new Counter({
    name: "parley_updates_total",
    help: "Updates applied to documents, by source (client or relay).",
    labelNames: ["source"],
    registers: [registry],
  });
  const messages = new Counter({
    name: "parley_messages_total",
    help: "Messages written by user clients.",
    registers: [registry],
  });
  const refusals = new Counter({
    name: "parley_refusals_total",
    help: "Connections or frames refused, by WebSocket close code.",
    labelNames: ["code"],
    registers: [registry],
  });
  const stored = new Counter({
    name: "parley_stored_total",
    help: "Times a room's durable state advanced (acknowledgements may follow).",
    registers: [registry],
  });
  const writes = new Histogram({
    name: "parley_storage_write_seconds",
    help: 'Time from a storage write to durable, by op (append, compact, remove); with fsync "batch" an append includes its fsync.',
    labelNames: ["op"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  if (options.cluster !== undefined) registerClusterMetrics(registry, options.cluster);
  const { webhooks } = options;
  if (webhooks !== undefined) {
    new Gauge({
      name: "parley_webhook_queue_depth",
      help: "Webhook deliveries waiting or in flight.",
      registers: [registry],
      collect() {
        this.set(webhooks.stats().queued);
      },
    });
    new Gauge({
      name: "parley_webhook_failed_attempts",
      help: "Webhook delivery attempts that failed since the start (each is retried).",
      registers: [registry],
      collect() {
        this.set(webhooks.stats().failedAttempts);
      },
    });
    new Gauge({
      name: "parley_webhook_given_up",
      help: "Webhook deliveries given up after their last attempt since the start.",
      registers: [registry],
      collect() {
        this.set(webhooks.stats().givenUp);
      },
    });
  }

  let enabled = true;
  let token: string | null = null;
  return {
    name: "metrics",
    registry,
    onStart({ config }) {
      enabled = config.metrics.enabled;
      token = config.metrics.token;
    },
    onRoomLoaded(room) {
      rooms.inc();
      const list = messagesOf(room.doc);
      list.observe((_event, transaction: Transaction) => {
        // Only what a connected client wrote: not business messages, imports or what a login merge brings along.
        const origin = transaction.origin as { clientId?: unknown } | null;
        if (typeof origin?.clientId !== "string") return;
        forEachAddedMessage(transaction, list, (record) => {
          if (record.role === "user") messages.inc();
        });
      });
    },
    onRoomUnloaded: () => rooms.dec(),
    onChange: (event) => updates.inc({ source: event.clientId === null ? "relay" : "client" }),
    onStored: () => stored.inc(),
    onConnect: () => connections.inc(),
    onDisconnect: () => connections.dec(),
    onRefusal: (event) => refusals.inc({ code: String(event.code) }),
    onStorageWrite: (event) => writes.observe({ op: event.op }, event.seconds),
    async onRequest(request, response) {
      if (!enabled || request.method !== "GET" || (request.url ?? "").split("?")[0] !== METRICS_PATH) return false;
      const given = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
      if (token !== null && (given === undefined || !sameSecret(given, token))) {
        response.writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" }).end("unauthorized\n");
        return true;
      }
      const body = await registry.metrics();
      response.writeHead(200, { "content-type": registry.contentType }).end(body);
      return true;
    },
  };
}
