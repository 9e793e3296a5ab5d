/**
 * The relay's authorship check: judges an update from a user client BEFORE it is applied.
 *
 * The rules are those of `@parley/protocol` ("Who may write what" in packages/protocol/README.md, and
 * `layout.ts` / `records.ts`). The Yjs authors call server-side filtering of binary updates easy to get
 * wrong, so this is a strict allow-list that mirrors how `Y.applyUpdate` will read and integrate the
 * update, and refuses whatever it cannot place:
 *
 * - Structs the document already has are skipped by Yjs, so their content is not judged; their references
 *   are, because Yjs still resolves their origins and creates the roots they name. They must be the stored
 *   ones, though (known-structs.ts): a different copy is a Yjs clientID another client wrote with.
 * - Every new struct's Yjs clientID must belong to the sender (or be unused, and then becomes the
 *   sender's: `newOwners`); only `ContentAny` items land, plus `GC`/`ContentDeleted` placeholders.
 * - Every new item's parent must be resolvable now — from its own root name, or from its origin items
 *   in this update or in the document — and must be `messages`, `profile`, or the sender's own `reads` key.
 *   A missing dependency is `resync`: Yjs would park the update in `pendingStructs`, where it would later
 *   integrate against data this check never saw. What the document already holds parked was judged before
 *   (attested updates handed back): the same copies of it pass (parked-structs.ts).
 * - Deletes may name the sender's clientIDs only, except ranges the document has already deleted (an honest
 *   sync step 2 carries the sender's whole delete set, including the relay's map overwrites).
 * - A new message may not reuse another author's message id (readers show an id once, so it would hide theirs).
 * - Anything not understood is refused; the function never changes the document (it only indexes its
 *   message ids, kept current by an observer).
 */
import { ownersOf, RELAY_OWNER } from "@parley/protocol";
import * as Y from "yjs";
import { CheckFailure, type FailureCode, refuse } from "./check-failure.js";
import { ParkedStructs } from "./parked-structs.js";
import { type AuthorPolicy, type DeleteRanges, type Struct, UpdateCheck } from "./update-check.js";
import { checkFraming } from "./update-framing.js";

/** What {@link checkUpdate} decided. `newOwners` are Yjs clientIDs to record as the sender's before applying. */
export type Verdict = { ok: true; newOwners: number[] } | { ok: false; code: FailureCode; reason: string };

/** The connection an update arrived on. */
export interface Sender {
  /** The Parley client id derived from the connection's client secret. */
  clientId: string;
}

/** A client update: the sender writes the clientIDs it owns, and claims unused ones (`newOwners`). */
class SenderPolicy implements AuthorPolicy {
  readonly newOwners: number[] = [];
  readonly checksKnown = true;
  private readonly claimed = new Set<number>();
  private readonly owners: Y.Map<string>;
  /** What the document holds parked, read at the first clientID `owners` does not bind. */
  private parked: ParkedStructs | null | undefined;

  constructor(
    private readonly doc: Y.Doc,
    private readonly sender: Sender,
  ) {
    this.owners = ownersOf(doc);
  }

  authorOf(client: number): string {
    const owner = this.ownerOf(client);
    if (owner === this.sender.clientId || this.claimed.has(client)) return this.sender.clientId;
    if (owner === RELAY_OWNER) refuse(`clientID ${client} belongs to the relay`);
    if (owner !== undefined) refuse(`clientID ${client} belongs to another client`);
    if (Y.getState(this.doc.store, client) > 0) refuse(`clientID ${client} has data but no owner`);
    this.claimed.add(client);
    this.newOwners.push(client);
    return this.sender.clientId;
  }

  mayDelete(client: number): boolean {
    return this.claimed.has(client) || this.ownerOf(client) === this.sender.clientId;
  }

  private ownerOf(client: number): string | undefined {
    const owner = this.owners.get(String(client));
    if (owner !== undefined) return owner;
    // A binding may wait parked behind the relay's other writes (parked-structs.ts); it binds all the same.
    if (this.parked === undefined) this.parked = ParkedStructs.of(this.doc);
    return this.parked?.owner(client);
  }
}

/** Decodes `update` and runs {@link UpdateCheck} with `policy`; a crash of the check counts as a refusal. */
export function runCheck(
  doc: Y.Doc,
  update: Uint8Array,
  policy: AuthorPolicy,
  now: number,
): { ok: true } | { ok: false; code: FailureCode; reason: string } {
  let decoded: { structs: Struct[]; ds: { clients: DeleteRanges } };
  try {
    decoded = Y.decodeUpdate(update);
  } catch (error) {
    return { ok: false, code: "bad-frame", reason: `update cannot be decoded: ${String(error)}` };
  }
  try {
    checkFraming(update);
    new UpdateCheck(doc, decoded.structs, policy, now).run(decoded.ds);
    return { ok: true };
  } catch (error) {
    if (error instanceof CheckFailure) return { ok: false, code: error.code, reason: error.reason };
    // A check that crashed did not understand the update: refuse it rather than guess.
    return { ok: false, code: "authorship", reason: `update not understood: ${String(error)}` };
  }
}

/**
 * Judges an update from a user client before it is applied. It reads `doc` and never changes its content
 * (the first call indexes the document's message ids and observes it to keep the index current).
 *
 * @param doc - the room's document as stored now
 * @param update - a Yjs v1 update (sync step 2 or update message payload)
 * @param sender - the connection's client
 * @param now - the relay's clock in milliseconds, for timestamp checks
 */
export function checkUpdate(doc: Y.Doc, update: Uint8Array, sender: Sender, now: number): Verdict {
  const policy = new SenderPolicy(doc, sender);
  const result = runCheck(doc, update, policy, now);
  return result.ok ? { ok: true, newOwners: policy.newOwners } : result;
}
