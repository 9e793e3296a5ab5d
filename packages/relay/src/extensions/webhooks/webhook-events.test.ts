import {
  type AttestedUpdate,
  clientIdFromSecret,
  createSecret,
  type MessageRecord,
  MessageType,
  messagesOf,
  ownersOf,
  readAttested,
  roomName,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import type { AppConfig } from "../../config/config.js";
import type { RelayExtension } from "../../core/extension.js";
import { Extensions } from "../../core/extensions.js";
import { silentLogger } from "../../core/logger.js";
import type { RoomPeer } from "../../core/room-peer.js";
import { Rooms } from "../../core/rooms.js";
import { MemoryStorage } from "../../storage/storage.js";
import { changeState, watchRoom } from "./webhook-events.js";
import type { ChangeRef, WebhookEvent, WebhookQueue } from "./webhook-queue.js";

const ROOM = roomName({ appId: "app", kind: "user", subject: "alice" });

/** A MemoryStorage whose appends wait until the test opens the gate. */
class GatedStorage extends MemoryStorage {
  private waiting: Array<() => void> = [];
  gated = true;

  override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
    if (this.gated) await new Promise<void>((resolve) => this.waiting.push(resolve));
    await super.append(name, update, fence);
  }

  open(): void {
    this.gated = false;
    for (const release of this.waiting.splice(0)) release();
  }
}

/** Records what would be queued (unit test stand-in for the file outbox). */
function recordingQueue(): {
  queue: WebhookQueue;
  queued: Array<{ event: Omit<WebhookEvent, "id" | "createdAt">; after?: ChangeRef }>;
} {
  const queued: Array<{ event: Omit<WebhookEvent, "id" | "createdAt">; after?: ChangeRef }> = [];
  const apps: AppConfig[] = [{ id: "app", keys: [] }];
  const queue = {
    wants: (appId: string) => apps.some((app) => app.id === appId),
    enqueue: async (event: Omit<WebhookEvent, "id" | "createdAt">, after?: ChangeRef) => {
      queued.push(after === undefined ? { event } : { event, after });
    },
  } as unknown as WebhookQueue;
  return { queue, queued };
}

/** Rooms on `storage` whose loaded rooms report to a recording queue (`queued`). */
function watchedRooms(storage: MemoryStorage): { rooms: Rooms; queued: ReturnType<typeof recordingQueue>["queued"] } {
  const { queue, queued } = recordingQueue();
  const watcher: RelayExtension = { name: "watcher", onRoomLoaded: (room) => watchRoom(room, queue, silentLogger) };
  const rooms = new Rooms({
    storage,
    logger: silentLogger,
    graceMs: 60_000,
    extensions: new Extensions([watcher], silentLogger),
  });
  return { rooms, queued };
}

const peer = (clientId: string, sent: Uint8Array[] = []): RoomPeer => ({
  clientId,
  wantsAcks: false,
  attests: true,
  busy: false,
  synced: true,
  send(frame) {
    sent.push(frame);
  },
  close() {},
  park() {},
  attach() {},
});

/** The attested updates among `frames`. */
function attestedIn(frames: Uint8Array[]): AttestedUpdate[] {
  const found: AttestedUpdate[] = [];
  for (const frame of frames) {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) === MessageType.attested) found.push(readAttested(decoder));
  }
  return found;
}

function clientUpdate(clientId: string, text: string): Uint8Array {
  const doc = new Y.Doc();
  const record: MessageRecord = { id: `id-${text}-000`, role: "user", client: clientId, text, ts: Date.now() };
  messagesOf(doc).push([record]);
  return Y.encodeStateAsUpdate(doc);
}

describe("webhook events", () => {
  it("holds an event until its change is stored, and calls a change nobody stored lost", async () => {
    const storage = new GatedStorage();
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const writing = room.transactAsRelay((doc) =>
      messagesOf(doc).push([{ id: "biz-00001", role: "business", author: {}, text: "hi", ts: 1 }]),
    );
    const item = messagesOf(room.doc)._start;
    if (item === null) throw new Error("no item");
    const change = { room: ROOM, client: item.id.client, clock: item.id.clock };
    expect(await changeState(rooms, change)).toBe("pending");
    storage.open();
    await writing;
    expect(await changeState(rooms, change)).toBe("stored");
    expect(await changeState(rooms, { room: ROOM, client: item.id.client, clock: item.id.clock + 1_000 })).toBe("lost");
    expect(await changeState(rooms, { room: ROOM, client: 4242, clock: 0 })).toBe("lost");
    await rooms.close(1001, "shutdown");
  });

  it("reports messages written by clients, not by the relay, each with the Yjs id of its item", async () => {
    const { rooms, queued } = watchedRooms(new MemoryStorage());
    const room = await rooms.open(ROOM);
    const clientId = clientIdFromSecret(createSecret());
    expect(room.applyClientUpdate(clientUpdate(clientId, "from-a-client"), peer(clientId)).ok).toBe(true);
    await room.transactAsRelay((doc) =>
      messagesOf(doc).push([{ id: "imported-1", role: "user", client: "imported", text: "old", ts: 1 }]),
    );
    const created = queued.filter((entry) => entry.event.type === "message.created");
    expect(created).toHaveLength(1);
    expect(created[0]?.event.data).toMatchObject({
      subject: { kind: "user", id: "alice" },
      message: { text: "from-a-client", clientId },
    });
    const owned = [...ownersOf(room.doc).entries()].find(([, owner]) => owner === clientId)?.[0];
    expect(created[0]?.after).toEqual({ room: ROOM, client: Number(owned), clock: 0 });
    // A joined client's record is stamped in a relay transaction (once its first sync is answered): that is a
    // client.added.
    const joined = peer(clientId);
    room.join(joined, { info: { platform: "test" } });
    room.recordJoin(joined);
    await room.settled();
    expect(
      queued.filter((e) => e.event.type === "client.added").map((e) => (e.event.data.client as { id: string }).id),
    ).toEqual([clientId]);
    await rooms.close(1001, "shutdown");
  });

  it("reports a client's message another client hands back after the relay lost it (attested redelivery)", async () => {
    const storage = new GatedStorage();
    const lost = await new Rooms({ storage, logger: silentLogger, graceMs: 60_000 }).open(ROOM);
    const writerId = clientIdFromSecret(createSecret());
    const frames: Uint8Array[] = [];
    const reader = peer(clientIdFromSecret(createSecret()), frames);
    lost.join(reader, { info: {} });
    // The append never completes (the node dies): the reader got the message attested, at once.
    const written = clientUpdate(writerId, "handed-back");
    expect(lost.applyClientUpdate(written, peer(writerId)).ok).toBe(true);
    const kept = attestedIn(frames);
    expect(kept.length).toBeGreaterThan(0);

    // The room's next load (another node, or this one restarted) learns of the message only from the reader.
    storage.gated = false;
    const { rooms: after, queued } = watchedRooms(storage);
    const room = await after.open(ROOM);
    for (const { update, tag } of kept) expect(room.applyAttested(update, tag, peer(reader.clientId))).toBe(true);
    const created = queued.filter((entry) => entry.event.type === "message.created");
    expect(created.map((entry) => entry.event.data)).toMatchObject([
      { message: { text: "handed-back", clientId: writerId } },
    ]);
    // The writer's own re-send of it is skipped as known: no second event.
    expect(room.applyClientUpdate(written, peer(writerId)).ok).toBe(true);
    expect(queued.filter((entry) => entry.event.type === "message.created")).toHaveLength(1);
    await after.close(1001, "shutdown");
    storage.open();
  });
  it("does not report an import handed back after the relay lost it: imports are history", async () => {
    const storage = new GatedStorage();
    const lost = await new Rooms({ storage, logger: silentLogger, graceMs: 60_000 }).open(ROOM);
    const frames: Uint8Array[] = [];
    const reader = peer(clientIdFromSecret(createSecret()), frames);
    lost.join(reader, { info: {} });
    // Never durable (the node dies; its append is fenced once the next load claims the room): the reader got it
    // attested, at once.
    const dying = lost.transactAsRelay((doc) =>
      messagesOf(doc).push([{ id: "imported-1", role: "user", client: "imported", text: "old", ts: 1 }]),
    );
    dying.catch(() => {});
    const kept = attestedIn(frames);
    expect(kept.length).toBeGreaterThan(0);

    storage.gated = false;
    const { rooms: after, queued } = watchedRooms(storage);
    const room = await after.open(ROOM);
    for (const { update, tag } of kept) expect(room.applyAttested(update, tag, peer(reader.clientId))).toBe(true);
    expect(
      messagesOf(room.doc)
        .toArray()
        .map((m) => m.id),
    ).toEqual(["imported-1"]);
    expect(queued.filter((entry) => entry.event.type === "message.created")).toEqual([]);
    await after.close(1001, "shutdown");
    storage.open();
  });
});
