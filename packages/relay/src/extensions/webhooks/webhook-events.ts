/**
 * Finds the webhook events in what happens to a loaded room, and queues them:
 *
 * - `message.created`: a user's client wrote a message (not history the relay merged or imported);
 * - `client.added`: a client's record appeared in a subject (its first connection, or a login merge that
 *   brought the anonymous user's clients along);
 * - `client.loggedOut`: a client's record went from active to inactive (the logout frame);
 * - `user.merged`: an anonymous id was added to a user document's `meta.merged` by a login merge.
 *
 * `conversation.imported` is queued by the business API, which knows the import is stored when it answers.
 *
 * Events are found by observing each room's document as changes are applied, and queued with the Yjs id
 * of the change, so the outbox holds them until the change is durably stored (see webhook-queue.ts).
 * Logouts and merges count only in local relay transactions: a merge applies another document's state
 * through `Y.applyUpdate`, which Yjs marks remote, and what it carries was reported in its own room.
 */

import {
  type ClientRecord,
  clientsOf,
  isMessageRecord,
  type MessageRecord,
  messagesOf,
  metaOf,
  type RoomRef,
} from "@parley/protocol";
import * as Y from "yjs";
import { forEachAddedMessage } from "../../authorship/added-messages.js";
import type { RoomHandle, RoomOpener } from "../../core/extension.js";
import type { Logger } from "../../core/logger.js";
import { Redelivery } from "../../core/room-peer.js";
import { MERGED_KEY } from "../../identity/merge.js";
import { toApiMessage } from "../business-api/business-view.js";
import { IMPORTED_CLIENT_ID } from "../business-api/business-writes.js";
import type { WebhookEventType } from "./webhook-config.js";
import type { ChangeRef, ChangeState, WebhookQueue } from "./webhook-queue.js";

function subjectOf(ref: RoomRef): { kind: RoomRef["kind"]; id: string } {
  return { kind: ref.kind, id: ref.subject };
}

/**
 * Whether a transaction applied an update from a connected client (its origin is the connection), or a client's
 * update the relay forwarded (attested) and lost before storing it, handed back by another client after a crash
 * (`Redelivery`): the writer's own re-send of it is then skipped by Yjs as known, so this is the only time its
 * messages are applied here, and an acknowledged message must have its `message.created`. (An attested login
 * merge handed back would be reported again in the user room: the merge is not told apart here.)
 */
function fromPeer(origin: unknown): boolean {
  if (origin instanceof Redelivery) return true;
  return (
    typeof origin === "object" && origin !== null && typeof (origin as { clientId?: unknown }).clientId === "string"
  );
}

/** Observes `room` and queues the events its app's webhooks want. */
export function watchRoom(room: RoomHandle, queue: WebhookQueue, logger: Logger): void {
  const { appId } = room.ref;
  const wants = (type: WebhookEventType) => queue.wants(appId, type);
  if (!(["message.created", "client.added", "client.loggedOut", "user.merged"] as const).some(wants)) return;
  const enqueue = (type: WebhookEventType, data: Record<string, unknown>, item: Y.Item | undefined, offset = 0) => {
    const after: ChangeRef | undefined =
      item === undefined ? undefined : { room: room.name, client: item.id.client, clock: item.id.clock + offset };
    // The outbox file is written synchronously here, before the change's own append is issued.
    const report = (error: unknown) => logger.error("webhook event not queued", { room: room.name, type, error });
    try {
      queue.enqueue({ type, appId, data }, after).catch(report);
    } catch (error) {
      report(error);
    }
  };

  // An observer that throws would fail the transaction that applied a client's update; never let it.
  const guard =
    <E>(observe: (event: E, transaction: Y.Transaction) => void) =>
    (event: E, transaction: Y.Transaction) => {
      try {
        observe(event, transaction);
      } catch (error) {
        logger.error("webhook event detection failed", { room: room.name, error });
      }
    };

  const messages = messagesOf(room.doc);
  messages.observe(
    guard((_event: Y.YArrayEvent<MessageRecord>, transaction) => {
      if (!fromPeer(transaction.origin) || !wants("message.created")) return;
      const handedBack = transaction.origin instanceof Redelivery;
      forEachAddedMessage(transaction, messages, (record, item, offset) => {
        if (item.deleted || !isMessageRecord(record) || record.role !== "user") return;
        // An import handed back after a crash is history, as when it was first applied (imports are not reported).
        if (handedBack && record.client === IMPORTED_CLIENT_ID) return;
        enqueue("message.created", { subject: subjectOf(room.ref), message: toApiMessage(record) }, item, offset);
      });
    }),
  );

  const clients = clientsOf(room.doc);
  clients.observe(
    guard((event: Y.YMapEvent<ClientRecord>, transaction) => {
      for (const [key, change] of event.changes.keys) {
        const record = clients.get(key);
        if (record === undefined || key === IMPORTED_CLIENT_ID) continue;
        const item = clients._map.get(key);
        const data = { subject: subjectOf(room.ref), client: record };
        // A record a login merge brings along is a client added to the user as well.
        if (change.action === "add" && wants("client.added")) enqueue("client.added", data, item);
        const before = change.oldValue as ClientRecord | undefined;
        const loggedOut = transaction.local && before?.active === true && !record.active;
        if (change.action === "update" && loggedOut && wants("client.loggedOut")) {
          enqueue("client.loggedOut", data, item);
        }
      }
    }),
  );

  if (room.ref.kind !== "user") return;
  const meta = metaOf(room.doc);
  meta.observe(
    guard((event: Y.YMapEvent<unknown>, transaction) => {
      if (!transaction.local || !event.keysChanged.has(MERGED_KEY) || !wants("user.merged")) return;
      const before = event.changes.keys.get(MERGED_KEY)?.oldValue;
      const after = meta.get(MERGED_KEY);
      const known = new Set(Array.isArray(before) ? before : []);
      for (const anonymousId of Array.isArray(after) ? after : []) {
        if (typeof anonymousId !== "string" || known.has(anonymousId)) continue;
        enqueue("user.merged", { anonymousId, userId: room.ref.subject }, meta._map.get(MERGED_KEY));
      }
    }),
  );
}

/** Whether the room has stored the change (loading the room from storage if it is not loaded). */
export async function changeState(rooms: RoomOpener, change: ChangeRef): Promise<ChangeState> {
  const room = await rooms.open(change.room);
  const release = room.hold();
  try {
    const stored = Y.decodeStateVector(room.storedStateVector());
    if ((stored.get(change.client) ?? 0) > change.clock) return "stored";
    return Y.getState(room.doc.store, change.client) > change.clock && room.isOpen ? "pending" : "lost";
  } finally {
    release();
  }
}
