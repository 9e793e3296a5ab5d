/**
 * The cases of the {@link ClientStorage} conformance suite, one per promise of the contract in
 * storage.ts. Each throws a plain `Error` naming what broke; conformance.ts runs them.
 */
import { ErrorCode } from "@parley/protocol";
import * as Y from "yjs";
import type { StorageConformanceCase } from "./conformance.js";
import type { ClientStorage, DocHandle, StoredValue } from "./storage.js";

/** Names shaped like the client's room names, plus characters a file or database name may not hold. */
const DOC = "app1/u/conformance";
const OTHER_DOC = "app1/a/AAAAAAAAAAAAAAAAAAAAAA";
const ODD_DOC = "app 2/u/ünïcode:*?<>|\\..";

/** Stable JSON (sorted keys), so that equal values compare equal whatever order a store returns keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function same(actual: unknown, expected: unknown, what: string): void {
  if (canonical(actual) !== canonical(expected)) {
    throw new Error(`${what}: expected ${canonical(expected)}, got ${canonical(actual)}`);
  }
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

async function rejectsWithStorageError(promise: Promise<unknown>, what: string): Promise<void> {
  let outcome: unknown;
  try {
    await promise;
    outcome = "it resolved";
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === ErrorCode.Storage) return;
    outcome = `it rejected with ${String(error)}`;
  }
  throw new Error(`${what}: expected a StorageError (code ${ErrorCode.Storage}), but ${outcome}`);
}

const items = (doc: Y.Doc): unknown[] => doc.getArray("items").toArray();

/** Opens `name` on `storage` into a fresh document, reads what it holds, and closes it. */
async function load(storage: ClientStorage, name: string): Promise<unknown[]> {
  const doc = new Y.Doc();
  const handle = await storage.openDoc(name, doc);
  const result = items(doc);
  await handle.close();
  doc.destroy();
  return result;
}

async function open(storage: ClientStorage, name: string): Promise<{ doc: Y.Doc; handle: DocHandle }> {
  const doc = new Y.Doc();
  return { doc, handle: await storage.openDoc(name, doc) };
}

const sorted = (names: string[]): string[] => [...names].sort();

const records: StorageConformanceCase = {
  name: "records: set, get and delete round-trip JSON values, copied in and out",
  async run(medium) {
    const store = medium.open();
    const value: { [key: string]: StoredValue } = {
      text: "héllo/🙂",
      number: -1.5,
      flags: [true, false, null],
      nested: { empty: {}, list: [[1], { a: "b" }] },
    };
    const expected = canonical(value);
    same(await store.get("absent"), undefined, "get of a key never set");
    await store.set("identity/app1", value);
    (value.flags as StoredValue[]).push("mutated after set");
    const read = (await store.get("identity/app1")) as { [key: string]: StoredValue };
    same(canonical(read), expected, "get after set (mutating the argument afterwards must not matter)");
    read.text = "mutated after get";
    same(canonical(await store.get("identity/app1")), expected, "get after mutating what get returned");
    for (const scalar of ["", 0, false, null] as const) {
      await store.set("scalar", scalar);
      same(await store.get("scalar"), scalar, `get of the scalar ${JSON.stringify(scalar)}`);
    }
    await store.set("identity/app1", "overwritten");
    same(await store.get("identity/app1"), "overwritten", "get after overwriting");
    await store.delete("identity/app1");
    same(await store.get("identity/app1"), undefined, "get after delete");
    await store.delete("never-set");
  },
};

const recordsDurable: StorageConformanceCase = {
  name: "records: what set and delete made durable is seen by a store reopened on the medium",
  async run(medium) {
    const first = medium.open();
    await first.set("kept", { n: 1 });
    await first.set("removed", "x");
    await first.delete("removed");
    const second = medium.open();
    same(await second.get("kept"), { n: 1 }, "a set record seen by another store instance");
    same(await second.get("removed"), undefined, "a deleted record seen by another store instance");
  },
};

const docDurable: StorageConformanceCase = {
  name: "documents: updates flushed through an open handle are loaded by a store reopened on the medium",
  async run(medium) {
    const { doc, handle } = await open(medium.open(), DOC);
    doc.getArray("items").push(["one"]);
    doc.getArray("items").push(["two"]);
    await handle.flush();
    same(await load(medium.open(), DOC), ["one", "two"], "a reopened store loads what was flushed");
    doc.getArray("items").push(["three"]);
    await handle.flush();
    same(await load(medium.open(), DOC), ["one", "two", "three"], "and what was flushed later");
    await handle.close();
  },
};

const reopenAfterClose: StorageConformanceCase = {
  name: "documents: a document closed and reopened keeps every update and keeps persisting",
  async run(medium) {
    const store = medium.open();
    const first = await open(store, DOC);
    first.doc.getArray("items").push(["a"]);
    await first.handle.close();
    await first.handle.close(); // idempotent
    first.doc.getArray("items").push(["not persisted: after close"]);
    const second = await open(store, DOC);
    same(items(second.doc), ["a"], "reopened on the same store after close");
    second.doc.getArray("items").push(["b"]);
    await second.handle.close();
    same(await load(medium.open(), DOC), ["a", "b"], "reopened on another store after a second close");
    same(await load(store, DOC), ["a", "b"], "reopened on the first store again");
  },
};

const ordering: StorageConformanceCase = {
  name: "documents: hundreds of small updates, inserts before earlier items and deletions all read back in order",
  async run(medium) {
    const { doc, handle } = await open(medium.open(), DOC);
    const array = doc.getArray<number | string>("items");
    for (let i = 0; i < 300; i++) array.push([i]); // one update each
    for (let i = 0; i < 20; i++) array.delete(i * 10, 1);
    array.insert(0, ["head"]);
    const text = doc.getText("text");
    for (const char of "ordering") text.insert(text.length, char);
    text.delete(0, 2);
    await handle.flush();
    const expected = array.toArray();
    const reloaded = new Y.Doc();
    const again = await medium.open().openDoc(DOC, reloaded);
    same(reloaded.getArray("items").toArray(), expected, "items after reopening");
    same(reloaded.getText("text").toString(), "dering", "text after reopening");
    await again.close();
    await handle.close();
  },
};

const listing: StorageConformanceCase = {
  name: "listDocs names every document from its first open, even unwritten, and no deleted one",
  async run(medium) {
    const store = medium.open();
    same(await store.listDocs(), [], "listDocs of an empty medium");
    await store.set("a record", 1);
    same(await store.listDocs(), [], "records are not documents");
    const written = await open(store, DOC);
    written.doc.getArray("items").push(["x"]);
    await written.handle.close();
    const unwritten = await open(store, OTHER_DOC);
    same(sorted(await store.listDocs()), sorted([DOC, OTHER_DOC]), "listDocs with one written and one open document");
    await unwritten.handle.close();
    await (await open(store, ODD_DOC)).handle.close();
    same(sorted(await medium.open().listDocs()), sorted([DOC, OTHER_DOC, ODD_DOC]), "listDocs of another store");
    same(await load(medium.open(), ODD_DOC), [], "a document with an awkward name opens");
    await store.deleteDoc(OTHER_DOC);
    same(sorted(await medium.open().listDocs()), sorted([DOC, ODD_DOC]), "listDocs after deleteDoc");
  },
};

const deleting: StorageConformanceCase = {
  name: "deleteDoc erases a closed document and nothing else; deleting an absent document resolves",
  async run(medium) {
    const store = medium.open();
    for (const name of [DOC, OTHER_DOC]) {
      const { doc, handle } = await open(store, name);
      doc.getArray("items").push([`secret of ${name}`]);
      await handle.close();
    }
    await store.set("identity", "kept");
    await store.deleteDoc(DOC);
    same(await store.listDocs(), [OTHER_DOC], "listDocs after deleteDoc");
    same(await medium.open().listDocs(), [OTHER_DOC], "listDocs of another store after deleteDoc");
    same(await load(medium.open(), DOC), [], "the deleted document reopened");
    same(await load(store, OTHER_DOC), [`secret of ${OTHER_DOC}`], "the other document");
    same(await store.get("identity"), "kept", "a record");
    await store.deleteDoc(DOC);
    await store.deleteDoc("app1/u/never-opened");
    same(await store.listDocs(), [OTHER_DOC], "listDocs after deleting absent documents");
  },
};

const deleteWhileOpen: StorageConformanceCase = {
  name: "deleteDoc while handles are open (in this store and another) erases it; the handles detach and never write again",
  async run(medium) {
    const deleter = medium.open();
    const holder = medium.open();
    const mine = await open(deleter, DOC);
    mine.doc.getArray("items").push(["before"]);
    await mine.handle.flush();
    const theirs = await open(holder, DOC);
    same(items(theirs.doc), ["before"], "the other store's handle loaded the document");
    await deleter.deleteDoc(DOC);
    same(await deleter.listDocs(), [], "listDocs after deleting an open document");
    mine.doc.getArray("items").push(["after, mine"]);
    theirs.doc.getArray("items").push(["after, theirs"]);
    same(items(mine.doc), ["before", "after, mine"], "a detached document keeps working in memory");
    await rejectsWithStorageError(mine.handle.flush(), "flush of a detached handle in the deleting store");
    await rejectsWithStorageError(theirs.handle.flush(), "flush of a detached handle in another store");
    same(await medium.open().listDocs(), [], "listDocs after detached handles were written to");
    await mine.handle.close();
    await theirs.handle.close();
    same(await medium.open().listDocs(), [], "listDocs after closing the detached handles");
    same(await load(medium.open(), DOC), [], "the deleted document reopened");
  },
};

const recreateAfterDelete: StorageConformanceCase = {
  name: "a document opened again after deleteDoc starts empty and persists; detached handles never write into it",
  async run(medium) {
    const store = medium.open();
    const old = await open(medium.open(), DOC);
    old.doc.getArray("items").push(["old"]);
    await old.handle.flush();
    await store.deleteDoc(DOC);
    const fresh = await open(store, DOC);
    same(items(fresh.doc), [], "the document opened after deleteDoc");
    fresh.doc.getArray("items").push(["new"]);
    old.doc.getArray("items").push(["old, after the delete"]);
    await fresh.handle.flush();
    await rejectsWithStorageError(old.handle.flush(), "flush of the detached handle");
    await old.handle.close();
    await fresh.handle.close();
    same(await load(medium.open(), DOC), ["new"], "the new document reopened");
  },
};

const tabs: StorageConformanceCase = {
  name: "several stores on one medium (tabs) share records and documents, and every handle's updates survive",
  async run(medium) {
    const [first, second] = [medium.open(), medium.open()];
    await first.set("identity", { user: "u1" });
    same(await second.get("identity"), { user: "u1" }, "a record set by one tab, read by another");
    const a = await open(first, DOC);
    a.doc.getArray("items").push(["from a"]);
    await a.handle.flush();
    const b = await open(second, DOC);
    same(items(b.doc), ["from a"], "a tab opening a document another tab holds and flushed");
    const c = await open(first, DOC); // a second handle in one store
    b.doc.getArray("items").push(["from b"]);
    c.doc.getArray("items").push(["from c"]);
    a.doc.getArray("items").push(["from a again"]);
    await Promise.all([a.handle.flush(), b.handle.flush(), c.handle.flush()]);
    const expected = ["from a", "from a again", "from b", "from c"];
    same(sorted((await load(medium.open(), DOC)) as string[]), expected, "every tab's updates, read by a new tab");
    await Promise.all([a.handle.close(), b.handle.close(), c.handle.close()]);
    same(sorted((await load(first, DOC)) as string[]), expected, "every tab's updates after all closed");
  },
};

const concurrentWrites: StorageConformanceCase = {
  name: "concurrent writes: handles writing, flushing and opening at once in several stores lose no update",
  async run(medium) {
    const stores = [medium.open(), medium.open()];
    const writers = await Promise.all([0, 1, 2, 3].map((i) => open(stores[i % 2] as ClientStorage, DOC)));
    const expected: string[] = [];
    const opening: Promise<{ doc: Y.Doc; handle: DocHandle }>[] = [];
    const flushing: Promise<void>[] = [];
    for (let round = 0; round < 25; round++) {
      for (const [i, writer] of writers.entries()) {
        writer.doc.getArray("items").push([`${i}:${round}`]);
        expected.push(`${i}:${round}`);
      }
      // Opening (which may compact) and flushing in the middle of the writes, none awaited yet.
      if (round % 8 === 0) opening.push(open(stores[round % 2] as ClientStorage, DOC));
      if (round % 5 === 0) flushing.push(...writers.map((w) => w.handle.flush()));
    }
    await Promise.all(flushing);
    const late = await Promise.all(opening);
    await Promise.all([...writers, ...late].map((w) => w.handle.close()));
    same(sorted((await load(medium.open(), DOC)) as string[]), sorted(expected), "every update after reopening");

    const keys = Array.from({ length: 20 }, (_, i) => `key ${i}`);
    await Promise.all(keys.map((key, i) => (stores[i % 2] as ClientStorage).set(key, { i })));
    const values = await Promise.all(keys.map((key) => medium.open().get(key)));
    same(
      values,
      keys.map((_, i) => ({ i })),
      "records set concurrently",
    );
    const candidates = Array.from({ length: 10 }, (_, i) => ({ writer: i, body: "x".repeat(1000 + i) }));
    await Promise.all(candidates.map((value, i) => (stores[i % 2] as ClientStorage).set("contended", value)));
    const winner = await medium.open().get("contended");
    check(
      candidates.some((c) => canonical(c) === canonical(winner)),
      `concurrent sets of one key leave one whole value, got ${canonical(winner).slice(0, 80)}`,
    );
  },
};

/** Every case, in the order they run. */
export const clientStorageCases: readonly StorageConformanceCase[] = [
  records,
  recordsDurable,
  docDurable,
  reopenAfterClose,
  ordering,
  listing,
  deleting,
  deleteWhileOpen,
  recreateAfterDelete,
  tabs,
  concurrentWrites,
];
