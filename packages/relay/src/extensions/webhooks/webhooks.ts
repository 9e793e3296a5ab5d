/**
 * The webhooks extension: finds events in what happens to rooms (webhook-events.ts), keeps them in a durable
 * outbox until the change they report is stored, and delivers them signed (webhook-queue.ts). Endpoints are
 * configured per app (`apps[].webhooks`).
 */
import type { ExtensionContext, RelayExtension, RoomHandle } from "../../core/extension.js";
import { webhookOutboxOf } from "../../storage/webhook-outbox.js";
import type { WebhookEventType } from "./webhook-config.js";
import { changeState, watchRoom } from "./webhook-events.js";
import { type WebhookEvent, WebhookQueue } from "./webhook-queue.js";

/** The webhooks extension; other extensions (the business API) can queue events through it. */
export interface WebhooksExtension extends RelayExtension {
  /** Whether an endpoint of `appId` subscribes to `type`. */
  wants(appId: string, type: WebhookEventType): boolean;
  /** Queues an event (durably, see `WebhookQueue.enqueue`) for every endpoint of its app that wants it. */
  enqueue(event: Omit<WebhookEvent, "id" | "createdAt">): Promise<void>;
  /** Deliveries queued, attempts failed and deliveries given up since the start. */
  stats(): { queued: number; failedAttempts: number; givenUp: number };
}

/**
 * Creates the webhooks extension. Its outbox is the storage's when the storage offers one (`WebhookOutbox`,
 * PostgreSQL: shared by every node, written with the change), otherwise files in `<dataDir>/webhooks`.
 */
export function webhooks(): WebhooksExtension {
  let queue: WebhookQueue | undefined;
  let context: ExtensionContext | undefined;
  const started = (): WebhookQueue => {
    if (queue === undefined) throw new Error("the webhooks extension has not started");
    return queue;
  };
  return {
    name: "webhooks",
    async onStart(given) {
      context = given;
      const { config, logger, rooms } = given;
      queue = new WebhookQueue({
        dataDir: config.dataDir,
        fsync: config.fsync,
        apps: config.apps,
        logger,
        changeState: (change) => changeState(rooms, change),
        maxQueuedPerApp: config.limits.maxWebhookDeliveriesPerApp,
        // A storage with its own outbox (PostgreSQL) stores events with their change, for every node to send;
        // otherwise (the file store) they are files under this process's dataDir.
        outbox: webhookOutboxOf(given.storage),
      });
      await queue.start();
    },
    onRoomLoaded(room: RoomHandle) {
      if (queue !== undefined && context !== undefined) watchRoom(room, queue, context.logger);
    },
    onRoomUnloaded(room: RoomHandle) {
      queue?.roomUnloaded(room.name);
    },
    // Called by the relay right before it appends the change: the events found while applying it go with it.
    onChange(event) {
      queue?.changeApplied(event.room.name, event.update);
    },
    onStored() {
      queue?.changeStored();
    },
    async onStop() {
      await queue?.close();
    },
    wants: (appId, type) => queue?.wants(appId, type) ?? false,
    enqueue: (event) => started().enqueue(event),
    stats: () => queue?.stats() ?? { queued: 0, failedAttempts: 0, givenUp: 0 },
  };
}
