/**
 * Login merges with a revocation store, in one process: what a merge interrupted by a crash, then by a logout of
 * the same anonymous secret, leaves for its retry, and how joins are refused while a merge holds its claim.
 */
import {
  anonymousIdFromSecret,
  clientIdFromSecret,
  createSecret,
  type MessageRecord,
  messagesOf,
  roomName,
} from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { silentLogger } from "../core/logger.js";
import type { RoomPeer } from "../core/room-peer.js";
import { Rooms } from "../core/rooms.js";
import { MemoryStorage } from "../storage/storage.js";
import { AnonymousMerges } from "./merge.js";
import { revocationOf, revoke } from "./revocation.js";

const anonymousRoom = roomName({ appId: "app", kind: "anonymous", subject: anonymousIdFromSecret(createSecret()) });
const userRoom = roomName({ appId: "app", kind: "user", subject: "ana" });

const peer = (clientId: string): RoomPeer => ({
  clientId,
  wantsAcks: false,
  attests: false,
  busy: false,
  synced: true,
  send() {},
  close() {},
  park() {},
  attach() {},
});

function message(clientId: string, text: string): Uint8Array {
  const doc = new Y.Doc();
  const record: MessageRecord = {
    id: `msg_${text.replaceAll(" ", "_")}`,
    role: "user",
    client: clientId,
    text,
    ts: Date.now(),
  };
  messagesOf(doc).push([record]);
  return Y.encodeStateAsUpdate(doc);
}

describe("login merge with a revocation store", () => {
  it("finishes a merge claimed for its user even after a logout revoked the anonymous document meanwhile", async () => {
    const storage = new MemoryStorage({ revocations: true });
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const visitor = clientIdFromSecret(createSecret());
    const anonymous = await rooms.open(anonymousRoom);
    expect(anonymous.applyClientUpdate(message(visitor, "while anonymous"), peer(visitor)).ok).toBe(true);
    await anonymous.settled();
    // A merge claimed the subject for ana and died before applying; then the secret's logout revoked the document
    // (its own claim kept the merge's).
    await storage.revocations!.claim(anonymousRoom, "ana");
    await storage.revocations!.claim(anonymousRoom);
    await anonymous.transactAsRelay((doc) => revoke(doc));
    expect(revocationOf(anonymous.doc)).toEqual({ revoked: true });

    const user = await rooms.open(userRoom);
    await new AnonymousMerges(rooms, storage.revocations).merge(user, "ana", anonymousRoom);
    expect(
      messagesOf(user.doc)
        .toArray()
        .map((m) => m.text),
    ).toEqual(["while anonymous"]);
    expect(revocationOf(anonymous.doc)).toEqual({ revoked: true, mergedInto: "ana" });
    await rooms.close(1001, "shutdown");
  });
  it("holds its claim from the store's claim until the anonymous document's revocation is stored", async () => {
    let gating = false;
    let gate: (() => void) | undefined;
    class AnonymousAppendsWait extends MemoryStorage {
      override async append(name: string, update: Uint8Array, fence: number): Promise<void> {
        if (gating && name === anonymousRoom) await new Promise<void>((resolve) => (gate = resolve));
        await super.append(name, update, fence);
      }
    }
    const storage = new AnonymousAppendsWait({ revocations: true });
    const rooms = new Rooms({ storage, logger: silentLogger, graceMs: 60_000 });
    const visitor = clientIdFromSecret(createSecret());
    const anonymous = await rooms.open(anonymousRoom);
    expect(anonymous.applyClientUpdate(message(visitor, "while anonymous"), peer(visitor)).ok).toBe(true);
    await anonymous.settled();
    const merges = new AnonymousMerges(rooms, storage.revocations);
    expect(merges.isClaimed(anonymousRoom)).toBe(false);
    gating = true;
    const merging = merges.merge(await rooms.open(userRoom), "ana", anonymousRoom);
    while (gate === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    // Claimed in the store and merged into the user's room; the document's revocation is not stored yet.
    expect(await storage.revocations!.lookup(anonymousRoom)).toMatchObject({ mergedInto: "ana" });
    expect(merges.isClaimed(anonymousRoom)).toBe(true);
    gating = false;
    gate();
    await merging;
    expect(revocationOf(anonymous.doc)).toEqual({ revoked: true, mergedInto: "ana" });
    expect(merges.isClaimed(anonymousRoom)).toBe(false);
    await rooms.close(1001, "shutdown");
  });
});
