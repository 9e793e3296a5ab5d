/**
 * One run of the authorship check over one update, against the document as stored now. It mirrors how
 * `Y.applyUpdate` will read and integrate the update and refuses whatever it cannot place (see
 * authorship.ts for the rules). Who may write which Yjs clientID is the {@link AuthorPolicy}'s to say:
 * the sending connection for a client update, the anonymous document's owners for a login merge.
 */
import {
  BUSINESS_READ_KEY,
  checkMessageId,
  checkMeta,
  checkProfileEntry,
  checkReadMark,
  checkText,
  checkTimestamp,
  checkUserMessage,
  RELAY_OWNER,
  Root,
} from "@parley/protocol";
import * as Y from "yjs";
import { badFrame, refuse, resync } from "./check-failure.js";
import { sameAsStored } from "./known-structs.js";
import { authorKey, messageAuthors } from "./message-authors.js";
import { ParkedStructs } from "./parked-structs.js";

/** Who may write what in one update. */
export interface AuthorPolicy {
  /**
   * The author of the new structs of Yjs clientID `client`: a Parley client id, or `RELAY_OWNER` for
   * business data a merge carries over. Throws (through `refuse`) if no one in this update may write them.
   */
  authorOf(client: number): string;
  /** Whether the update may delete not-yet-deleted items of `client`. */
  mayDelete(client: number): boolean;
  /**
   * Whether structs the document already has must be the stored ones (known-structs.ts): true for a client's
   * update, where a different copy means a Yjs clientID another client wrote with.
   */
  readonly checksKnown?: boolean;
}

/** A struct as `Y.decodeUpdate` returns it. */
export type Struct = Y.Item | Y.GC | Y.Skip;
/** A decoded delete set: per clientID, deleted clock ranges. */
export type DeleteRanges = Map<number, Array<{ clock: number; len: number }>>;

const LAYOUT_ROOTS: ReadonlySet<string> = new Set(Object.values(Root));

/** Where an item lands: a root type name and, for map entries, the key. */
interface Placement {
  root: string;
  key: string | null;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** A business message a merge may carry over from an anonymous document (the relay wrote it there). */
function checkBusinessMessage(value: unknown, now: number): string | null {
  if (!isPlainObject(value)) return "message must be an object";
  if (value.role !== "business") return 'role must be "business"';
  if (!isPlainObject(value.author)) return "author must be an object";
  return checkMessageId(value.id) ?? checkText(value.text) ?? checkTimestamp(value.ts, now) ?? checkMeta(value.meta);
}

/** Sorts clock ranges and merges overlapping or adjacent ones into disjoint `[start, end)` pairs. */
function mergeRanges(ranges: Array<{ clock: number; len: number }>): Array<[number, number]> {
  const sorted = ranges.map(({ clock, len }): [number, number] => [clock, clock + len]).sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** One run of the check over one update. Call {@link UpdateCheck.run} once. */
export class UpdateCheck {
  /** The update's structs per clientID, in clock order (as Yjs reads them). */
  private readonly byClient = new Map<number, Struct[]>();
  /** Each struct's index in its clientID's list. */
  private readonly indexOf = new Map<Struct, number>();
  /** New items (or the new part of a straddling item) with the clock from which they are new. */
  private readonly newItems = new Map<Y.Item, number>();
  private readonly placements = new Map<Y.Item, Placement>();
  /** The author of each clientID with new structs. */
  private readonly authors = new Map<number, string>();
  /** Structs (or the first part of a straddling one) the document already has, with the clock where that ends. */
  private readonly known = new Map<Y.Item | Y.GC, number>();
  /** Message ids this update adds, with their authors. */
  private readonly addedIds = new Map<string, string>();
  /** What the document holds parked, already judged (parked-structs.ts). */
  private readonly parked: ParkedStructs | null;
  /** Structs of this update that are copies of parked ones. */
  private readonly parkedCopies = new Set<Struct>();

  constructor(
    private readonly doc: Y.Doc,
    private readonly structs: Struct[],
    private readonly policy: AuthorPolicy,
    private readonly now: number,
  ) {
    this.parked = ParkedStructs.of(doc);
  }

  /** Runs every check; throws a CheckFailure on the first broken rule. */
  run(ds: { clients: DeleteRanges }): void {
    this.groupByClient();
    for (const [client, structs] of this.byClient) this.findNewStructs(client, structs);
    for (const struct of this.structs) this.checkReferences(struct);
    this.checkDependencyOrder();
    for (const [item, from] of this.newItems) this.checkItem(item, from);
    if (this.policy.checksKnown === true) this.checkKnown();
    this.checkDeleteRanges(ds);
    for (const [client, ranges] of ds.clients) this.checkDeletes(client, ranges);
  }

  /** Known structs must be the stored ones (known-structs.ts). */
  private checkKnown(): void {
    for (const [struct, end] of this.known) {
      if (!sameAsStored(this.doc, struct, end)) {
        refuse(
          `clientID ${struct.id.client} at clock ${struct.id.clock} differs from what is stored (another client's)`,
        );
      }
    }
  }

  /** Yjs re-encodes deletes it cannot apply yet, and throws half-way on empty or out-of-range ones. */
  private checkDeleteRanges(ds: { clients: DeleteRanges }): void {
    for (const ranges of ds.clients.values()) {
      for (const { clock, len } of ranges) {
        if (len <= 0 || !Number.isSafeInteger(clock + len)) badFrame("empty or out-of-range delete");
      }
    }
  }

  private state(client: number): number {
    return Y.getState(this.doc.store, client);
  }

  /** Groups structs per clientID; {@link checkFraming} already ensured one block per clientID. */
  private groupByClient(): void {
    for (const struct of this.structs) {
      // Yjs would integrate an empty struct without advancing the clock: nothing honest encodes one.
      if (struct.length <= 0) badFrame("empty struct");
      if (!Number.isSafeInteger(struct.id.clock + struct.length)) badFrame("clock out of range");
      // Decoded (not integrated) items hold their root's name as a string, or the parent item's ID.
      const parent: unknown = struct instanceof Y.Item ? struct.parent : null;
      // Yjs creates every root type an update names, even on structs it then skips as known.
      if (typeof parent === "string" && !LAYOUT_ROOTS.has(parent)) {
        refuse(`unknown root ${JSON.stringify(parent.slice(0, 40))}`);
      }
      if (parent !== null && typeof parent !== "string") refuse("nested types are not allowed");
      const list = this.byClient.get(struct.id.client) ?? [];
      this.indexOf.set(struct, list.length);
      list.push(struct);
      this.byClient.set(struct.id.client, list);
    }
  }

  /** Finds what is new for one clientID and asks the policy who writes it. */
  private findNewStructs(client: number, structs: Struct[]): void {
    const stored = this.state(client);
    let frontier = stored;
    let hasNew = false;
    for (const struct of structs) {
      const end = struct.id.clock + struct.length;
      if (struct.id.clock < stored && !(struct instanceof Y.Skip)) this.known.set(struct, Math.min(end, stored));
      if (end <= frontier) continue; // already stored: Yjs ignores it
      if (struct.id.clock > frontier) resync(`clientID ${client} is missing clocks ${frontier}..${struct.id.clock}`);
      if (struct instanceof Y.Skip) continue; // a gap: whatever follows it is caught above
      if (this.parked?.holds(struct, frontier, end) === true) {
        // Judged when it was parked, and the same: Yjs integrates this copy (or parks it with the other), then
        // skips the parked one.
        this.parkedCopies.add(struct);
        frontier = end;
        continue;
      }
      hasNew = true;
      if (struct instanceof Y.Item) this.newItems.set(struct, frontier);
      frontier = end;
    }
    if (hasNew) this.authors.set(client, this.policy.authorOf(client));
  }

  /**
   * Yjs integrates a struct after the previous struct of its clientID and after the items its origins
   * name; a cycle among those would leave the update pending. Refuse cycles up front. Iterative: an
   * honest sync step 2 can chain thousands of structs.
   */
  private checkDependencyOrder(): void {
    const done = new Set<Struct>();
    const active = new Set<Struct>();
    for (const start of this.structs) {
      if (done.has(start) || start instanceof Y.Skip) continue;
      const stack: Array<{ struct: Struct; pending: Struct[] }> = [
        { struct: start, pending: this.dependenciesOf(start) },
      ];
      active.add(start);
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as { struct: Struct; pending: Struct[] };
        const next = top.pending.pop();
        if (next === undefined) {
          stack.pop();
          active.delete(top.struct);
          done.add(top.struct);
        } else if (active.has(next)) {
          badFrame("update has a dependency cycle");
        } else if (!done.has(next)) {
          active.add(next);
          stack.push({ struct: next, pending: this.dependenciesOf(next) });
        }
      }
    }
  }

  /**
   * Yjs resolves the origins of every struct it reads, known ones included: an origin of another clientID
   * that neither the document nor the update has parks the update, and a same-clientID origin that does
   * not exist yet makes Yjs throw half-way through applying.
   */
  private checkReferences(struct: Struct): void {
    // A parked copy may lack what it waits for: the relay's own step 2 hands its parked structs to every client.
    if (!(struct instanceof Y.Item) || this.parkedCopies.has(struct)) return;
    for (const id of [struct.origin, struct.rightOrigin]) {
      if (id === null) continue;
      if (id.client === struct.id.client) {
        if (id.clock >= struct.id.clock) badFrame("origin at or after its item");
      } else if (id.clock >= this.state(id.client)) {
        const found = this.findInUpdate(id);
        if (found === null || found instanceof Y.Skip) resync(`missing dependency ${id.client}:${id.clock}`);
      }
    }
  }

  /** Structs of this update that `struct` needs integrated first. */
  private dependenciesOf(struct: Struct): Struct[] {
    const result: Struct[] = [];
    const list = this.byClient.get(struct.id.client) ?? [];
    const index = this.indexOf.get(struct) ?? 0;
    const before = index > 0 ? list[index - 1] : undefined;
    if (before !== undefined && before.id.clock + before.length > this.state(struct.id.client)) result.push(before);
    if (struct instanceof Y.Item) {
      for (const id of [struct.origin, struct.rightOrigin]) {
        if (id === null || id.clock < this.state(id.client)) continue;
        const found = this.findInUpdate(id);
        if (found !== null) result.push(found);
      }
    }
    return result;
  }

  /** The struct of this update that contains `id`, or null. */
  private findInUpdate(id: Y.ID): Struct | null {
    const list = this.byClient.get(id.client);
    if (list === undefined) return null;
    // Clocks in a list are contiguous and ascending: binary search.
    let low = 0;
    let high = list.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const struct = list[middle] as Struct;
      if (id.clock < struct.id.clock) high = middle - 1;
      else if (id.clock >= struct.id.clock + struct.length) low = middle + 1;
      else return struct;
    }
    return null;
  }

  /** Checks one new item: its content and where it lands. `from` is the first clock Yjs will integrate. */
  private checkItem(item: Y.Item, from: number): void {
    const content = item.content;
    const placement = this.placementOf(item);
    if (item.origin !== null && item.rightOrigin !== null) {
      const right = this.placementAt(item.rightOrigin);
      if (right.root !== placement.root || right.key !== placement.key) refuse("origins in different parents");
    }
    if (from > item.id.clock) {
      // Yjs splits off the known part and attaches the rest after the stored item before `from`.
      const left = this.storedPlacement(Y.createID(item.id.client, from - 1));
      if (left.root !== placement.root || left.key !== placement.key) refuse("item straddles two parents");
    }
    const author = this.authors.get(item.id.client) as string;
    if (content instanceof Y.ContentDeleted) {
      this.checkPlacement(placement, author);
      return;
    }
    if (!(content instanceof Y.ContentAny)) refuse(`content ${content.constructor.name} is not allowed`);
    this.checkPlacement(placement, author);
    for (const value of content.getContent()) this.checkValue(placement, value, author);
  }

  private checkPlacement(placement: Placement, author: string): void {
    if (author === RELAY_OWNER) {
      // Only a merge names the relay as an author: business messages and the business's read mark.
      if (placement.root === Root.messages && placement.key === null) return;
      if (placement.root === Root.reads && placement.key === BUSINESS_READ_KEY) return;
      refuse(`relay data in "${placement.root}" is not carried over`);
    }
    switch (placement.root) {
      case Root.messages:
      case Root.profile:
        if (placement.key !== null) refuse(`${placement.root} takes no keys`);
        return;
      case Root.reads:
        if (placement.key !== author) refuse("reads may be written only under the author's client id");
        return;
      default:
        refuse(`root "${placement.root}" is not writable by clients`);
    }
  }

  private checkValue(placement: Placement, value: unknown, author: string): void {
    const problem =
      placement.root === Root.messages
        ? author === RELAY_OWNER
          ? checkBusinessMessage(value, this.now)
          : checkUserMessage(value, author, this.now)
        : placement.root === Root.profile
          ? checkProfileEntry(value, author, this.now)
          : checkReadMark(value, this.now);
    if (problem !== null) refuse(`${placement.root}: ${problem}`);
    if (placement.root !== Root.messages) return;
    // Readers show a message id once (the first in array order): another author's id would hide theirs.
    const key = authorKey(value) as { id: string; author: string };
    const used = messageAuthors(this.doc).get(key.id) ?? this.addedIds.get(key.id);
    if (used !== undefined && used !== key.author) refuse("message id already used by another author");
    this.addedIds.set(key.id, key.author);
  }

  /**
   * Where an item lands, as Yjs decides it: the encoded root name when the item has no origins,
   * otherwise the parent (and map key) of its left origin, or else of its right origin. Follows chains
   * of origins inside the update iteratively (they can be as long as the update).
   */
  private placementOf(item: Y.Item): Placement {
    const chain: Y.Item[] = [];
    const onChain = new Set<Y.Item>();
    let current = item;
    let placement: Placement | undefined;
    while (placement === undefined) {
      placement = this.placements.get(current);
      if (placement !== undefined) break;
      if (onChain.has(current)) badFrame("update has a dependency cycle");
      onChain.add(current);
      chain.push(current);
      const origin = current.origin ?? current.rightOrigin;
      if (origin === null) {
        if (typeof current.parent !== "string") refuse("item has no parent");
        placement = { root: current.parent as unknown as string, key: current.parentSub };
      } else {
        const source = this.originSource(origin);
        if (source instanceof Y.Item) current = source;
        else placement = source;
      }
    }
    for (const link of chain) this.placements.set(link, placement);
    return placement;
  }

  /** The update's item an origin names, or the placement of the stored item it names. */
  private originSource(origin: Y.ID): Y.Item | Placement {
    if (origin.clock < this.state(origin.client)) return this.storedPlacement(origin);
    const found = this.findInUpdate(origin);
    if (found === null || found instanceof Y.Skip) return resync(`missing dependency ${origin.client}:${origin.clock}`);
    if (!(found instanceof Y.Item)) return refuse("origin is a GC struct");
    return found;
  }

  private placementAt(origin: Y.ID): Placement {
    const source = this.originSource(origin);
    return source instanceof Y.Item ? this.placementOf(source) : source;
  }

  /** Where a stored item lands; only root types are understood. */
  private storedPlacement(id: Y.ID): Placement {
    const struct = Y.getItem(this.doc.store, id) as Y.Item | Y.GC;
    if (!(struct instanceof Y.Item)) return refuse("origin is a GC struct");
    const parent = struct.parent;
    if (!(parent instanceof Y.AbstractType) || parent._item !== null) return refuse("origin is not in a root type");
    return { root: Y.findRootTypeKey(parent), key: struct.parentSub };
  }

  /** Deletes: clientIDs the policy allows, or ranges the document has already deleted. */
  private checkDeletes(client: number, ranges: Array<{ clock: number; len: number }>): void {
    if (this.policy.mayDelete(client)) return;
    // Merged first, so overlapping ranges cannot make the walk over stored structs quadratic.
    for (const [start, end] of mergeRanges(ranges)) {
      if (!this.alreadyDeleted(client, start, end)) {
        refuse(`deletes items of clientID ${client}, which the sender may not delete`);
      }
    }
  }

  private alreadyDeleted(client: number, start: number, end: number): boolean {
    const state = this.state(client);
    if (end > state) {
      // Past the stored clocks: deleted only if a parked delete (already judged) deletes it.
      if (this.parked?.deletes(client, Math.max(start, state), end) !== true) return false;
      if (start >= state) return true;
      return this.alreadyDeleted(client, start, state);
    }
    const structs = this.doc.store.clients.get(client);
    if (structs === undefined) return false;
    for (let i = Y.findIndexSS(structs, start); i < structs.length; i++) {
      const struct = structs[i] as Y.Item | Y.GC;
      if (struct.id.clock >= end) break;
      if (!struct.deleted) return false;
    }
    return true;
  }
}
