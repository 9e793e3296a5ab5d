/**
 * Erasure: a user's conversation, or an anonymous one, taken out of storage (the business API's
 * `DELETE users/<userId>` and `DELETE anonymous/<anonymousId>`).
 *
 * - A user room is removed (`storage.remove`): the userId may come back, and then starts empty.
 * - An anonymous room is replaced by a tombstone: a snapshot of a document holding only `meta.revoked` and
 *   `meta.erased` (revocation.ts), written with `storage.compact`, which replaces the whole document atomically (a crash
 *   leaves the old document or the tombstone). The anonymous secret lives on in its client, so the
 *   revocation has to outlive the content or that client could open an empty room again; kept in the
 *   room's own document, the tombstone is a few dozen bytes that any storage backend keeps as it keeps
 *   documents. Erasing a user also turns the anonymous rooms merged into it into tombstones (without
 *   `mergedInto`, which would name the erased user): those its document names (`meta.merged`), and, with a
 *   revocation store, those the store names it for (`claimedBy`). A login merge claims the subject in the store
 *   before it applies the messages and writes `meta.merged` (identity/merge.ts), so a node that crashed in between,
 *   or a merge whose second check refused, leaves a subject only the store knows is the user's: its messages are
 *   the person's, and nobody else can reach them (the secret is refused as merged).
 * - A storage's revocation store (storage/revocation-store.ts), if it has one, gets the same: each erased anonymous
 *   room revoked there with no `mergedInto` (`erase`). For a user's merged room, after its tombstone is written, so
 *   that an erasure that fails in between still finds the room through the store when it is retried (the
 *   tombstone already refuses a retried merge: it is revoked without `mergedInto`); for an anonymous subject
 *   erased by its own id, before.
 *
 * The eraser loads the room here, claims its fence, so the loaded room can write no more, erases with that
 * fence, then evicts the loaded room: it closes its clients (1001, they reconnect and load what is stored now)
 * and is dropped. A client that reconnects in between claims the room again and fences the eraser out: the
 * erasure is then tried again. With several relay nodes a request about a conversation reaches the node serving
 * its room, but the anonymous rooms merged into a user may be held by another node (a business read there, a
 * refused connection during its grace period): loading one here is refused (`FencedError`) and asks that node
 * to hand the idle room over, so the eraser waits and tries again, up to {@link WAIT_MS} (a dead holder's lease
 * runs out within its `leaseMs`).
 *
 * With a conversation index in the storage (storage/conversation-index.ts), the eraser removes the entry under its
 * fence before it erases the document: a crash in between leaves a document whose entry the next load of its room
 * writes again, never an erased conversation's last message in the list.
 */
import { FencedError, metaOf, type RoomRef, roomName } from "@parley/protocol";
import * as Y from "yjs";
import type { RoomHandle, RoomOpener } from "../core/extension.js";
import { conversationIndexOf } from "../storage/conversation-index.js";
import { CLAIMED_BY_DEFAULT_LIMIT, revocationStoreOf } from "../storage/revocation-store.js";
import type { RelayStorage } from "../storage/storage.js";
import { MERGED_KEY } from "./merge.js";
import { ERASED_KEY, revoke } from "./revocation.js";

const ATTEMPTS = 3;
/** How long an erasure waits for another relay node to give up a room (see the module comment). */
const WAIT_MS = 15_000;

/** The stored form of an erased anonymous subject: a document with nothing but the revocation. */
export function anonymousTombstone(): Uint8Array {
  const doc = new Y.Doc();
  doc.transact(() => {
    revoke(doc);
    metaOf(doc).set(ERASED_KEY, true);
  });
  return Y.encodeStateAsUpdate(doc);
}

/** Erases conversations; see the module comment. */
export class Erasure {
  constructor(
    private readonly rooms: RoomOpener,
    private readonly storage: RelayStorage,
  ) {}

  /** Erases the subject's conversation (and, for a user, the anonymous ones merged into it). */
  async erase(ref: RoomRef): Promise<void> {
    if (ref.kind === "anonymous") {
      // The store's revocation (if any) refuses the secret at upgrade on every node, and names no user.
      await revocationStoreOf(this.storage)?.erase(roomName(ref));
      return this.eraseRoom(roomName(ref), "tombstone");
    }
    const name = roomName(ref);
    const store = revocationStoreOf(this.storage);
    // The merged rooms first: the user's room and the store name them, so an erasure that fails half-way (another
    // node did not give one up in time) is retried in full, where removing the user's room first would leave them
    // behind a 404.
    const erased = new Set<string>();
    const eraseMerged = async (room: string) => {
      if (erased.has(room)) return;
      erased.add(room);
      await this.eraseRoom(room, "tombstone");
      await store?.erase(room);
    };
    for (const anonymousId of await this.mergedInto(name)) {
      await eraseMerged(roomName({ appId: ref.appId, kind: "anonymous", subject: anonymousId }));
    }
    if (store !== undefined) {
      // Page by page, each after the last room of the one before (erased rooms leave the listing too).
      for (let after: string | undefined; ; ) {
        const page = await store.claimedBy(ref.appId, ref.subject, after === undefined ? {} : { after });
        for (const room of page) await eraseMerged(room);
        if (page.length < CLAIMED_BY_DEFAULT_LIMIT) break;
        after = page.at(-1);
      }
    }
    await this.eraseRoom(name, "remove");
  }

  /**
   * Whether the storage's revocation store names the user `ref` in a claim: a subject merged into them whose
   * merge may not have reached their document, which erasing them erases too (see the module comment).
   */
  async hasClaims(ref: RoomRef): Promise<boolean> {
    if (ref.kind !== "user") return false;
    const store = revocationStoreOf(this.storage);
    return store !== undefined && (await store.claimedBy(ref.appId, ref.subject, { limit: 1 })).length > 0;
  }

  private async mergedInto(name: string): Promise<string[]> {
    const room = await this.rooms.open(name);
    const release = room.hold();
    try {
      const merged = metaOf(room.doc).get(MERGED_KEY);
      return Array.isArray(merged) ? merged.filter((id): id is string => typeof id === "string") : [];
    } finally {
      release();
    }
  }

  private async eraseRoom(name: string, how: "remove" | "tombstone"): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Loaded and held first, so that the registry keeps this instance (the one clients see) until it fails.
      const room = await this.openHere(name);
      const release = room.hold();
      try {
        const fence = await this.storage.claim(name);
        await conversationIndexOf(this.storage)?.remove(name, fence);
        if (how === "remove") await this.storage.remove(name, fence);
        else await this.storage.compact(name, anonymousTombstone(), fence);
        // Its clients reconnect and the next load reads the erasure. Not by a write that storage then refuses: the
        // write would reach the clients first, attested, and they would hand it back into the next room of the name.
        room.evict();
        return;
      } catch (error) {
        if (!(error instanceof FencedError) || attempt >= ATTEMPTS) throw error;
      } finally {
        release();
      }
    }
  }

  /** The room loaded on this node, waiting while another node holds it. */
  private async openHere(name: string): Promise<RoomHandle> {
    const deadline = performance.now() + WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.rooms.open(name);
      } catch (error) {
        if (!(error instanceof FencedError) || performance.now() >= deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)));
    }
  }
}
