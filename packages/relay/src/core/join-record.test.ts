import { clientsOf, messagesOf, ownersOf, RELAY_OWNER } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { MemoryStorage, type RelayStorage } from "../storage/storage.js";
import { silentLogger } from "./logger.js";
import type { RoomPeer } from "./room-peer.js";
import { Rooms } from "./rooms.js";

const ROOM = "app/u/YWxpY2U";

/** A MemoryStorage that keeps every appended update. */
class RecordingStorage extends MemoryStorage implements RelayStorage {
  readonly appended: Uint8Array[] = [];
  override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
    this.appended.push(update);
    await super.append(name, update, fence);
  }
}

function peer(clientId: string): RoomPeer {
  return {
    clientId,
    wantsAcks: false,
    synced: true,
    attests: false,
    busy: false,
    send() {},
    close() {},
    park() {},
    attach() {},
  };
}

/** The clients an update writes structs of, and the `owners` keys it sets. */
function contents(update: Uint8Array): { writers: number[]; owners: string[]; records: string[] } {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return {
    writers: [...Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update)).keys()],
    owners: [...ownersOf(doc).keys()],
    records: [...clientsOf(doc).keys()],
  };
}

describe("Room: the relay's binding is written with its first change", () => {
  it("stamps a first client record and the relay's owners entry in one update", async () => {
    const storage = new RecordingStorage();
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const joining = peer("client-aaaaaaaaaaaaaaaa");
    room.join(joining, { info: { platform: "web" } });
    room.recordJoin(joining);
    await room.settled();

    expect(storage.appended).toHaveLength(1);
    const relayId = room.doc.clientID;
    expect(contents(storage.appended[0] as Uint8Array)).toEqual({
      writers: [relayId],
      owners: [String(relayId)],
      records: [joining.clientId],
    });
    expect(ownersOf(room.doc).get(String(relayId))).toBe(RELAY_OWNER);

    // The binding is not written again, and the relay keeps its clientID.
    room.leave(joining);
    await room.settled();
    expect(storage.appended).toHaveLength(2);
    expect(contents(storage.appended[1] as Uint8Array).owners).toEqual([]);
    expect(room.doc.clientID).toBe(relayId);
    await rooms.close(1001, "shutdown");
  });

  it("binds a client's new Yjs clientIDs and the relay's in one update before the client's own", async () => {
    const storage = new RecordingStorage();
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const room = await rooms.open(ROOM);
    const writer = peer("client-bbbbbbbbbbbbbbbb");
    room.join(writer, { info: {} });

    const clientDoc = new Y.Doc();
    messagesOf(clientDoc).push([
      { id: "message-0001", role: "user", client: writer.clientId, text: "hi", ts: Date.now() },
    ]);
    expect(room.applyClientUpdate(Y.encodeStateAsUpdate(clientDoc), writer).ok).toBe(true);
    await room.settled();

    expect(storage.appended).toHaveLength(2);
    const binding = contents(storage.appended[0] as Uint8Array);
    expect(binding.writers).toEqual([room.doc.clientID]);
    expect(binding.owners.sort()).toEqual([String(room.doc.clientID), String(clientDoc.clientID)].sort());
    expect(contents(storage.appended[1] as Uint8Array).writers).toEqual([clientDoc.clientID]);
    expect(ownersOf(room.doc).get(String(clientDoc.clientID))).toBe(writer.clientId);
    expect(ownersOf(room.doc).get(String(room.doc.clientID))).toBe(RELAY_OWNER);
    await rooms.close(1001, "shutdown");
  });
});
