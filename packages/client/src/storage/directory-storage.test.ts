import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { StorageError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { directoryStorage } from "./directory-storage.js";

const tempDir = () => mkdtempSync(join(tmpdir(), "parley-dir-storage-"));

describe("directoryStorage", () => {
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

  it("deletes a document's file from disk even while a handle is open, and the handle never recreates it", async () => {
    const dir = tempDir();
    const storage = directoryStorage(dir);
    const doc = new Y.Doc();
    const handle = await storage.openDoc("to/delete", doc);
    doc.getArray("messages").push(["secret"]);
    await handle.flush();
    expect(readdirSync(join(dir, "docs"))).toHaveLength(1);
    await storage.deleteDoc("to/delete");
    expect(readdirSync(join(dir, "docs"))).toEqual([]);
    doc.getArray("messages").push(["after the delete"]);
    await expect(handle.flush()).rejects.toBeInstanceOf(StorageError);
    await handle.close();
    expect(readdirSync(join(dir, "docs"))).toEqual([]);
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

  it("shares one queue per document between instances given the same directory, however it is spelled", async () => {
    const dir = tempDir();
    const a = directoryStorage(dir);
    const b = directoryStorage(`${relative(process.cwd(), dir)}/`);
    const writer = new Y.Doc();
    const handle = await a.openDoc("shared", writer);
    writer.getArray("messages").push(["held by a"]);
    // b deleting the document detaches a's handle: they are one medium, not two strangers.
    await b.deleteDoc("shared");
    await expect(handle.flush()).rejects.toBeInstanceOf(StorageError);
    await handle.close();
    expect(readdirSync(join(dir, "docs"))).toEqual([]);
  });

  it("removes the temporary files a crash left mid-write (a record, a compaction) when the directory is first used", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "records"));
    mkdirSync(join(dir, "docs"));
    const record = `${Buffer.from("identity").toString("base64url")}.json`;
    const log = `${Buffer.from("app/u/x").toString("base64url")}.ylog`;
    writeFileSync(join(dir, "records", `${record}.a1b2c3.tmp`), '{"secret":"left by a crash"}');
    writeFileSync(join(dir, "docs", `${log}.d4e5f6.tmp`), "a compacted conversation");
    const storage = directoryStorage(dir);
    expect(await storage.get("identity")).toBeUndefined();
    expect(await storage.listDocs()).toEqual([]);
    expect(readdirSync(join(dir, "records"))).toEqual([]);
    expect(readdirSync(join(dir, "docs"))).toEqual([]);
  });
});
