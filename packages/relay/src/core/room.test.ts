import {
  type AttestedUpdate,
  clientsOf,
  MessageType,
  messagesOf,
  ownersOf,
  RELAY_OWNER,
  readAttested,
  readStored,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { MemoryStorage, type RelayStorage } from "../storage/storage.js";
import { READER_ACK_MS } from "./acks.js";
import { silentLogger } from "./logger.js";
import type { Room } from "./room.js";
import type { RoomPeer } from "./room-peer.js";
import { Rooms } from "./rooms.js";

const ROOM = "app/u/YWxpY2U";

/** A MemoryStorage whose appends wait until the test releases them (or fail on demand). */
class GatedStorage extends MemoryStorage implements RelayStorage {
  private readonly gates: Array<{ open(): void; fail(error: Error): void }> = [];
  appends = 0;
  compactions = 0;
  gated = true;

  override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
    this.appends++;
    if (this.gated) {
      await new Promise<void>((resolve, reject) => this.gates.push({ open: resolve, fail: reject }));
    }
    await super.append(name, update, fence);
  }

  override async compact(name: string, snapshot: Uint8Array, fence: number): Promise<void> {
    this.compactions++;
    await super.compact(name, snapshot, fence);
  }

  releaseAll(): void {
    for (const gate of this.gates.splice(0)) gate.open();
  }

  failAll(): void {
    for (const gate of this.gates.splice(0)) gate.fail(new Error("disk full"));
  }
}

class FakePeer implements RoomPeer {
  readonly wantsAcks = true;
  readonly busy = false;
  synced = true;
  frames: Uint8Array[] = [];
  closedWith: number | undefined;
  constructor(
    readonly clientId: string,
    readonly attests = false,
  ) {}
  send(frame: Uint8Array): void {
    this.frames.push(frame);
  }
  /** The room it is attached to after a hibernation, `null` while parked. */
  room: Room | null | undefined;
  park(): void {
    this.room = null;
  }
  attach(room: Room): void {
    this.room = room;
  }
  close(code: number): void {
    this.closedWith = code;
  }
  /** The latest stored state vector acknowledged to this peer. */
  lastStored(): Map<number, number> | undefined {
    let last: Map<number, number> | undefined;
    for (const frame of this.frames) {
      const decoder = decoding.createDecoder(frame);
      if (decoding.readVarUint(decoder) === MessageType.stored) last = readStored(decoder);
    }
    return last;
  }
  /** The attested updates sent to this peer, in order. */
  attested(): AttestedUpdate[] {
    const found: AttestedUpdate[] = [];
    for (const frame of this.frames) {
      const decoder = decoding.createDecoder(frame);
      if (decoding.readVarUint(decoder) === MessageType.attested) found.push(readAttested(decoder));
    }
    return found;
  }
  syncFrames(): Uint8Array[] {
    return this.frames.filter((frame) => frame[0] === MessageType.sync);
  }
}

function messageUpdate(doc: Y.Doc, clientId: string, id: string): Uint8Array {
  const before = Y.encodeStateVector(doc);
  messagesOf(doc).push([{ id, role: "user", client: clientId, text: "hi", ts: Date.now() }]);
  return Y.encodeStateAsUpdate(doc, before);
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("Room", () => {
  it("acknowledges and forwards a client's update only after storage made it durable", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const peer = new FakePeer("client-aaaaaaaaaaaaaaaa");
    const other = new FakePeer("client-cccccccccccccccc");
    room.join(peer, { info: {} });
    room.join(other, { info: {} });
    await settle();
    storage.gated = true;
    other.frames = [];

    const clientDoc = new Y.Doc();
    const verdict = room.applyClientUpdate(messageUpdate(clientDoc, peer.clientId, "message-0001"), peer);
    expect(verdict.ok).toBe(true);
    await settle();
    expect(peer.lastStored()?.get(clientDoc.clientID) ?? 0).toBe(0);
    expect(Y.decodeStateVector(room.storedStateVector()).get(clientDoc.clientID)).toBeUndefined();
    expect(other.frames.filter((frame) => frame[0] === MessageType.sync)).toEqual([]);

    storage.releaseAll();
    await settle();
    await settle();
    expect(peer.lastStored()?.get(clientDoc.clientID)).toBe(1);
    const forwarded = new Y.Doc();
    for (const frame of other.frames.filter((f) => f[0] === MessageType.sync)) {
      const decoder = decoding.createDecoder(frame);
      decoding.readVarUint(decoder);
      decoding.readVarUint(decoder);
      Y.applyUpdate(forwarded, decoding.readVarUint8Array(decoder));
    }
    expect(messagesOf(forwarded).length).toBe(1);
    // The relay bound the new Yjs clientID to the sender, and its own to RELAY_OWNER.
    expect(ownersOf(room.doc).get(String(clientDoc.clientID))).toBe(peer.clientId);
    expect(ownersOf(room.doc).get(String(room.doc.clientID))).toBe(RELAY_OWNER);
    storage.gated = false;
    await rooms.close(1001, "shutdown");
  });

  it("answers a joining peer's first sync without waiting for the disk, then stamps its client record", async () => {
    const storage = new GatedStorage();
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const peer = new FakePeer("client-ffffffffffffffff");
    room.join(peer, { info: { platform: "web" } });
    expect(storage.appends).toBe(0);
    let replied = false;
    const reply = room.durableUpdateSince(new Uint8Array([0])).then(() => {
      replied = true;
    });
    await settle();
    // Every append is held by the gate, and the reply went out anyway: the join wrote nothing.
    expect(replied).toBe(true);
    await reply;
    room.recordJoin(peer);
    expect(storage.appends).toBeGreaterThan(0);
    expect(clientsOf(room.doc).get(peer.clientId)).toMatchObject({ platform: "web", active: true });
    room.recordJoin(peer);
    const appends = storage.appends;
    await settle();
    expect(storage.appends).toBe(appends); // stamped once
    storage.releaseAll();
    storage.gated = false;
    await rooms.close(1001, "shutdown");
  });

  it("hands out a sync reply only once everything in it is durable", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const peer = new FakePeer("client-dddddddddddddddd");
    room.join(peer, { info: {} });
    await settle();
    storage.gated = true;
    const clientDoc = new Y.Doc();
    room.applyClientUpdate(messageUpdate(clientDoc, peer.clientId, "message-0001"), peer);
    let reply: Uint8Array | undefined;
    const replied = room.durableUpdateSince(new Uint8Array([0])).then((update) => {
      reply = update;
    });
    room.applyClientUpdate(messageUpdate(clientDoc, peer.clientId, "message-0002"), peer);
    await settle();
    expect(reply).toBeUndefined();
    storage.releaseAll();
    await replied;
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, reply!);
    // Taken when asked: it holds the first message (now durable), not the one applied after the request.
    expect(
      messagesOf(fresh)
        .toArray()
        .map((m) => m.id),
    ).toEqual(["message-0001"]);
    storage.gated = false;
    storage.releaseAll();
    await rooms.close(1001, "shutdown");
  });

  it("transactAsRelay resolves only once the change is stored", async () => {
    const storage = new GatedStorage();
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    let done = false;
    const write = room
      .transactAsRelay((doc) => doc.getMap("meta").set("x", 1))
      .then(() => {
        done = true;
      });
    await settle();
    expect(done).toBe(false);
    storage.releaseAll();
    await write;
    expect(await storage.load(ROOM)).not.toEqual([]);
    await rooms.close(1001, "shutdown");
  });

  it("on a storage failure closes its peers with 1011, rejects the writer, and reloads from storage", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const peer = new FakePeer("client-bbbbbbbbbbbbbbbb");
    room.join(peer, { info: {} });
    room.recordJoin(peer); // what the connection does once the first sync is answered
    await settle();
    storage.gated = true;
    const write = room.transactAsRelay((doc) => doc.getMap("meta").set("lost", true));
    storage.failAll();
    await expect(write).rejects.toMatchObject({ code: "ERR_STORAGE" });
    expect(peer.closedWith).toBe(1011);
    storage.gated = false;
    const reloaded = await rooms.open(ROOM);
    expect(reloaded).not.toBe(room);
    expect(reloaded.doc.getMap("meta").get("lost")).toBeUndefined();
    expect(clientsOf(reloaded.doc).get(peer.clientId)).toBeDefined();
    await rooms.close(1001, "shutdown");
  });

  it("compacts the log into a snapshot after 500 records, and loads the same document", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    for (let i = 0; i < 520; i++) await room.transactAsRelay((doc) => doc.getArray("log").push([i]));
    expect(storage.compactions).toBeGreaterThan(0);
    expect((await storage.load(ROOM)).length).toBeLessThan(100);
    const copy = new Y.Doc();
    for (const update of await storage.load(ROOM)) Y.applyUpdate(copy, update);
    expect(copy.getArray("log").length).toBe(520);
    await rooms.close(1001, "shutdown");
  });

  it("forwards at once to attesting peers with its tag, to stock peers once durable; acks writers first", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const writer = new FakePeer("client-aaaaaaaaaaaaaaaa", true);
    const reader = new FakePeer("client-bbbbbbbbbbbbbbbb", true);
    const stock = new FakePeer("client-cccccccccccccccc");
    for (const peer of [writer, reader, stock]) room.join(peer, { info: {} });
    await settle();
    storage.gated = true;
    for (const peer of [writer, reader, stock]) peer.frames = [];

    const clientDoc = new Y.Doc();
    expect(room.applyClientUpdate(messageUpdate(clientDoc, writer.clientId, "message-0001"), writer).ok).toBe(true);
    // Not durable yet: the attesting reader has it (owner binding and message), the stock peer nothing.
    const forwarded = new Y.Doc();
    for (const { update } of reader.attested()) Y.applyUpdate(forwarded, update);
    expect(messagesOf(forwarded).length).toBe(1);
    // The writer gets the relay's binding of its clientID, never its own update back.
    const echoed = new Y.Doc();
    for (const { update } of writer.attested()) Y.applyUpdate(echoed, update);
    expect(messagesOf(echoed).length).toBe(0);
    expect(ownersOf(echoed).get(String(clientDoc.clientID))).toBe(writer.clientId);
    expect(stock.syncFrames()).toEqual([]);
    expect(reader.lastStored()).toBeUndefined();

    storage.releaseAll();
    await settle();
    await settle();
    expect(writer.lastStored()?.get(clientDoc.clientID)).toBe(1);
    expect(stock.syncFrames().length).toBeGreaterThan(0);
    // Readers learn what is stored later, in one frame for the batch.
    expect(reader.lastStored()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, READER_ACK_MS + 50));
    expect(reader.lastStored()?.get(clientDoc.clientID)).toBe(1);
    expect(reader.frames.filter((frame) => frame[0] === MessageType.stored).length).toBe(1);
    storage.gated = false;
    await rooms.close(1001, "shutdown");
  });

  it("takes back an attested update it forwarded and then lost, and refuses an altered one", async () => {
    const storage = new GatedStorage();
    storage.gated = false;
    const before = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await before.open(ROOM);
    const writer = new FakePeer("client-aaaaaaaaaaaaaaaa", true);
    const reader = new FakePeer("client-bbbbbbbbbbbbbbbb", true);
    room.join(writer, { info: {} });
    room.join(reader, { info: {} });
    await settle();
    storage.gated = true; // the appends below never reach storage: the relay "crashes" before they are durable
    room.applyClientUpdate(messageUpdate(new Y.Doc(), writer.clientId, "message-lost"), writer);
    const kept = reader.attested();
    expect(kept.length).toBeGreaterThan(0);

    storage.gated = false;
    const after = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const restarted = await after.open(ROOM);
    expect(messagesOf(restarted.doc).length).toBe(0);
    const returning = new FakePeer(reader.clientId, true);
    restarted.join(returning, { info: {} });

    const first = kept[0]!;
    const altered = first.update.slice();
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    expect(restarted.applyAttested(altered, first.tag, returning)).toBe(false);
    expect(restarted.applyAttested(first.update, new Uint8Array(16), returning)).toBe(false);
    expect(messagesOf(restarted.doc).length).toBe(0);

    for (const { update, tag } of kept) expect(restarted.applyAttested(update, tag, returning)).toBe(true);
    expect(messagesOf(restarted.doc).map((m) => m.id)).toEqual(["message-lost"]);
    // Bound to its author again, as when the relay first applied it.
    expect([...ownersOf(restarted.doc).values()]).toContain(writer.clientId);
    await after.close(1001, "shutdown");
    storage.releaseAll();
  });
});
