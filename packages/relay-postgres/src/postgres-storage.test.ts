import { ErrorCode, FencedError, InvalidArgumentError, StorageError } from "@parley/protocol";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATION_VERSIONS } from "./migrations.js";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

const bytes = (...values: number[]) => new Uint8Array(values);
let admin: Sql;
const schema = uniqueSchema();
let storage: PostgresStorage;
let room = 0;
const newRoom = () => `app/room-${room++}`;

beforeAll(async () => {
  admin = await adminConnection();
  storage = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
  await storage.ready();
});

afterAll(async () => {
  await storage?.close();
  if (admin) {
    await dropSchema(admin, schema);
    await admin.end();
  }
});

describe("claim, append and load", () => {
  it("loads [] for a document never written, claimed or not", async () => {
    expect(await storage.load("app/never")).toEqual([]);
    await storage.claim("app/claimed-only");
    expect(await storage.load("app/claimed-only")).toEqual([]);
  });

  it("hands out a newer fence on every claim", async () => {
    const name = newRoom();
    const first = await storage.claim(name);
    const second = await storage.claim(name);
    expect(second).toBeGreaterThan(first);
  });

  it("loads appends in call order, as plain Uint8Arrays", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await Promise.all([1, 2, 3].map((i) => storage.append(name, bytes(i, i), fence)));
    await storage.append(name, bytes(4), fence);
    const loaded = await storage.load(name);
    expect(loaded).toEqual([bytes(1, 1), bytes(2, 2), bytes(3, 3), bytes(4)]);
    expect(loaded[0]!.constructor).toBe(Uint8Array);
  });

  it("stores a copy: changing the caller's buffer after append changes nothing", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    const update = bytes(7, 7);
    const written = storage.append(name, update, fence);
    update[0] = 9;
    await written;
    expect(await storage.load(name)).toEqual([bytes(7, 7)]);
  });

  it("commits the appends of one tick across many rooms in one statement, each room in order", async () => {
    const names = Array.from({ length: 50 }, newRoom);
    const fences = await Promise.all(names.map((name) => storage.claim(name)));
    const before = storage.stats;
    await Promise.all(names.flatMap((name, r) => [0, 1, 2].map((i) => storage.append(name, bytes(r, i), fences[r]!))));
    const after = storage.stats;
    expect(after.appends - before.appends).toBe(150);
    expect(after.appendBatches - before.appendBatches).toBe(1);
    for (const [r, name] of names.entries()) {
      expect(await storage.load(name)).toEqual([bytes(r, 0), bytes(r, 1), bytes(r, 2)]);
    }
  });

  it("numbers each room's updates 1, 2, 3, ... with no gap", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await Promise.all([0, 1, 2, 3, 4].map((i) => storage.append(name, bytes(i), fence)));
    const rows = await admin.unsafe(`SELECT seq::int FROM "${schema}".updates WHERE room = $1 ORDER BY seq`, [name]);
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("the fence", () => {
  it("refuses an append with an older fence with FencedError and stores nothing of it", async () => {
    const name = newRoom();
    const old = await storage.claim(name);
    await storage.append(name, bytes(1), old);
    const current = await storage.claim(name);
    const refused = await storage.append(name, bytes(2), old).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(FencedError);
    expect(refused).toBeInstanceOf(StorageError);
    expect((refused as FencedError).code).toBe(ErrorCode.Fenced);
    expect((refused as FencedError).room).toBe(name);
    await storage.append(name, bytes(3), current);
    expect(await storage.load(name)).toEqual([bytes(1), bytes(3)]);
  });

  it("refuses only the fenced room's appends in a shared batch", async () => {
    const fenced = newRoom();
    const live = newRoom();
    const old = await storage.claim(fenced);
    await storage.claim(fenced);
    const fence = await storage.claim(live);
    const results = await Promise.allSettled([
      storage.append(fenced, bytes(1), old),
      storage.append(live, bytes(2), fence),
    ]);
    expect(results[0]).toMatchObject({ status: "rejected", reason: { code: ErrorCode.Fenced } });
    expect(results[1]).toMatchObject({ status: "fulfilled" });
    expect(await storage.load(fenced)).toEqual([]);
    expect(await storage.load(live)).toEqual([bytes(2)]);
  });

  it("refuses compact and remove with an older fence and changes nothing", async () => {
    const name = newRoom();
    const old = await storage.claim(name);
    await storage.append(name, bytes(1), old);
    const current = await storage.claim(name);
    await storage.append(name, bytes(2), current);
    await expect(storage.compact(name, bytes(9), old)).rejects.toBeInstanceOf(FencedError);
    await expect(storage.remove(name, old)).rejects.toBeInstanceOf(FencedError);
    expect(await storage.load(name)).toEqual([bytes(1), bytes(2)]);
  });

  it("refuses a fence that was never handed out", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await expect(storage.append(name, bytes(1), fence + 1)).rejects.toBeInstanceOf(FencedError);
    await expect(storage.append("app/never-claimed", bytes(1), 1)).rejects.toBeInstanceOf(FencedError);
  });
});

describe("compact", () => {
  it("replaces what was appended before the call; appends after it stay after the snapshot", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await storage.append(name, bytes(1), fence);
    // Issued in one tick: the compaction must cover 2 but not 3, whatever the batching does.
    const writes = [
      storage.append(name, bytes(2), fence),
      storage.compact(name, bytes(12), fence),
      storage.append(name, bytes(3), fence),
    ];
    await Promise.all(writes);
    expect(await storage.load(name)).toEqual([bytes(12), bytes(3)]);
    await storage.compact(name, bytes(123), fence);
    expect(await storage.load(name)).toEqual([bytes(123)]);
    const rows = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".updates WHERE room = $1`, [name]);
    expect(rows[0]!.n).toBe(0);
  });

  it("keeps numbering after a compaction, so sequences never repeat", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await storage.append(name, bytes(1), fence);
    await storage.compact(name, bytes(1), fence);
    await storage.append(name, bytes(2), fence);
    const rows = await admin.unsafe(`SELECT seq::int FROM "${schema}".updates WHERE room = $1`, [name]);
    expect(rows.map((row) => row.seq)).toEqual([2]);
  });
});

describe("remove", () => {
  it("erases the document: loads as [], not listed, and writing it again takes a new claim", async () => {
    const name = "removal/doc";
    const fence = await storage.claim(name);
    await storage.append(name, bytes(1), fence);
    await storage.compact(name, bytes(1), fence);
    await storage.append(name, bytes(2), fence);
    await storage.remove(name, fence);
    expect(await storage.load(name)).toEqual([]);
    expect((await storage.list("removal/")).names).toEqual([]);
    await expect(storage.append(name, bytes(3), fence)).rejects.toBeInstanceOf(FencedError);
    await storage.append(name, bytes(4), await storage.claim(name));
    expect(await storage.load(name)).toEqual([bytes(4)]);
    expect((await storage.list("removal/")).names).toEqual([name]);
  });

  it("keeps the epoch, so a writer fenced before the remove stays fenced after it", async () => {
    const name = newRoom();
    const old = await storage.claim(name);
    const current = await storage.claim(name);
    await storage.remove(name, current);
    expect(await storage.claim(name)).toBeGreaterThan(current);
    await expect(storage.append(name, bytes(1), old)).rejects.toBeInstanceOf(FencedError);
  });
});

describe("list", () => {
  const names = ["list-a/1", "list-a/2", "list-a/3", "list-a/4", "list-a/5", "list-ab/1", "list-b/1", "list-é/1"];

  beforeAll(async () => {
    for (const name of names) await storage.append(name, bytes(1), await storage.claim(name));
    await storage.claim("list-a/claimed-but-empty");
  });

  it("returns stored names under a prefix, in byte order, without claimed-but-empty rooms", async () => {
    expect(await storage.list("list-a/")).toEqual({ names: names.slice(0, 5), cursor: null });
    expect((await storage.list("list-a")).names).toEqual(names.slice(0, 6));
    expect((await storage.list("list-é/")).names).toEqual(["list-é/1"]);
    expect((await storage.list("list-")).names).toEqual(names);
    expect((await storage.list("")).names).toEqual(expect.arrayContaining(names));
  });

  it("pages with the cursor until it is null", async () => {
    const first = await storage.list("list-a/", { limit: 2 });
    expect(first.names).toEqual(["list-a/1", "list-a/2"]);
    const second = await storage.list("list-a/", { limit: 2, cursor: first.cursor! });
    expect(second.names).toEqual(["list-a/3", "list-a/4"]);
    const third = await storage.list("list-a/", { limit: 2, cursor: second.cursor! });
    expect(third).toEqual({ names: ["list-a/5"], cursor: null });
  });
});

describe("persistence and schema", () => {
  it("keeps everything across instances: a new instance on the same schema loads what the first stored", async () => {
    const name = newRoom();
    const fence = await storage.claim(name);
    await storage.append(name, bytes(5), fence);
    const other = new PostgresStorage({ url: TEST_POSTGRES_URL, schema });
    try {
      expect(await other.load(name)).toEqual([bytes(5)]);
      await expect(other.append(name, bytes(6), fence)).resolves.toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it("migrates once when several instances start at the same time", async () => {
    const fresh = uniqueSchema();
    const instances = Array.from({ length: 4 }, () => new PostgresStorage({ url: TEST_POSTGRES_URL, schema: fresh }));
    try {
      await Promise.all(instances.map((instance) => instance.ready()));
      const rows = await admin.unsafe(`SELECT version FROM "${fresh}".migrations ORDER BY version`);
      // Every migration applied once, in order.
      expect(rows.map((row) => row.version)).toEqual(MIGRATION_VERSIONS);
    } finally {
      await Promise.all(instances.map((instance) => instance.close()));
      await dropSchema(admin, fresh);
    }
  });

  it("refuses to start against a schema migrated by a newer version", async () => {
    const fresh = uniqueSchema();
    const first = new PostgresStorage({ url: TEST_POSTGRES_URL, schema: fresh });
    await first.ready();
    await first.close();
    await admin.unsafe(`INSERT INTO "${fresh}".migrations (version, name) VALUES (99, 'from the future')`);
    const second = new PostgresStorage({ url: TEST_POSTGRES_URL, schema: fresh });
    try {
      await expect(second.ready()).rejects.toThrow(/version 99/);
      await expect(second.load("app/x")).rejects.toBeInstanceOf(StorageError);
    } finally {
      await second.close();
      await dropSchema(admin, fresh);
    }
  });

  it("says why it cannot start when the server is not there", async () => {
    const unreachable = new PostgresStorage({ url: "postgres://postgres@127.0.0.1:1/test" });
    try {
      await expect(unreachable.ready()).rejects.toMatchObject({ code: ErrorCode.Storage });
    } finally {
      await unreachable.close();
    }
  });
});

describe("arguments", () => {
  it("refuses malformed arguments with InvalidArgumentError", async () => {
    expect(() => new PostgresStorage({ url: "mysql://x" })).toThrow(InvalidArgumentError);
    expect(() => new PostgresStorage({ url: TEST_POSTGRES_URL, schema: "Bad-Name" })).toThrow(InvalidArgumentError);
    await expect(storage.claim("")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.load("a\u0000b")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.append("app/x", "text" as never, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.append("app/x", bytes(1), 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.compact("app/x", bytes(1), 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.list("app/", { limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
