/**
 * The cases of the {@link RelayStorage} conformance suite (see conformance.ts), one per promise of the
 * contract on the interface in storage.ts.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "@parley/protocol";
import * as Y from "yjs";
import type { RelayStorageCase, RelayStorageMedium } from "./conformance.js";
import type { RelayStorage } from "./storage.js";

const ROOM = "conformance/u/YWxpY2U";
const bytes = (...values: number[]) => new Uint8Array(values);

/** Asserts that `promise` rejects with a FencedError (code ERR_FENCED, a StorageError). */
async function assertFenced(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: { code?: unknown; name?: unknown }) => error.code === ErrorCode.Fenced,
    `${what} must reject with a FencedError (code ${ErrorCode.Fenced})`,
  );
}

/** A Yjs update that pushes `value` onto the array "items" (each value from its own Yjs client). */
function itemUpdate(value: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = 1000 + value;
  doc.getArray<number>("items").push([value]);
  return Y.encodeStateAsUpdate(doc);
}

/** The sorted items of the document stored as `updates`. */
function itemsOf(updates: Uint8Array[]): number[] {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc
    .getArray<number>("items")
    .toArray()
    .sort((a, b) => a - b);
}

/** The update that holds everything in `updates` (what a writer would compact them to). */
function merged(updates: Uint8Array[]): Uint8Array {
  return Y.mergeUpdates(updates);
}

async function writer(medium: RelayStorageMedium, name = ROOM): Promise<{ storage: RelayStorage; fence: number }> {
  const storage = await medium.open();
  return { storage, fence: await storage.claim(name) };
}

export const relayStorageCases: readonly RelayStorageCase[] = [
  {
    name: "load returns [] for a name never written, and copies of what was appended, in call order",
    async run(medium) {
      const { storage, fence } = await writer(medium);
      assert.deepEqual(await storage.load("conformance/u/bmV2ZXI"), [], "an unknown name loads as []");
      const updates = Array.from({ length: 50 }, (_, i) => bytes(i, i >> 8, 7));
      // Not awaited one by one: the order of the calls is the order kept.
      await Promise.all(updates.map((update) => storage.append(ROOM, update, fence)));
      updates[0]![0] = 99;
      const loaded = await storage.load(ROOM);
      assert.equal(loaded.length, 50, "every append is loaded");
      assert.deepEqual(loaded[0], bytes(0, 0, 7), "the adapter stores a copy, not the caller's buffer");
      assert.deepEqual(loaded.slice(1), updates.slice(1), "appends load in call order");
    },
  },
  {
    name: "an append that resolved is loaded by a new instance, with every append issued before it",
    async run(medium) {
      const { storage, fence } = await writer(medium);
      const writes = Array.from({ length: 20 }, (_, i) => storage.append(ROOM, bytes(i), fence));
      await writes[writes.length - 1];
      const reopened = await medium.open();
      assert.deepEqual(
        await reopened.load(ROOM),
        Array.from({ length: 20 }, (_, i) => bytes(i)),
        "once the last append resolved, a reopened store loads all twenty in order",
      );
      await Promise.all(writes);
    },
  },
  {
    name: "claim returns a fence newer than every earlier one, across instances and after remove",
    async run(medium) {
      const a = await medium.open();
      const b = await medium.open();
      const first = await a.claim(ROOM);
      const second = await b.claim(ROOM);
      const third = await a.claim(ROOM);
      assert.ok(first < second && second < third, `fences grow: ${first}, ${second}, ${third}`);
      await a.append(ROOM, bytes(1), third);
      await a.remove(ROOM, third);
      const fourth = await b.claim(ROOM);
      assert.ok(fourth > third, `a claim after remove is newer (${fourth} > ${third})`);
      await assert.rejects(a.append(ROOM, bytes(1), 0), { code: ErrorCode.InvalidArgument }, "fence 0 is not a fence");
      await assert.rejects(a.append(ROOM, bytes(1), 1.5), { code: ErrorCode.InvalidArgument }, "1.5 is not a fence");
    },
  },
  {
    name: "a stale writer's append, compact and remove reject with FencedError and store nothing",
    async run(medium) {
      const stale = await writer(medium);
      await stale.storage.append(ROOM, itemUpdate(1), stale.fence);
      const current = await writer(medium);
      await current.storage.append(ROOM, itemUpdate(2), current.fence);
      const before = await current.storage.load(ROOM);
      await assertFenced(stale.storage.append(ROOM, itemUpdate(3), stale.fence), "a stale append");
      await assertFenced(stale.storage.compact(ROOM, itemUpdate(4), stale.fence), "a stale compact");
      await assertFenced(stale.storage.remove(ROOM, stale.fence), "a stale remove");
      await assertFenced(current.storage.append(ROOM, bytes(5), current.fence + 100), "a fence never claimed");
      const reader = await medium.open();
      assert.deepEqual(await reader.load(ROOM), before, "nothing of the stale writes is stored");
      assert.deepEqual(itemsOf(await reader.load(ROOM)), [1, 2]);
      await current.storage.append(ROOM, itemUpdate(6), current.fence);
      assert.deepEqual(itemsOf(await reader.load(ROOM)), [1, 2, 6], "the current writer keeps writing");
    },
  },
  {
    name: "appends racing a claim: each resolved one is stored, and none issued after the claim is",
    async run(medium) {
      const stale = await writer(medium);
      const other = await medium.open();
      // Settled at once, so that rejections are handled whichever way the race goes.
      const early = Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => stale.storage.append(ROOM, itemUpdate(i), stale.fence)),
      );
      const fence = await other.claim(ROOM);
      const late = Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => stale.storage.append(ROOM, itemUpdate(100 + i), stale.fence)),
      );
      const outcomes = await early;
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          assert.equal((outcome.reason as { code?: unknown }).code, ErrorCode.Fenced, "a racing append fails fenced");
        }
      }
      for (const outcome of await late) {
        assert.equal(outcome.status, "rejected", "an append issued after the claim resolved is refused");
      }
      const stored = itemsOf(await other.load(ROOM));
      outcomes.forEach((outcome, i) => {
        if (outcome.status === "fulfilled") assert.ok(stored.includes(i), `resolved append ${i} is stored`);
      });
      assert.ok(
        stored.every((value) => value < 100),
        "no append issued after the claim is stored",
      );
      await other.append(ROOM, itemUpdate(500), fence);
      assert.ok(itemsOf(await other.load(ROOM)).includes(500));
    },
  },
  {
    name: "compact replaces what came before it; appends issued after the call stay after it",
    async run(medium) {
      const { storage, fence } = await writer(medium);
      const updates = Array.from({ length: 10 }, (_, i) => itemUpdate(i));
      const writes = updates.map((update) => storage.append(ROOM, update, fence));
      const compacted = storage.compact(ROOM, merged(updates), fence);
      const after = storage.append(ROOM, itemUpdate(10), fence);
      await Promise.all([...writes, compacted, after]);
      const loaded = await storage.load(ROOM);
      assert.deepEqual(loaded, [merged(updates), itemUpdate(10)], "snapshot, then the later append");
      assert.deepEqual(await (await medium.open()).load(ROOM), loaded, "the same after reopening");
      await storage.compact(ROOM, merged(loaded), fence);
      assert.deepEqual(
        itemsOf(await storage.load(ROOM)),
        Array.from({ length: 11 }, (_, i) => i),
      );
    },
  },
  {
    name: "compaction never drops an update another writer appended between the snapshot and the call",
    async run(medium) {
      const first = await writer(medium);
      await first.storage.append(ROOM, itemUpdate(1), first.fence);
      const snapshot = merged(await first.storage.load(ROOM));
      // Another writer takes the room and appends after the first one took its snapshot.
      const second = await writer(medium);
      await second.storage.append(ROOM, itemUpdate(2), second.fence);
      await assertFenced(first.storage.compact(ROOM, snapshot, first.fence), "the late compaction");
      assert.deepEqual(itemsOf(await second.storage.load(ROOM)), [1, 2], "the other writer's update survives");
    },
  },
  {
    name: "list returns names with the prefix, in order, page by page, without repeats or gaps",
    async run(medium) {
      const storage = await medium.open();
      const names = ["app/u/YQ", "app/u/Yg", "app/a/AAAAAAAAAAAAAAAAAAAAAA", "app/u/Yw", "app2/u/YQ", "ap/u/YQ"];
      for (const name of names) await storage.append(name, bytes(1), await storage.claim(name));
      await storage.claim("app/u/ZA"); // claimed, never written: not stored
      const all = await storage.list("");
      assert.deepEqual(all, { names: [...names].sort(), cursor: null }, "an empty prefix lists everything, sorted");
      assert.deepEqual((await storage.list("app/")).names, [
        "app/a/AAAAAAAAAAAAAAAAAAAAAA",
        "app/u/YQ",
        "app/u/Yg",
        "app/u/Yw",
      ]);
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<RelayStorage["list"]>> = await storage.list(
          "app/u/",
          cursor === null ? { limit: 2 } : { limit: 2, cursor },
        );
        pages.push(page.names);
        cursor = page.cursor;
        // A name removed between pages does not disturb the paging.
        if (pages.length === 1) await storage.remove("app/u/YQ", await storage.claim("app/u/YQ"));
      } while (cursor !== null);
      assert.deepEqual(pages, [["app/u/YQ", "app/u/Yg"], ["app/u/Yw"]], "pages continue after the cursor");
      assert.deepEqual(await storage.list("zzz/"), { names: [], cursor: null });
      await assert.rejects(storage.list("", { limit: 0 }), { code: ErrorCode.InvalidArgument });
    },
  },
  {
    name: "remove erases the document durably; writing it again takes a new claim",
    async run(medium) {
      const { storage, fence } = await writer(medium);
      await storage.append(ROOM, itemUpdate(1), fence);
      await storage.compact(ROOM, itemUpdate(1), fence);
      await storage.append(ROOM, itemUpdate(2), fence);
      await storage.remove(ROOM, fence);
      assert.deepEqual(await storage.load(ROOM), [], "a removed document loads as []");
      const reopened = await medium.open();
      assert.deepEqual(await reopened.load(ROOM), [], "and stays removed for a new instance");
      assert.deepEqual((await reopened.list("conformance/")).names, [], "and is not listed");
      await assertFenced(storage.append(ROOM, itemUpdate(3), fence), "an append with the remover's fence");
      const next = await reopened.claim(ROOM);
      await reopened.append(ROOM, itemUpdate(4), next);
      assert.deepEqual(itemsOf(await storage.load(ROOM)), [4], "a new claim writes a fresh document");
      assert.deepEqual((await storage.list("conformance/")).names, [ROOM]);
    },
  },
  {
    name: "attestationKey is 32 bytes, the same from every instance on the medium, concurrent first calls included",
    async run(medium) {
      const [first, second] = [await medium.open(), await medium.open()];
      const [a, b] = await Promise.all([first.attestationKey(), second.attestationKey()]);
      assert.equal(a.length, 32, "32 bytes");
      assert.ok(
        a.some((byte) => byte !== 0),
        "not all zero",
      );
      assert.deepEqual(b, a, "two instances racing to make the key get the same one");
      assert.deepEqual(await (await medium.open()).attestationKey(), a, "a later instance reads the same key");
      a.fill(0);
      assert.notDeepEqual(await first.attestationKey(), a, "the key is copied out: changing a copy changes nothing");
    },
  },
  {
    name: "a compaction cut by a crash at any step leaves the old updates or the snapshot, never neither",
    needsCrasher: true,
    async run(medium) {
      const crasher = medium.crasher;
      assert.ok(crasher, "the medium must provide a crasher for this case");
      for (const [index, point] of crasher.points.entries()) {
        const name = `conformance/u/crash-${index}`;
        const { storage, fence } = await writer(medium, name);
        const updates = Array.from({ length: 5 }, (_, i) => itemUpdate(i));
        for (const update of updates) await storage.append(name, update, fence);
        await crasher.compactAndCrash(name, merged([...updates, itemUpdate(99)]), point);
        const loaded = await (await medium.open()).load(name);
        const items = itemsOf(loaded);
        assert.ok(
          [0, 1, 2, 3, 4].every((value) => items.includes(value)),
          `after a crash at ${point} the document is whole (loaded ${items.join(",")})`,
        );
      }
    },
  },
];
