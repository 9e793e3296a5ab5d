/**
 * Structs and deletes the document holds parked: Yjs keeps what it cannot integrate yet (its dependencies are
 * missing) in `pendingStructs` / `pendingDs`, and integrates it once they arrive. Client updates never get there
 * (the check asks for a resync instead); what does is what the relay had already judged: attested updates handed
 * back after a relay lost them (room.ts `applyAttested`), and stored updates.
 *
 * A reader hands back the updates the relay forwarded to it, before its own step 2. When one of them builds on
 * the reader's own change that the relay lost too (a reply to the reader's message), Yjs parks it until the step 2
 * brings that change, and the step 2 carries the parked structs as well (they are past the relay's step 1). Judged
 * as new, they would be the reader writing under another client's clientID: an honest reader refused 4409, at
 * every reconnect. So a struct of the update whose clocks are all parked, each clock the same as the parked copy
 * (origins, parent, key and content: Yjs integrates the update's copy first and then skips the parked one), is
 * already judged; and deleting what the parked deletes delete is no new delete.
 */
import { Root } from "@parley/protocol";
import * as Y from "yjs";
import { sameValues } from "./known-structs.js";

type Placed = Y.Item | Y.GC;

const sameId = (a: Y.ID | null, b: Y.ID | null): boolean =>
  a === null || b === null ? a === b : a.client === b.client && a.clock === b.clock;

/** The left origin Yjs encodes for `clock` inside `item` (its own previous clock past the first). */
const originAt = (item: Y.Item, clock: number): Y.ID | null =>
  clock === item.id.clock ? item.origin : Y.createID(item.id.client, clock - 1);

/** A decoded item's parent: a root name, the ID of a parent item, or null when its origins give it. */
function sameParent(a: Y.Item, b: Y.Item): boolean {
  const pa: unknown = a.parent;
  const pb: unknown = b.parent;
  if (typeof pa === "string" || typeof pb === "string") return pa === pb && a.parentSub === b.parentSub;
  return sameId(pa as Y.ID | null, pb as Y.ID | null) && a.parentSub === b.parentSub;
}

/**
 * Whether clocks `[clock, to)` of the update's `sent` are what `parked` holds there. `deleted` says whether parked
 * deletes delete them: Yjs integrates the sent copy, so one without content must not hide parked content.
 */
function sameSegment(parked: Placed, sent: Placed, clock: number, to: number, deleted: boolean): boolean {
  const deletedParked = deleted || parked instanceof Y.GC || parked.content instanceof Y.ContentDeleted;
  if (sent instanceof Y.GC) return deletedParked;
  if (parked instanceof Y.GC) return false;
  if (!sameId(originAt(parked, clock), originAt(sent, clock)) || !sameId(parked.rightOrigin, sent.rightOrigin)) {
    return false;
  }
  // Without origins the parent (and key) is encoded; with them, equal origins give the same parent.
  if (originAt(sent, clock) === null && sent.rightOrigin === null && !sameParent(parked, sent)) return false;
  // A copy whose content its holder saw deleted (the delete is parked too) integrates as deleted.
  if (sent.content instanceof Y.ContentDeleted) return deletedParked;
  if (!(parked.content instanceof Y.ContentAny) || !(sent.content instanceof Y.ContentAny)) return false;
  return sameValues(parked, sent, clock, to);
}

/** Sorted, merged `[start, end)` ranges. */
function merged(ranges: Array<[number, number]>): Array<[number, number]> {
  ranges.sort((a, b) => a[0] - b[0]);
  const result: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = result[result.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else result.push([start, end]);
  }
  return result;
}

/** The parked structs and deletes of a document. Read with {@link ParkedStructs.of}; decoding is linear in them. */
export class ParkedStructs {
  private constructor(
    /** Per clientID, parked structs in clock order (no Skips). */
    private readonly structs: Map<number, Placed[]>,
    /** Per clientID, clock ranges parked deletes (or parked deleted structs) delete. */
    private readonly deleted: Map<number, Array<[number, number]>>,
  ) {}

  /** What `doc` holds parked, or null if nothing. */
  static of(doc: Y.Doc): ParkedStructs | null {
    const pendingStructs = doc.store.pendingStructs;
    const pendingDs = doc.store.pendingDs;
    if (pendingStructs === null && pendingDs === null) return null;
    const structs = new Map<number, Placed[]>();
    const deleted = new Map<number, Array<[number, number]>>();
    const addDeleted = (client: number, start: number, end: number) => {
      const list = deleted.get(client) ?? [];
      list.push([start, end]);
      deleted.set(client, list);
    };
    for (const update of [pendingStructs?.update, pendingDs ?? undefined]) {
      if (update === undefined) continue;
      const decoded = Y.decodeUpdateV2(update);
      for (const struct of decoded.structs) {
        if (struct instanceof Y.Skip) continue;
        const list = structs.get(struct.id.client) ?? [];
        list.push(struct);
        structs.set(struct.id.client, list);
        if (struct instanceof Y.GC || struct.content instanceof Y.ContentDeleted) {
          addDeleted(struct.id.client, struct.id.clock, struct.id.clock + struct.length);
        }
      }
      for (const [client, ranges] of decoded.ds.clients) {
        for (const { clock, len } of ranges) addDeleted(client, clock, clock + len);
      }
    }
    for (const list of structs.values()) list.sort((a, b) => a.id.clock - b.id.clock);
    for (const [client, ranges] of deleted) deleted.set(client, merged(ranges));
    return new ParkedStructs(structs, deleted);
  }

  /** Whether every clock in `[from, to)` of `struct` is parked, as the same struct data. */
  holds(struct: Placed, from: number, to: number): boolean {
    const list = this.structs.get(struct.id.client);
    if (list === undefined) return false;
    let index = this.indexAt(list, from);
    let clock = from;
    while (clock < to) {
      const parked = list[index];
      if (parked === undefined || parked.id.clock > clock) return false; // a gap: not parked
      const end = Math.min(to, parked.id.clock + parked.length);
      if (!sameSegment(parked, struct, clock, end, this.deletes(struct.id.client, clock, end))) return false;
      clock = end;
      index++;
    }
    return true;
  }

  /**
   * The Parley client a parked `owners` entry binds Yjs clientID `client` to. The relay writes a binding after its
   * other writes, so it can wait parked behind one of them (a business reply to a lost message) while the structs
   * it covers are handed back and integrated: their author's next update must still be its own.
   */
  owner(client: number): string | undefined {
    const key = String(client);
    for (const list of this.structs.values()) {
      for (const struct of list) {
        if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentAny)) continue;
        const parent: unknown = struct.parent;
        const value: unknown = struct.content.arr[0];
        if (parent === Root.owners && struct.parentSub === key && typeof value === "string") return value;
      }
    }
    return undefined;
  }

  /** Whether parked deletes delete every clock in `[start, end)` of `client`. */
  deletes(client: number, start: number, end: number): boolean {
    // Merged ranges, sorted: the last that starts at or before `start` is the only one that can hold the range.
    const ranges = this.deleted.get(client) ?? [];
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((ranges[middle] as [number, number])[0] <= start) low = middle + 1;
      else high = middle;
    }
    const range = ranges[low - 1];
    return range !== undefined && end <= range[1];
  }

  /** The index of the first parked struct that ends after `clock` (binary search). */
  private indexAt(list: Placed[], clock: number): number {
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const struct = list[middle] as Placed;
      if (struct.id.clock + struct.length <= clock) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
