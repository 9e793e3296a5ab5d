import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeRelayStorage } from "./conformance.js";
import type { CompactStep } from "./file-store.js";
import { decodeRecords, encodeRecord, FileStorage } from "./file-store.js";

const bytes = (...values: number[]) => new Uint8Array(values);
const CRASH_CHILD = fileURLToPath(new URL("./crash-child.mjs", import.meta.url));
const STEPS: CompactStep[] = ["snapshot-written", "manifest-committed"];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "parley-file-store-"));
}

/** A document's directory, `<shard>/<hash>`; its name file is `<shard>/<hash>.name` beside it. */
function paths(dataDir: string, name: string): { dir: string; shardBase: string } {
  const hash = createHash("sha256").update(name).digest("hex");
  const shardBase = join(dataDir, "docs", hash.slice(0, 2), hash);
  return { dir: shardBase, shardBase };
}

/** Runs crash-child.mjs until it stops at `step`, then SIGKILLs it. */
async function compactAndCrash(dataDir: string, name: string, snapshot: Uint8Array, step: string): Promise<void> {
  const child = spawn(process.execPath, [CRASH_CHILD, dataDir, name, Buffer.from(snapshot).toString("base64"), step], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`stopped at ${step}`)) resolve();
    });
    child.on("exit", () => reject(new Error(`crash child exited before ${step}: ${output}`)));
  });
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
}

describeRelayStorage(
  { describe, it },
  "FileStorage",
  () => {
    const dataDir = tempDir();
    const opened: FileStorage[] = [];
    return {
      open: () => {
        const storage = new FileStorage({ dataDir });
        opened.push(storage);
        return storage;
      },
      crasher: {
        points: STEPS,
        compactAndCrash: (name, snapshot, point) => compactAndCrash(dataDir, name, snapshot, point),
      },
      dispose: async () => {
        for (const storage of opened) await storage.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
  { crashes: true },
);

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
  it("group-commits concurrent appends and keeps their order", async () => {
    const store = new FileStorage({ dataDir: tempDir(), fsync: "batch" });
    const fence = await store.claim("doc");
    const writes = Array.from({ length: 200 }, (_, i) => store.append("doc", bytes(i % 256, i >> 8), fence));
    await Promise.all(writes);
    expect(await store.load("doc")).toEqual(Array.from({ length: 200 }, (_, i) => bytes(i % 256, i >> 8)));
    await store.close();
  });

  it("leaves a torn tail out on load, reports it, and the next writer appends cleanly", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("doc");
    await store.append("doc", bytes(7, 7, 7), fence);
    await store.close();
    const { dir } = paths(dataDir, "doc");
    // A crash mid-write: half of a record's header and payload reached the log.
    appendFileSync(join(dir, `log.${fence}.0`), encodeRecord(bytes(9, 9, 9, 9)).subarray(0, 10));
    const cuts: number[] = [];
    const reopened = new FileStorage({ dataDir, onTruncate: (_name, _kept, dropped) => cuts.push(dropped) });
    const next = await reopened.claim("doc");
    expect(await reopened.load("doc")).toEqual([bytes(7, 7, 7)]);
    expect(cuts).toEqual([10]);
    await reopened.append("doc", bytes(8), next);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(7, 7, 7), bytes(8)]);
    await reopened.close();
  });

  it("two instances on one directory fence each other: a resumed old relay writes nothing", async () => {
    const dataDir = tempDir();
    const old = new FileStorage({ dataDir });
    const oldFence = await old.claim("doc");
    await old.append("doc", bytes(1), oldFence);
    // The old relay pauses; a new one starts on the same directory and takes the room over.
    const restarted = new FileStorage({ dataDir });
    const fence = await restarted.claim("doc");
    await restarted.append("doc", bytes(2), fence);
    // The old relay resumes, its log still open, and tries to write.
    await expect(old.append("doc", bytes(3), oldFence)).rejects.toMatchObject({ code: "ERR_FENCED" });
    await expect(old.compact("doc", bytes(4), oldFence)).rejects.toMatchObject({ code: "ERR_FENCED" });
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1), bytes(2)]);
    await Promise.all([old.close(), restarted.close()]);
  });

  it("refuses a corrupt snapshot instead of serving a partial document", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("doc");
    await store.compact("doc", bytes(1, 2, 3), fence);
    await store.close();
    const snapshot = join(paths(dataDir, "doc").dir, `snapshot.${fence}.1`);
    const damaged = readFileSync(snapshot);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
    writeFileSync(snapshot, damaged);
    await expect(new FileStorage({ dataDir }).load("doc")).rejects.toMatchObject({ code: "ERR_STORAGE" });
  });

  it("reads a directory written by the previous layout, and compaction retires its files", async () => {
    const dataDir = tempDir();
    const { shardBase } = paths(dataDir, "app/u/YQ");
    mkdirSync(join(shardBase, ".."), { recursive: true });
    writeFileSync(`${shardBase}.name`, "app/u/YQ");
    writeFileSync(`${shardBase}.snapshot`, encodeRecord(bytes(1, 1)));
    writeFileSync(`${shardBase}.log`, Buffer.concat([encodeRecord(bytes(2)), encodeRecord(bytes(3))]));
    const store = new FileStorage({ dataDir });
    expect(await store.load("app/u/YQ")).toEqual([bytes(1, 1), bytes(2), bytes(3)]);
    expect((await store.list("app/")).names).toEqual(["app/u/YQ"]);
    const fence = await store.claim("app/u/YQ");
    await store.append("app/u/YQ", bytes(4), fence);
    expect(await store.load("app/u/YQ")).toEqual([bytes(1, 1), bytes(2), bytes(3), bytes(4)]);
    await store.compact("app/u/YQ", bytes(9), fence);
    expect(await store.load("app/u/YQ")).toEqual([bytes(9)]);
    expect(existsSync(`${shardBase}.log`) || existsSync(`${shardBase}.snapshot`)).toBe(false);
    await store.close();
  });

  it("remove erases the content and the name; what stays is an empty fence marker", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("app/u/YQ");
    await store.append("app/u/YQ", bytes(1), fence);
    await store.compact("app/u/YQ", bytes(1, 1), fence);
    await store.append("app/u/YQ", bytes(2), fence);
    await store.remove("app/u/YQ", fence);
    await store.close();
    const { dir, shardBase } = paths(dataDir, "app/u/YQ");
    expect(existsSync(`${shardBase}.name`)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([`fence.${fence}`, `manifest.${fence}`]);
    expect(readFileSync(join(dir, `manifest.${fence}`), "utf8")).toBe('{"segments":[]}');
  });

  it("lists stored names, including long ones, and reads each name file once", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir, fsync: "off" });
    const long = `app/u/${"A".repeat(342)}`;
    await store.append("app/u/YQ", bytes(1), await store.claim("app/u/YQ"));
    await store.append(long, bytes(2), await store.claim(long));
    expect(await new FileStorage({ dataDir }).list("")).toEqual({ names: ["app/u/YQ", long].sort(), cursor: null });
    expect(await new FileStorage({ dataDir: tempDir() }).list("")).toEqual({ names: [], cursor: null });
    await store.close();
  });

  it("a first claim is its fence file alone, its first write adds only its log, and a newer claim seals it", async () => {
    const dataDir = tempDir();
    const { dir } = paths(dataDir, "doc");
    const first = new FileStorage({ dataDir });
    const fence = await first.claim("doc");
    expect(readdirSync(dir)).toEqual([`fence.${fence}`]);
    expect(await first.load("doc")).toEqual([]);
    await first.append("doc", bytes(1), fence);
    expect(readdirSync(dir).sort()).toEqual([`fence.${fence}`, `log.${fence}.0`]);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1)]);
    const next = new FileStorage({ dataDir });
    const nextFence = await next.claim("doc");
    await expect(first.append("doc", bytes(2), fence)).rejects.toMatchObject({ code: "ERR_FENCED" });
    await expect(first.compact("doc", bytes(1, 2), fence)).rejects.toMatchObject({ code: "ERR_FENCED" });
    await next.append("doc", bytes(3), nextFence);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1), bytes(3)]);
    await Promise.all([first.close(), next.close()]);
  });

  it("bytes a stale first writer adds after a newer claim are not loaded", async () => {
    const dataDir = tempDir();
    const { dir } = paths(dataDir, "doc");
    const stale = new FileStorage({ dataDir });
    const staleFence = await stale.claim("doc");
    await stale.append("doc", bytes(1), staleFence);
    const current = new FileStorage({ dataDir });
    const fence = await current.claim("doc");
    await current.append("doc", bytes(2), fence);
    // What a stale first writer leaves if its write lands just after the newer claim: more records in its log
    // and, had it been compacting, a manifest of its own epoch.
    appendFileSync(join(dir, `log.${staleFence}.0`), encodeRecord(bytes(9)));
    const manifest = { segments: [{ file: `log.${staleFence}.0`, end: null, kind: "log" }] };
    writeFileSync(join(dir, `manifest.${staleFence}`), JSON.stringify(manifest));
    await expect(stale.append("doc", bytes(3), staleFence)).rejects.toMatchObject({ code: "ERR_FENCED" });
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1), bytes(2)]);
    await Promise.all([stale.close(), current.close()]);
  });

  it("a claim never reuses an epoch a file carries (a log whose fence a power loss dropped)", async () => {
    const dataDir = tempDir();
    const { dir } = paths(dataDir, "doc");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "log.1.0"), encodeRecord(bytes(1)));
    const store = new FileStorage({ dataDir });
    expect(await store.load("doc")).toEqual([bytes(1)]);
    const fence = await store.claim("doc");
    expect(fence).toBe(2);
    await store.append("doc", bytes(2), fence);
    expect(await new FileStorage({ dataDir }).load("doc")).toEqual([bytes(1), bytes(2)]);
    await store.close();
  });

  it("claims without writes do not grow the manifest", async () => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    await store.append("doc", bytes(1), await store.claim("doc"));
    for (let i = 0; i < 5; i++) expect(await store.load("doc")).toEqual([bytes(1)]);
    let fence = 0;
    for (let i = 0; i < 5; i++) fence = await store.claim("doc");
    const manifest = JSON.parse(readFileSync(join(paths(dataDir, "doc").dir, `manifest.${fence}`), "utf8"));
    expect(manifest.segments.map((segment: { file: string }) => segment.file)).toEqual(["log.1.0", `log.${fence}.0`]);
    expect(await store.load("doc")).toEqual([bytes(1)]);
    await store.close();
  });

  it.each(STEPS)("a writer SIGKILLed at %s leaves a whole document that the next writer can compact", async (step) => {
    const dataDir = tempDir();
    const store = new FileStorage({ dataDir });
    const fence = await store.claim("doc");
    await store.append("doc", bytes(1), fence);
    await store.close();
    await compactAndCrash(dataDir, "doc", bytes(1, 1), step);
    const next = new FileStorage({ dataDir });
    const loaded = await next.load("doc");
    expect(step === "snapshot-written" ? [[bytes(1)]] : [[bytes(1, 1)]]).toContainEqual(loaded);
    const nextFence = await next.claim("doc");
    await next.compact("doc", bytes(5), nextFence);
    expect(await next.load("doc")).toEqual([bytes(5)]);
    // The crashed writer's leftovers are swept: only the new writer's files remain.
    expect(readdirSync(paths(dataDir, "doc").dir).every((file) => file.includes(`.${nextFence}`))).toBe(true);
    await next.close();
  });
});
