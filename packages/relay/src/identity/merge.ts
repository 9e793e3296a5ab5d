/**
 * Login merge: a user's first connection after login carries `merge=anon.<secret>`, and the relay folds the
 * anonymous document into the user's before the sync starts, so the thread the person wrote while
 * anonymous continues under their account on every device.
 *
 * Order, so that a crash at any point can be retried with the same result: (1) apply the stored anonymous
 * document into the user document and record the anonymous id in the user's `meta.merged`, durably;
 * (2) close the anonymous room's connections and revoke the anonymous subject (`meta.revoked`,
 * `meta.mergedInto`), durably. Yjs merges are idempotent, so repeating (1) changes nothing, and once (2) is stored
 * a repeat is recognized and skipped. Merges of one anonymous subject run one at a time.
 *
 * The merge is held to the authorship rules (authorship/merge-check.ts): a merge that breaks one is refused
 * as a whole with 4409 (`merge refused: <rule>`) and stores nothing; the anonymous room stays as it was.
 */
import { CloseCode, metaOf, ownersOf } from "@parley/protocol";
import * as Y from "yjs";
import { checkMerge } from "../authorship/merge-check.js";
import { Refusal } from "../core/refusal.js";
import type { Room } from "../core/room.js";
import type { Rooms } from "../core/rooms.js";
import { revocationOf, revoke } from "./revocation.js";

/** Key of the list of merged anonymous ids in a user document's `meta`. */
export const MERGED_KEY = "merged";

/** Merges anonymous documents into user documents, one merge per anonymous subject at a time. */
export class AnonymousMerges {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly rooms: Rooms) {}

  /**
   * Merges the anonymous room `anonymousRoom` into `userRoom` (of `userId`) and revokes it. Throws a
   * {@link Refusal} (4403) if the anonymous subject was logged out or merged into another user.
   */
  async merge(userRoom: Room, userId: string, anonymousRoom: string): Promise<void> {
    const previous = this.running.get(anonymousRoom) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.mergeNow(userRoom, userId, anonymousRoom));
    this.running.set(anonymousRoom, run);
    try {
      await run;
    } finally {
      if (this.running.get(anonymousRoom) === run) this.running.delete(anonymousRoom);
    }
  }

  private async mergeNow(userRoom: Room, userId: string, anonymousRoom: string): Promise<void> {
    const anonymous = await this.rooms.open(anonymousRoom);
    const release = anonymous.hold();
    try {
      const revocation = revocationOf(anonymous.doc);
      if (revocation.mergedInto === userId) return;
      if (revocation.mergedInto !== undefined) {
        throw new Refusal(CloseCode.Forbidden, "merged", "anonymous user already merged into another user");
      }
      if (revocation.revoked) throw new Refusal(CloseCode.Forbidden, "revoked", "anonymous user was logged out");
      const verdict = checkMerge(anonymous.doc, userRoom.doc, Date.now());
      if (!verdict.ok) throw new Refusal(CloseCode.Authorship, "merge", verdict.reason);
      const anonymousId = anonymous.ref.subject;
      // Checked and applied in the same tick, so no update lands in between. The owners are bound first
      // (stored no later than the structs they cover); applying is its own transaction, because one that
      // applies an update is remote to Yjs and must not carry relay writes.
      const bound = userRoom.transactAsRelay((doc) => {
        const owners = ownersOf(doc);
        for (const [client, owner] of verdict.newOwners) owners.set(String(client), owner);
      });
      const applied = userRoom.transactAsRelay((doc) => Y.applyUpdate(doc, verdict.update));
      await Promise.all([bound, applied]);
      await userRoom.transactAsRelay((doc) => {
        const meta = metaOf(doc);
        const merged = meta.get(MERGED_KEY);
        const list = Array.isArray(merged) ? (merged as unknown[]).filter((id) => typeof id === "string") : [];
        if (!list.includes(anonymousId)) meta.set(MERGED_KEY, [...list, anonymousId]);
      });
      // Close the anonymous clients before writing the revocation, so none of them holds it (their local
      // anonymous document may be merged into a user document later, where relay-only data is refused).
      anonymous.closePeers(CloseCode.Forbidden, "merged", "anonymous user merged into a user");
      await anonymous.transactAsRelay((doc) => revoke(doc, userId));
      anonymous.closePeers(CloseCode.Forbidden, "merged", "anonymous user merged into a user");
    } finally {
      release();
    }
  }
}
