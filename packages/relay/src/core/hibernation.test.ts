import { messagesOf, ownersOf } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { MemoryStorage } from "../storage/storage.js";
import { READER_ACK_MS } from "./acks.js";
import { silentLogger } from "./logger.js";
import type { Room } from "./room.js";
import type { RoomLeases } from "./room-leases.js";
import type { RoomPeer } from "./room-peer.js";
import { Rooms } from "./rooms.js";

const ROOM = "app/u/YWxpY2U";

class Peer implements RoomPeer {
  readonly wantsAcks = true;
  readonly attests = true;
  readonly busy = false;
  synced = true;
  /** `null` while parked; the room it was handed when its room loaded again. */
  room: Room | null | undefined;
  closedWith: number | undefined;
  constructor(readonly clientId: string) {}
  send(): void {}
  close(code: number): void {
    this.closedWith = code;
  }
  park(): void {
    this.room = null;
  }
  attach(room: Room): void {
    this.room = room;
  }
}

const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await quiet(10);
  expect(condition()).toBe(true);
}

async function roomWithMessage(rooms: Rooms, peer: Peer): Promise<Room> {
  const room = await rooms.open(ROOM);
  room.join(peer, { info: {} });
  await room.durableUpdateSince(new Uint8Array([0]));
  room.recordJoin(peer);
  const doc = new Y.Doc();
  messagesOf(doc).push([{ id: "message-0001", role: "user", client: peer.clientId, text: "hi", ts: 1 }]);
  expect(room.applyClientUpdate(Y.encodeStateAsUpdate(doc), peer).ok).toBe(true);
  await room.settled();
  return room;
}

describe("hibernation", () => {
  it("drops a quiet room with connected peers, and gives them the same document when it loads again", async () => {
    const rooms = new Rooms({ storage: new MemoryStorage(), logger: silentLogger, graceMs: 60_000, hibernateMs: 50 });
    const peer = new Peer("client-aaaaaaaaaaaaaaaa");
    const room = await roomWithMessage(rooms, peer);
    await waitUntil(() => peer.room === null);
    expect(room.isOpen).toBe(false);
    expect(rooms.size).toBe(0);

    const again = await rooms.open(ROOM);
    expect(peer.room).toBe(again);
    expect(again.peerCount).toBe(1);
    expect(messagesOf(again.doc).map((m) => m.id)).toEqual(["message-0001"]);
    expect([...ownersOf(again.doc).values()]).toContain(peer.clientId);
    await rooms.close(1001, "shutdown");
  });

  it("keeps a room loaded while a write is in flight, and lets it hibernate once the write is stored", async () => {
    const storage = new MemoryStorage();
    let release: () => void = () => {};
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000, hibernateMs: 50 });
    const peer = new Peer("client-bbbbbbbbbbbbbbbb");
    const room = await roomWithMessage(rooms, peer);
    const append = storage.append.bind(storage);
    storage.append = async (...args) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return append(...args);
    };
    void room.transactAsRelay((doc) => doc.getMap("meta").set("x", 1));
    await quiet(200);
    expect(peer.room).toBeUndefined(); // never parked: the write is in flight
    storage.append = append;
    release();
    await waitUntil(() => peer.room === null);
    const again = await rooms.open(ROOM);
    expect(again.doc.getMap("meta").get("x")).toBe(1);
    await rooms.close(1001, "shutdown");
  });

  it("may hibernate only once no ack is owed and it was quiet long enough", async () => {
    const rooms = new Rooms({ storage: new MemoryStorage(), logger: silentLogger, graceMs: 60_000 });
    const peer = new Peer("client-dddddddddddddddd");
    const room = await roomWithMessage(rooms, peer);
    await room.transactAsRelay((doc) => doc.getMap("meta").set("x", 1));
    expect(room.mayHibernate(Date.now() + 60, 50)).toBe(false); // the reader's ack is owed
    await quiet(READER_ACK_MS + 50);
    room.touch();
    expect(room.mayHibernate(Date.now(), 50)).toBe(false); // just touched
    expect(room.mayHibernate(Date.now() + 60, 50)).toBe(true);
    await rooms.close(1001, "shutdown");
  });

  it("closes the parked peers of a shutdown", async () => {
    const rooms = new Rooms({ storage: new MemoryStorage(), logger: silentLogger, graceMs: 60_000, hibernateMs: 50 });
    const peer = new Peer("client-cccccccccccccccc");
    await roomWithMessage(rooms, peer);
    await waitUntil(() => peer.room === null);
    await rooms.close(1001, "shutdown");
    expect(peer.closedWith).toBe(1001);
    await expect(rooms.open(ROOM)).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
  });

  it("keeps a hibernating room's lease, wakes under it, and closes the parked peers if it is lost", async () => {
    const storage = new MemoryStorage();
    const events: string[] = [];
    let lose: () => void = () => {};
    const leases: RoomLeases = {
      async acquire(name) {
        events.push("acquire");
        const fence = await storage.claim(name);
        return {
          fence,
          onLost: (lost) => {
            lose = lost;
          },
          release: () => events.push("release"),
        };
      },
    };
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000, hibernateMs: 50, leases });
    const peer = new Peer("client-eeeeeeeeeeeeeeee");
    await roomWithMessage(rooms, peer);
    await waitUntil(() => peer.room === null);
    expect(events).toEqual(["acquire"]); // parked, not released
    const again = await rooms.open(ROOM);
    expect(peer.room).toBe(again);
    expect(events).toEqual(["acquire"]); // woken under the same lease
    await waitUntil(() => peer.room === null);
    lose();
    expect(peer.closedWith).toBe(1001);
    expect(events).toEqual(["acquire", "release"]);
    await rooms.close(1001, "shutdown");
  });
});
