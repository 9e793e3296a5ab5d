/**
 * The conformance suite of the {@link ConversationIndex} capability (the contract in conversation-index.ts), run
 * like the storage suite (conformance.ts) on a medium whose `open()` returns storages that offer the index: two
 * `open()`s are two relay nodes. Everything is checked through the interfaces. Exported from
 * `@parley/relay/testing`.
 */
import assert from "node:assert/strict";
import { type ConversationSummary, ErrorCode, roomName, type SubjectKind } from "@parley/protocol";
import type { NewRelayStorageMedium, RelayStorageMedium, TestFunctions } from "./conformance.js";
import {
  type ConversationIndex,
  type ConversationIndexPage,
  type ConversationPosition,
  conversationIndexOf,
} from "./conversation-index.js";
import type { RelayStorage } from "./storage.js";

/** One promise of the index contract. */
export interface ConversationIndexCase {
  readonly name: string;
  run(medium: RelayStorageMedium): Promise<void>;
}

let counter = 0;

/** A fresh app id per case: media may be shared between cases. */
function newApp(): string {
  counter += 1;
  return `conf${counter}x${Math.random().toString(36).slice(2, 8)}`;
}

/** A 22-character anonymous id (the protocol's derived-id form). */
function anonymousId(n: number): string {
  return `anon${String(n).padStart(18, "0")}`;
}

function nameOf(appId: string, kind: SubjectKind, subject: string): string {
  return roomName({ appId, kind, subject });
}

function summary(kind: SubjectKind, id: string, lastActivity: number, text = `hi from ${id}`): ConversationSummary {
  return {
    kind,
    id,
    state: "active",
    lastActivity,
    messageCount: 1,
    lastMessage: { id: `m-${id}`, role: "user", text, ts: lastActivity, clientId: "c1" },
    reads: { user: 0, business: 0 },
    unread: { user: 0, business: 1 },
  };
}

async function node(medium: RelayStorageMedium): Promise<{ storage: RelayStorage; index: ConversationIndex }> {
  const storage = await medium.open();
  const index = conversationIndexOf(storage);
  assert.ok(index, "the storage must offer a conversationIndex");
  return { storage, index };
}

/** Stores a one-update document under `name` and returns the fence it was written with. */
async function stored(storage: RelayStorage, name: string): Promise<number> {
  const fence = await storage.claim(name);
  await storage.append(name, new Uint8Array([0, 0]), fence);
  return fence;
}

/** Every page of `appId` (of `kind`), `limit` at a time. */
async function allPages(
  index: ConversationIndex,
  appId: string,
  kind: SubjectKind | null,
  limit: number,
): Promise<ConversationIndexPage[]> {
  const pages: ConversationIndexPage[] = [];
  let cursor: ConversationPosition | undefined;
  for (;;) {
    const page = await index.page(appId, kind, cursor === undefined ? { limit } : { limit, cursor });
    pages.push(page);
    if (page.next === null) return pages;
    cursor = page.next;
  }
}

async function ids(index: ConversationIndex, appId: string, kind: SubjectKind | null = null): Promise<string[]> {
  const [page] = await allPages(index, appId, kind, 1000);
  return page!.entries.map((entry) => entry.summary.id);
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: unknown }) => error.code === code, message);
}

/** The cases, one per promise of the contract. */
export const conversationIndexCases: readonly ConversationIndexCase[] = [
  {
    name: "pages an app's conversations by newest activity, then name descending, of one kind or both",
    async run(medium) {
      const { storage, index } = await node(medium);
      const app = newApp();
      const other = newApp();
      const puts: Array<[SubjectKind, string, number]> = [
        ["user", "ann", 3000],
        ["user", "bob", 5000],
        ["anonymous", anonymousId(1), 4000],
        ["user", "cat", 4000],
        ["user", "dan", 1000],
      ];
      for (const [kind, id, at] of puts) {
        const name = nameOf(app, kind, id);
        await index.put(name, summary(kind, id, at), await stored(storage, name));
      }
      const elsewhere = nameOf(other, "user", "ann");
      await index.put(elsewhere, summary("user", "ann", 9000), await stored(storage, elsewhere));
      // Equal activity: the greater room name first (`<app>/u/…` > `<app>/a/…`).
      assert.deepEqual(await ids(index, app), ["bob", "cat", anonymousId(1), "ann", "dan"]);
      assert.deepEqual(await ids(index, app, "user"), ["bob", "cat", "ann", "dan"]);
      assert.deepEqual(await ids(index, app, "anonymous"), [anonymousId(1)]);
      assert.deepEqual(await ids(index, other), ["ann"]);
      const [page] = await allPages(index, app, "user", 1000);
      assert.deepEqual(page!.entries[0], { name: nameOf(app, "user", "bob"), summary: summary("user", "bob", 5000) });
      assert.equal(page!.next, null);
    },
  },
  {
    name: "continues strictly after the cursor: pages neither repeat nor skip, and the last one ends with null",
    async run(medium) {
      const { storage, index } = await node(medium);
      const app = newApp();
      const expected: string[] = [];
      for (let i = 0; i < 7; i++) {
        const id = `u${i}`;
        const name = nameOf(app, "user", id);
        // Three share an activity: the cursor must carry the name to split them across pages.
        await index.put(name, summary("user", id, i < 3 ? 2000 : 1000 + i), await stored(storage, name));
      }
      expected.push("u2", "u1", "u0", "u6", "u5", "u4", "u3");
      const pages = await allPages(index, app, null, 2);
      assert.deepEqual(
        pages.map((page) => page.entries.map((entry) => entry.summary.id)),
        [["u2", "u1"], ["u0", "u6"], ["u5", "u4"], ["u3"]],
      );
      assert.deepEqual(pages[0]!.next, { lastActivity: 2000, name: nameOf(app, "user", "u1") });
      const exact = await index.page(app, null, { limit: 7 });
      assert.deepEqual(
        exact.entries.map((entry) => entry.summary.id),
        expected,
      );
      assert.equal(exact.next, null, "a page holding the last entry is the last page");
    },
  },
  {
    name: "replaces an entry with the writer's newer summary; a null summary leaves it out of pages",
    async run(medium) {
      const { storage, index } = await node(medium);
      const app = newApp();
      const name = nameOf(app, "anonymous", anonymousId(2));
      const fence = await stored(storage, name);
      await index.put(name, summary("anonymous", anonymousId(2), 1000, "first"), fence);
      await index.put(name, { ...summary("anonymous", anonymousId(2), 2000, "second"), state: "loggedOut" }, fence);
      const [page] = await allPages(index, app, null, 10);
      assert.equal(page!.entries.length, 1);
      assert.equal(page!.entries[0]!.summary.lastMessage?.text, "second");
      assert.equal(page!.entries[0]!.summary.state, "loggedOut");
      await index.put(name, null, fence);
      assert.deepEqual(await ids(index, app), []);
    },
  },
  {
    name: "refuses a put or remove under a fence that is not the room's newest, changing nothing",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const app = newApp();
      const name = nameOf(app, "user", "eve");
      const stale = await stored(a.storage, name);
      await a.index.put(name, summary("user", "eve", 1000, "from a"), stale);
      const fresh = await b.storage.claim(name);
      await rejectsWith(
        a.index.put(name, summary("user", "eve", 5000, "stale"), stale),
        ErrorCode.Fenced,
        "a writer that lost the room is fenced",
      );
      await b.index.put(name, summary("user", "eve", 2000, "from b"), fresh);
      await rejectsWith(a.index.put(name, null, stale), ErrorCode.Fenced, "nor can it hide the entry");
      await rejectsWith(a.index.remove(name, stale), ErrorCode.Fenced, "nor remove it");
      const [page] = await allPages(b.index, app, null, 10);
      assert.deepEqual(
        page!.entries.map((entry) => entry.summary.lastMessage?.text),
        ["from b"],
      );
      await rejectsWith(
        b.index.put(nameOf(app, "user", "never-claimed"), summary("user", "never-claimed", 1), fresh),
        ErrorCode.Fenced,
        "a room never claimed has no fence to match",
      );
      await b.index.remove(name, fresh);
      assert.deepEqual(await ids(a.index, app), []);
    },
  },
  {
    name: "names the stored documents without an entry, in name order, page by page",
    async run(medium) {
      const { storage, index } = await node(medium);
      const app = newApp();
      const names = ["a1", "b2", "c3", "d4"].map((id) => nameOf(app, "user", id));
      const fences = new Map<string, number>();
      for (const name of names) fences.set(name, await stored(storage, name));
      const prefix = `${app}/`;
      const sorted = [...names].sort();
      assert.deepEqual((await index.unindexed(prefix)).names, sorted);
      await index.put(sorted[1]!, summary("user", "b2", 1), fences.get(sorted[1]!)!);
      await index.put(sorted[2]!, null, fences.get(sorted[2]!)!);
      const first = await index.unindexed(prefix, { limit: 1 });
      assert.deepEqual(first.names, [sorted[0]]);
      assert.ok(first.cursor !== null);
      const second = await index.unindexed(prefix, { limit: 1, cursor: first.cursor });
      assert.deepEqual(second.names, [sorted[3]], "entries, even null ones, count as indexed");
      await index.remove(sorted[1]!, fences.get(sorted[1]!)!);
      assert.deepEqual((await index.unindexed(prefix)).names, [sorted[0], sorted[1], sorted[3]]);
      assert.deepEqual((await index.unindexed(`${newApp()}/`)).names, []);
    },
  },
  {
    name: "shows every node what any node wrote",
    async run(medium) {
      const a = await node(medium);
      const b = await node(medium);
      const app = newApp();
      const name = nameOf(app, "user", "fay");
      await a.index.put(name, summary("user", "fay", 7000), await stored(a.storage, name));
      assert.deepEqual(await ids(b.index, app), ["fay"]);
      assert.deepEqual((await b.index.unindexed(`${app}/`)).names, []);
    },
  },
  {
    name: "refuses malformed arguments with ERR_INVALID_ARGUMENT and stores nothing of them",
    async run(medium) {
      const { storage, index } = await node(medium);
      const app = newApp();
      const name = nameOf(app, "user", "gil");
      const fence = await stored(storage, name);
      const invalid = ErrorCode.InvalidArgument;
      await rejectsWith(index.put("not a room", summary("user", "gil", 1), fence), invalid, "a name that is no room");
      await rejectsWith(index.put(name, summary("user", "someone-else", 1), fence), invalid, "another subject");
      await rejectsWith(index.put(name, summary("user", "gil", Number.NaN), fence), invalid, "a NaN activity");
      await rejectsWith(index.put(name, summary("user", "gil", 1), 0), invalid, "a fence claim never returns");
      await rejectsWith(index.page(app, null, { limit: 0 }), invalid, "an empty page");
      await rejectsWith(index.page("", null, { limit: 1 }), invalid, "no app");
      assert.deepEqual(await ids(index, app), []);
    },
  },
];

/** Registers the index suite as one `describe` block with one `it` per case, each on a fresh medium. */
export function describeConversationIndex(
  test: TestFunctions,
  adapterName: string,
  newMedium: NewRelayStorageMedium,
): void {
  test.describe(`${adapterName} keeps the ConversationIndex contract`, () => {
    for (const indexCase of conversationIndexCases) {
      test.it(indexCase.name, async () => {
        const medium = await newMedium();
        try {
          await indexCase.run(medium);
        } finally {
          await medium.dispose?.();
        }
      });
    }
  });
}
