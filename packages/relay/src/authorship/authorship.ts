/**
 * The relay's authorship check: judges an update from a user client BEFORE it is applied.
 *
 * The rules are those of `@parley/protocol` ("Who may write what" in packages/protocol/README.md, and
 * `layout.ts` / `records.ts`). The Yjs authors call server-side filtering of binary updates easy to get
 * wrong, so this is a strict allow-list that mirrors how `Y.applyUpdate` will read and integrate the
 * update, and refuses whatever it cannot place:
 *
 * - Structs the document already has are skipped by Yjs, so their content is not judged; their references
 *   are, because Yjs still resolves their origins and creates the roots they name.
 * - Every new struct's Yjs clientID must belong to the sender (or be unused, and then becomes the
 *   sender's: `newOwners`); only `ContentAny` items land, plus `GC`/`ContentDeleted` placeholders.
 * - Every new item's parent must be resolvable now — from its own root name, or from its origin items
 *   in this update or in the document — and must be `messages`, `profile`, or the sender's own `reads` key.
 *   A missing dependency is `resync`: Yjs would park the update in `pendingStructs`, where it would later
 *   integrate against data this check never saw.
 * - Deletes may name the sender's clientIDs only, except ranges the document has already deleted (an honest
 *   sync step 2 carries the sender's whole delete set, including the relay's map overwrites).
 * - A new message may not reuse another author's message id (readers show an id once, so it would hide theirs).
 * - Anything not understood is refused; the function never changes the document (it only indexes its
 *   message ids, kept current by an observer).
 */
import {
  checkProfileEntry,
  checkReadMark,
  checkUserMessage,
  type MessageRecord,
  messagesOf,
  ownersOf,
  RELAY_OWNER,
  Root,
  type UserMessageRecord,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as Y from "yjs";
import { forEachAddedMessage } from "./added-messages.js";

/** What {@link checkUpdate} decided. `newOwners` are Yjs clientIDs to record as the sender's before applying. */
export type Verdict =
  | { ok: true; newOwners: number[] }
  | { ok: false; code: "authorship" | "bad-frame" | "resync"; reason: string };

/** The connection an update arrived on. */
export interface Sender {
  /** The Parley client id derived from the connection's client secret. */
  clientId: string;
}

type Struct = Y.Item | Y.GC | Y.Skip;

const LAYOUT_ROOTS: ReadonlySet<string> = new Set(Object.values(Root));
/** A decoded delete set: per clientID, deleted clock ranges. */
type DeleteRanges = Map<number, Array<{ clock: number; len: number }>>;

/** Where an item lands: a root type name and, for map entries, the key. */
interface Placement {
  root: string;
  key: string | null;
}

/** Thrown inside the check to end it with a refusal; caught by {@link checkUpdate}. */
class Refusal extends Error {
  constructor(
    readonly code: "authorship" | "bad-frame" | "resync",
    readonly reason: string,
  ) {
    super(reason);
  }
}

const refuse = (reason: string): never => {
  throw new Refusal("authorship", reason);
};
const badFrame = (reason: string): never => {
  throw new Refusal("bad-frame", reason);
};
const resync = (reason: string): never => {
  throw new Refusal("resync", reason);
};

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
  let decoded: { structs: Struct[]; ds: { clients: DeleteRanges } };
  try {
    decoded = Y.decodeUpdate(update);
  } catch (error) {
    return { ok: false, code: "bad-frame", reason: `update cannot be decoded: ${String(error)}` };
  }
  try {
    checkFraming(update);
    return { ok: true, newOwners: new UpdateCheck(doc, decoded.structs, sender, now).run(decoded.ds) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, code: error.code, reason: error.reason };
    // A check that crashed did not understand the update: refuse it rather than guess.
    return { ok: false, code: "authorship", reason: `update not understood: ${String(error)}` };
  }
}

/**
 * Re-reads the update's framing the way `Y.applyUpdate` does and refuses what `Y.decodeUpdate` would
 * read differently: a clientID in more than one block (Yjs keeps only the last one, so structs this check
 * judged would vanish and later ones would wait for them) and bytes after the delete set. Runs only on
 * updates `Y.decodeUpdate` accepted, so every content read below succeeds in the same places.
 */
function checkFraming(update: Uint8Array): void {
  const decoder = decoding.createDecoder(update);
  const clients = new Set<number>();
  const blocks = decoding.readVarUint(decoder);
  for (let block = 0; block < blocks; block++) {
    const structs = decoding.readVarUint(decoder);
    const client = decoding.readVarUint(decoder);
    decoding.readVarUint(decoder); // first clock
    if (clients.has(client)) badFrame(`clientID ${client} appears in more than one block`);
    clients.add(client);
    for (let i = 0; i < structs; i++) skipStruct(decoder);
  }
  const deleteClients = decoding.readVarUint(decoder);
  for (let i = 0; i < deleteClients; i++) {
    decoding.readVarUint(decoder); // client
    const ranges = decoding.readVarUint(decoder);
    for (let j = 0; j < ranges; j++) {
      decoding.readVarUint(decoder); // clock
      decoding.readVarUint(decoder); // length
    }
  }
  if (decoding.hasContent(decoder)) badFrame("trailing bytes after the update");
}

/** Reads past one struct of a v1 update (layout: yjs `lazyStructReaderGenerator`, `contentRefs`). */
function skipStruct(decoder: decoding.Decoder): void {
  const info = decoding.readUint8(decoder);
  const kind = info & 0b11111;
  if (kind === 0 || kind === 10) {
    decoding.readVarUint(decoder); // GC or Skip length
    return;
  }
  const hasOrigin = (info & 0b1000_0000) !== 0;
  const hasRightOrigin = (info & 0b0100_0000) !== 0;
  if (hasOrigin) skipId(decoder);
  if (hasRightOrigin) skipId(decoder);
  if (!hasOrigin && !hasRightOrigin) {
    if (decoding.readVarUint(decoder) === 1)
      decoding.readVarString(decoder); // root name
    else skipId(decoder); // parent item
    if ((info & 0b0010_0000) !== 0) decoding.readVarString(decoder); // map key
  }
  skipContent(decoder, kind);
}

function skipId(decoder: decoding.Decoder): void {
  decoding.readVarUint(decoder);
  decoding.readVarUint(decoder);
}

function skipContent(decoder: decoding.Decoder, kind: number): void {
  switch (kind) {
    case 1: // deleted
      decoding.readVarUint(decoder);
      return;
    case 2: // JSON
    case 8: {
      // any
      const length = decoding.readVarUint(decoder);
      for (let i = 0; i < length; i++) {
        if (kind === 2) decoding.readVarString(decoder);
        else decoding.readAny(decoder);
      }
      return;
    }
    case 3: // binary
      decoding.readVarUint8Array(decoder);
      return;
    case 4: // string
    case 5: // embed
      decoding.readVarString(decoder);
      return;
    case 6: // format
      decoding.readVarString(decoder);
      decoding.readVarString(decoder);
      return;
    case 7: {
      // type: XML elements and hooks carry a name
      const typeRef = decoding.readVarUint(decoder);
      if (typeRef === 3 || typeRef === 5) decoding.readVarString(decoder);
      return;
    }
    case 9: // subdocument
      decoding.readVarString(decoder);
      decoding.readAny(decoder);
      return;
    default:
      badFrame(`unknown content type ${kind}`);
  }
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

/** Per document: every message id seen and its author (a client id, or `@business`). Only grows. */
const authorsByDoc = new WeakMap<Y.Doc, Map<string, string>>();

/** The message authors of `doc`, indexed once and then kept current by an observer (no per-update scan). */
function messageAuthors(doc: Y.Doc): Map<string, string> {
  let authors = authorsByDoc.get(doc);
  if (authors !== undefined) return authors;
  const index = new Map<string, string>();
  const add = (record: MessageRecord) => {
    if (record === null || typeof record !== "object" || typeof record.id !== "string") return;
    if (!index.has(record.id)) index.set(record.id, record.role === "business" ? "@business" : String(record.client));
  };
  const messages = messagesOf(doc);
  for (const record of messages.toArray()) add(record);
  doc.on("afterTransaction", (transaction: Y.Transaction) => forEachAddedMessage(transaction, messages, add));
  authors = index;
  authorsByDoc.set(doc, authors);
  return authors;
}

/** One run of the check over one update. */
class UpdateCheck {
  private readonly owners: Y.Map<string>;
  /** The update's structs per clientID, in clock order (as Yjs reads them). */
  private readonly byClient = new Map<number, Struct[]>();
  /** Each struct's index in its clientID's list. */
  private readonly indexOf = new Map<Struct, number>();
  /** New items (or the new part of a straddling item) with the clock from which they are new. */
  private readonly newItems = new Map<Y.Item, number>();
  private readonly placements = new Map<Y.Item, Placement>();
  private readonly newOwners: number[] = [];

  constructor(
    private readonly doc: Y.Doc,
    private readonly structs: Struct[],
    private readonly sender: Sender,
    private readonly now: number,
  ) {
    this.owners = ownersOf(doc);
  }

  run(ds: { clients: DeleteRanges }): number[] {
    this.groupByClient();
    for (const [client, structs] of this.byClient) this.findNewStructs(client, structs);
    for (const struct of this.structs) this.checkReferences(struct);
    this.checkDependencyOrder();
    for (const [item, from] of this.newItems) this.checkItem(item, from);
    this.checkDeleteRanges(ds);
    for (const [client, ranges] of ds.clients) this.checkDeletes(client, ranges);
    return this.newOwners;
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

  /** Finds what is new for one clientID and checks the sender may write it. */
  private findNewStructs(client: number, structs: Struct[]): void {
    let frontier = this.state(client);
    let hasNew = false;
    for (const struct of structs) {
      const end = struct.id.clock + struct.length;
      if (end <= frontier) continue; // already stored: Yjs ignores it
      if (struct.id.clock > frontier) resync(`clientID ${client} is missing clocks ${frontier}..${struct.id.clock}`);
      if (struct instanceof Y.Skip) continue; // a gap: whatever follows it is caught above
      hasNew = true;
      if (struct instanceof Y.Item) this.newItems.set(struct, frontier);
      frontier = end;
    }
    if (hasNew) this.claim(client);
  }

  /** The sender may write new structs of `client` if it owns it, or if nobody has used it yet. */
  private claim(client: number): void {
    const owner = this.owners.get(String(client));
    if (owner === this.sender.clientId) return;
    if (owner === RELAY_OWNER) refuse(`clientID ${client} belongs to the relay`);
    if (owner !== undefined) refuse(`clientID ${client} belongs to another client`);
    if (this.state(client) > 0) refuse(`clientID ${client} has data but no owner`);
    this.newOwners.push(client);
  }

  private ownsOrClaims(client: number): boolean {
    return this.owners.get(String(client)) === this.sender.clientId || this.newOwners.includes(client);
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
    if (!(struct instanceof Y.Item)) return;
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
    if (content instanceof Y.ContentDeleted) {
      this.checkPlacement(placement);
      return;
    }
    if (!(content instanceof Y.ContentAny)) refuse(`content ${content.constructor.name} is not allowed`);
    this.checkPlacement(placement);
    for (const value of content.getContent()) this.checkValue(placement, value);
  }

  private checkPlacement(placement: Placement): void {
    switch (placement.root) {
      case Root.messages:
      case Root.profile:
        if (placement.key !== null) refuse(`${placement.root} takes no keys`);
        return;
      case Root.reads:
        if (placement.key !== this.sender.clientId) refuse("reads may be written only under the sender's client id");
        return;
      default:
        refuse(`root "${placement.root}" is not writable by clients`);
    }
  }

  private checkValue(placement: Placement, value: unknown): void {
    const { clientId } = this.sender;
    const problem =
      placement.root === Root.messages
        ? checkUserMessage(value, clientId, this.now)
        : placement.root === Root.profile
          ? checkProfileEntry(value, clientId, this.now)
          : checkReadMark(value, this.now);
    if (problem !== null) refuse(`${placement.root}: ${problem}`);
    if (placement.root === Root.messages) {
      // Readers show a message id once (the first in array order): another author's id would hide theirs.
      const author = messageAuthors(this.doc).get((value as UserMessageRecord).id);
      if (author !== undefined && author !== clientId) refuse("message id already used by another author");
    }
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

  /** Deletes: the sender's own clientIDs, or ranges the document has already deleted. */
  private checkDeletes(client: number, ranges: Array<{ clock: number; len: number }>): void {
    if (this.ownsOrClaims(client)) return;
    // Merged first, so overlapping ranges cannot make the walk over stored structs quadratic.
    for (const [start, end] of mergeRanges(ranges)) {
      if (!this.alreadyDeleted(client, start, end)) {
        refuse(`deletes items of clientID ${client}, which the sender does not own`);
      }
    }
  }

  private alreadyDeleted(client: number, start: number, end: number): boolean {
    if (end > this.state(client)) return false;
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
