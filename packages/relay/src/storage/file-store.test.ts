import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeRecords, encodeRecord, FileStorage } from "./file-store.js";

const bytes = (...values: number[]) => new Uint8Array(values);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "parley-file-store-"));
}

function basePath(dataDir: string, name: string): string {
  const hash = createHash("sha256").update(name).digest("hex");
  return join(dataDir, "docs", hash.slice(0, 2), hash);
}

describe("record framing", () => {
  it("round-trips records and stops at a torn or corrupt one", () => {
    const a = encodeRecord(bytes(1, 2, 3));
    const b = encodeRecord(bytes(4, 5));
    const whole = Buffer.concat([a, b]);
    expect(decodeRecords(whole).records).toEqual([bytes(1, 2, 3), bytes(4, 5)]);
    // Torn: the second record lacks its last byte.
    const torn = decodeRecords(whole.subarray(0, whole.length - 1));
    expect(torn.records).toEqual([bytes(1, 2, 3)]);
    expect(torn.validBytes).toBe(a.length);
    // Corrupt: a flipped payload byte fails the checksum.
    const corrupt = Buffer.from(whole);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    expect(decodeRecords(corrupt).records).toEqual([bytes(1, 2, 3)]);
  });
});

describe("FileStorage", () => {
  it("loads what was appended, in order, after a new instance opens the directory", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir, fsync: "batch" });
    const fence = await store.claim("app/u/YQ");
    await Promise.all([store.append("app/u/YQ", bytes(1), fence), store.append("app/u/YQ", bytes(2), fence)]);
    await store.append("app/u/YQ", bytes(3), fence);
    await store.close();
    const reopened = new FileStorage({ dataDir });
    expect(await reopened.load("app/u/YQ")).toEqual([bytes(1), bytes(2), bytes(3)]);
    expect(await reopened.load("app/u/Yg")).toEqual([]);
  });

  it("group-commits concurrent appends and keeps their order", async () => {
    const store = new FileStorage({ dataDir: tempDir(), fsync: "batch" });
    const fence = await store.claim("doc");
    const writes = Array.from({ length: 200 }, (_, i) => store.append("doc", bytes(i % 256, i >> 8), fence));
    await Promise.all(writes);
    const loaded = await store.load("doc");
    expect(loaded).toEqual(Array.from({ length: 200 }, (_, i) => bytes(i % 256, i >> 8)));
  });

  it("cuts a torn tail off the log on load and appends after it cleanly", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    await store.append("doc", bytes(7, 7, 7), await store.claim("doc"));
    const log = `${basePath(dataDir, "doc")}.log`;
    // A crash mid-write: half of a record's header and payload reached the file.
    appendFileSync(log, encodeRecord(bytes(9, 9, 9, 9)).subarray(0, 10));
    const cuts: number[] = [];
    const reopened = new FileStorage({ dataDir, onTruncate: (_name, _kept, dropped) => cuts.push(dropped) });
    expect(await reopened.load("doc")).toEqual([bytes(7, 7, 7)]);
    expect(cuts).toEqual([10]);
    expect(statSync(log).size).toBe(encodeRecord(bytes(7, 7, 7)).length);
    await reopened.append("doc", bytes(8), await reopened.claim("doc"));
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(7, 7, 7), bytes(8)]);
  });

  it("compaction replaces earlier appends with the snapshot and keeps later ones", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("doc");
    for (let i = 0; i < 10; i++) void store.append("doc", bytes(i), fence);
    const compacted = store.compact("doc", bytes(100), fence);
    const after = store.append("doc", bytes(11), fence);
    await Promise.all([compacted, after]);
    expect(await store.load("doc")).toEqual([bytes(100), bytes(11)]);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(100), bytes(11)]);
    expect(existsSync(`${basePath(dataDir, "doc")}.snapshot.tmp`)).toBe(false);
  });

  it("a crash between the snapshot rename and the log removal replays both", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("doc");
    await store.append("doc", bytes(1), fence);
    const log = readFileSync(`${basePath(dataDir, "doc")}.log`);
    await store.compact("doc", bytes(1, 1), fence);
    writeFileSync(`${basePath(dataDir, "doc")}.log`, log);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1, 1), bytes(1)]);
  });

  it("refuses a corrupt snapshot instead of serving a partial document", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    await store.compact("doc", bytes(1, 2, 3), await store.claim("doc"));
    const snapshot = `${basePath(dataDir, "doc")}.snapshot`;
    const damaged = readFileSync(snapshot);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
    writeFileSync(snapshot, damaged);
    await expect(new FileStorage({ dataDir }).load("doc")).rejects.toMatchObject({ code: "ERR_STORAGE" });
  });

  it("lists stored names, including long and unusual ones", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir, fsync: "off" });
    const long = `app/u/${"A".repeat(342)}`;
    await store.append("app/u/YQ", bytes(1), await store.claim("app/u/YQ"));
    await store.append(long, bytes(2), await store.claim(long));
    expect(await new FileStorage({ dataDir }).list("")).toEqual({ names: ["app/u/YQ", long].sort(), cursor: null });
    expect(await new FileStorage({ dataDir: tempDir() }).list("")).toEqual({ names: [], cursor: null });
  });
});
