import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { directoryStorage } from "./directory-storage.js";

const tempDir = () => mkdtempSync(join(tmpdir(), "parley-dir-storage-"));

describe("directoryStorage", () => {
  it("keeps records and documents across instances (a restart)", async () => {
    const dir = tempDir();
    const first = directoryStorage(dir);
    await first.set("identity", { a: 1, nested: ["x", null, true] });
    const doc = new Y.Doc();
    const handle = await first.openDoc("app/u/abc", doc);
    doc.getArray("messages").push(["one"]);
    doc.getArray("messages").push(["two"]);
    await handle.flush();
    await handle.close();

    const second = directoryStorage(dir);
    expect(await second.get("identity")).toEqual({ a: 1, nested: ["x", null, true] });
    expect(await second.get("missing")).toBeUndefined();
    expect(await second.listDocs()).toEqual(["app/u/abc"]);
    const reloaded = new Y.Doc();
    const again = await second.openDoc("app/u/abc", reloaded);
    expect(reloaded.getArray("messages").toArray()).toEqual(["one", "two"]);
    await again.close();
  });

  it("drops a torn tail and compacts the log on open", async () => {
    const dir = tempDir();
    const storage = directoryStorage(dir);
    const doc = new Y.Doc();
    const handle = await storage.openDoc("room", doc);
    for (let i = 0; i < 5; i++) doc.getArray("messages").push([i]);
    await handle.close();
    const [file] = readdirSync(join(dir, "docs"));
    if (file === undefined) throw new Error("no log file");
    const path = join(dir, "docs", file);
    // A crash in the middle of an append leaves a length prefix promising more bytes than were written.
    appendFileSync(path, Buffer.from([0, 0, 1, 0, 42, 42]));
    const sizeBefore = statSync(path).size;

    const reloaded = new Y.Doc();
    const reopened = await directoryStorage(dir).openDoc("room", reloaded);
    expect(reloaded.getArray("messages").toArray()).toEqual([0, 1, 2, 3, 4]);
    await reopened.close();
    const compacted = readFileSync(path);
    expect(compacted.length).toBeLessThan(sizeBefore);
    expect(compacted.readUInt32BE(0)).toBe(compacted.length - 4);
  });

  it("deletes a document from disk and refuses while a handle is open", async () => {
    const dir = tempDir();
    const storage = directoryStorage(dir);
    const doc = new Y.Doc();
    const handle = await storage.openDoc("to/delete", doc);
    doc.getArray("messages").push(["secret"]);
    await handle.flush();
    await expect(storage.deleteDoc("to/delete")).rejects.toBeInstanceOf(StorageError);
    await handle.close();
    await storage.deleteDoc("to/delete");
    expect(await storage.listDocs()).toEqual([]);
    expect(readdirSync(join(dir, "docs"))).toEqual([]);
    // Deleting what is not there is not an error.
    await storage.deleteDoc("to/delete");
  });

  it("writes records atomically and deletes them", async () => {
    const dir = tempDir();
    const storage = directoryStorage(dir);
    await storage.set("k", "v1");
    await storage.set("k", "v2");
    expect(await storage.get("k")).toBe("v2");
    expect(readdirSync(join(dir, "records")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await storage.delete("k");
    expect(await storage.get("k")).toBeUndefined();
    expect(readdirSync(join(dir, "records"))).toEqual([]);
  });

  it("lets two handles (tabs) append to one document without losing updates", async () => {
    const dir = tempDir();
    const storage = directoryStorage(dir);
    const a = new Y.Doc();
    const b = new Y.Doc();
    const ha = await storage.openDoc("shared", a);
    const hb = await storage.openDoc("shared", b);
    a.getArray("messages").push(["from a"]);
    b.getArray("messages").push(["from b"]);
    await ha.close();
    await hb.close();
    const reloaded = new Y.Doc();
    await (await directoryStorage(dir).openDoc("shared", reloaded)).close();
    expect(reloaded.getArray("messages").toArray().sort()).toEqual(["from a", "from b"]);
  });
});
