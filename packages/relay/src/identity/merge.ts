/**
 * Login merge: a user's first connection after login carries `merge=anon.<secret>`, and the relay folds the
 * anonymous document into the user's before the sync starts, so the thread the person wrote while
 * anonymous continues under their account on every device.
 *
 * Order, so that a crash at any step, retried through any relay node, ends the same way, and an anonymous subject
 * is merged into one user at most:
 * 1. Open the anonymous room (in a cluster: take its lease) and check, storing nothing: not revoked (in the
 *    storage's {@link RevocationStore} if it has one, and in the document), or revoked by a merge into this very
 *    user (a retry); and the authorship rules (authorship/merge-check.ts). A merge that breaks one is refused as
 *    a whole with 4409 (`merge refused: <rule>`); the anonymous room stays as it was.
 * 2. Claim the subject for this user in the revocation store, if there is one. The first claim wins for the
 *    whole cluster: a merge into another user, on any node, from now on gets 4403 `merged`, also at upgrade
 *    (identity/revocation-gate.ts), and so do the anonymous secret's connections. A retry into the same user gets
 *    its own claim back and goes on. Without a store (the file store: one process) merges of a subject run one at
 *    a time in the process and the in-document revocation of step 5 is the record.
 * 3. Close the anonymous room's connections (4403 `merged`), so they write nothing more there.
 * 4. Apply the anonymous document into the user document and record the anonymous id in the user's
 *    `meta.merged`, durably. Checked again in the same tick as the apply, so no update lands in between.
 * 5. Write the revocation into the anonymous document (`meta.revoked`, `meta.mergedInto`; revocation.ts): the
 *    file store's only record, what erasure's tombstones and the business API read, and the mark that this
 *    merge is finished. No client holds it: they were closed in step 3 (their local anonymous document may be
 *    merged into a user document later, where relay-only data is refused).
 * A crash before 2 stored nothing. After 2, the subject belongs to this user; a retry finds the claim, and
 * unless step 5 is stored (and `meta.merged` names the subject) applies again: Yjs merges are idempotent, so
 * what was applied before is not applied twice and what was not is applied now. After 5 a retry returns at once.
 * (Should step 4's check refuse what step 1's passed, because a document changed between them, the subject
 * stays claimed for this user and the merge is refused with 4409: its messages stay in the anonymous room.)
 */
import { CloseCode, metaOf, ownersOf } from "@parley/protocol";
import * as Y from "yjs";
import { checkMerge } from "../authorship/merge-check.js";
import { Refusal } from "../core/refusal.js";
import type { Room } from "../core/room.js";
import type { Rooms } from "../core/rooms.js";
import type { RevocationStore } from "../storage/revocation-store.js";
import { revocationOf, revoke } from "./revocation.js";

/** Key of the list of merged anonymous ids in a user document's `meta`. */
export const MERGED_KEY = "merged";

/** The anonymous ids recorded as merged into a user document. */
function mergedIds(userDoc: Y.Doc): string[] {
  const merged = metaOf(userDoc).get(MERGED_KEY);
  return Array.isArray(merged) ? (merged as unknown[]).filter((id): id is string => typeof id === "string") : [];
}

/** Throws the 4403 refusal of a revoked subject unless it was revoked by a merge into `userId`. */
function refuseUnlessMergedInto(revocation: { mergedInto?: string }, userId: string): void {
  if (revocation.mergedInto === userId) return;
  if (revocation.mergedInto !== undefined) {
    throw new Refusal(CloseCode.Forbidden, "merged", "anonymous user already merged into another user");
  }
  throw new Refusal(CloseCode.Forbidden, "revoked", "anonymous user was logged out");
}

/** The authorship check of merging `anonymous` into `user`; throws the 4409 refusal if it fails. */
function checked(anonymous: Room, user: Room): { update: Uint8Array; newOwners: Map<number, string> } {
  const verdict = checkMerge(anonymous.doc, user.doc, Date.now());
  if (!verdict.ok) throw new Refusal(CloseCode.Authorship, "merge", verdict.reason);
  return verdict;
}

/**
 * Merges anonymous documents into user documents, one merge per anonymous subject at a time in this process,
 * and at most one user per anonymous subject across the processes sharing `revocations`.
 */
export class AnonymousMerges {
  private readonly running = new Map<string, Promise<void>>();
  /** Anonymous rooms claimed by a merge running here whose documents do not say so yet. */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly rooms: Rooms,
    private readonly revocations?: RevocationStore,
  ) {}

  /** Whether a merge running here claimed `anonymousRoom`: a connection must not join it (see step 3). */
  isClaimed(anonymousRoom: string): boolean {
    return this.claimed.has(anonymousRoom);
  }

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
      const anonymousId = anonymous.ref.subject;
      // 1. Checks; nothing is stored by a refusal.
      const stored = await this.revocations?.lookup(anonymousRoom);
      if (stored !== undefined) refuseUnlessMergedInto(stored, userId);
      const inDocument = revocationOf(anonymous.doc);
      // Claimed for this user already: a logout after the claim kept the claim (the first one wins) but revoked the
      // document without naming the user; the merge it interrupted still finishes.
      if (inDocument.revoked && stored?.mergedInto !== userId) refuseUnlessMergedInto(inDocument, userId);
      if (inDocument.mergedInto === userId && mergedIds(userRoom.doc).includes(anonymousId)) return;
      checked(anonymous, userRoom);
      // 2. The subject is this user's from here on, on every node.
      if (this.revocations !== undefined)
        refuseUnlessMergedInto(await this.revocations.claim(anonymousRoom, userId), userId);
      // 3. From here until the document says so (step 5), the relay refuses joins here (isClaimed): a connection
      // that passed the upgrade's look-up before the claim and joins now would write what the merge misses.
      this.claimed.add(anonymousRoom);
      anonymous.closePeers(CloseCode.Forbidden, "merged", "anonymous user merged into a user");
      // 4. Checked again and applied in the same tick. The owners are bound first (stored no later than the
      // structs they cover); applying is its own transaction, because one that applies an update is remote to
      // Yjs and must not carry relay writes.
      const verdict = checked(anonymous, userRoom);
      const bound = userRoom.transactAsRelay((doc) => {
        const owners = ownersOf(doc);
        for (const [client, owner] of verdict.newOwners) owners.set(String(client), owner);
      });
      const applied = userRoom.transactAsRelay((doc) => Y.applyUpdate(doc, verdict.update));
      await Promise.all([bound, applied]);
      await userRoom.transactAsRelay((doc) => {
        const list = mergedIds(doc);
        if (!list.includes(anonymousId)) metaOf(doc).set(MERGED_KEY, [...list, anonymousId]);
      });
      // 5. A client that connected since step 3 (only possible without a revocation store) goes too.
      await anonymous.transactAsRelay((doc) => revoke(doc, userId));
      anonymous.closePeers(CloseCode.Forbidden, "merged", "anonymous user merged into a user");
    } finally {
      this.claimed.delete(anonymousRoom);
      release();
    }
  }
}
