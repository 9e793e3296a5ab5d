import { FencedError, InvalidArgumentError } from "@parley/protocol";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStorage } from "./postgres-storage.js";
import { adminConnection, dropSchema, TEST_POSTGRES_URL, uniqueSchema } from "./test-database.js";

let admin: Sql;
const schema = uniqueSchema();
let storage: PostgresStorage;
let room = 0;
const newRoom = () => `app/leased-${room++}`;
const HOUR = 3_600_000;

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

/** Ends a lease now, as if its time had run out, by moving `lease_until` into the past on the server. */
async function expire(name: string): Promise<void> {
  await admin.unsafe(`UPDATE "${schema}".rooms SET lease_until = now() - interval '1 second' WHERE name = $1`, [name]);
}

describe("RoomOwnership", () => {
  it("gives a free room to the first owner and refuses others while the lease is live", async () => {
    const name = newRoom();
    const lease = await storage.ownership.acquire(name, "node-a", HOUR);
    expect(lease).toMatchObject({ owner: "node-a", fence: expect.any(Number) });
    expect(lease!.expiresAt.getTime()).toBeGreaterThan(Date.now() + HOUR / 2);
    expect(await storage.ownership.acquire(name, "node-b", HOUR)).toBeNull();
    expect(await storage.ownership.owner(name)).toEqual(lease);
  });

  it("hands out a storage fence: the lease's fence writes, an earlier claim's fence is refused", async () => {
    const name = newRoom();
    const claimed = await storage.claim(name);
    const lease = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    expect(lease.fence).toBeGreaterThan(claimed);
    await storage.append(name, new Uint8Array([1]), lease.fence);
    await expect(storage.append(name, new Uint8Array([2]), claimed)).rejects.toBeInstanceOf(FencedError);
    expect(await storage.load(name)).toEqual([new Uint8Array([1])]);
  });

  it("lets another owner acquire after expiry, with a newer fence; the old owner can neither renew nor write", async () => {
    const name = newRoom();
    const first = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    await storage.append(name, new Uint8Array([1]), first.fence);
    await expire(name);
    expect(await storage.ownership.owner(name)).toBeNull();
    const second = (await storage.ownership.acquire(name, "node-b", HOUR))!;
    expect(second.fence).toBeGreaterThan(first.fence);
    expect(await storage.ownership.renew(name, "node-a", first.fence, HOUR)).toBeNull();
    expect(await storage.ownership.release(name, "node-a", first.fence)).toBe(false);
    await expect(storage.append(name, new Uint8Array([2]), first.fence)).rejects.toBeInstanceOf(FencedError);
    expect(await storage.ownership.owner(name)).toMatchObject({ owner: "node-b", fence: second.fence });
  });

  it("renews a lease that ran out if nobody took the room, keeping the fence", async () => {
    const name = newRoom();
    const lease = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    await expire(name);
    const renewed = await storage.ownership.renew(name, "node-a", lease.fence, HOUR);
    expect(renewed).toMatchObject({ owner: "node-a", fence: lease.fence });
    expect(await storage.ownership.acquire(name, "node-b", HOUR)).toBeNull();
  });

  it("gives a new fence when the same owner acquires again (a restarted node fences its old self)", async () => {
    const name = newRoom();
    const first = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    const again = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    expect(again.fence).toBeGreaterThan(first.fence);
    await expect(storage.append(name, new Uint8Array([1]), first.fence)).rejects.toBeInstanceOf(FencedError);
  });

  it("frees the room on release, and the next owner gets a newer fence", async () => {
    const name = newRoom();
    const first = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    expect(await storage.ownership.release(name, "node-a", first.fence)).toBe(true);
    expect(await storage.ownership.owner(name)).toBeNull();
    const second = (await storage.ownership.acquire(name, "node-b", HOUR))!;
    expect(second.fence).toBeGreaterThan(first.fence);
  });

  it("ends the lease when the storage claims the room", async () => {
    const name = newRoom();
    const lease = (await storage.ownership.acquire(name, "node-a", HOUR))!;
    await storage.claim(name);
    expect(await storage.ownership.owner(name)).toBeNull();
    expect(await storage.ownership.renew(name, "node-a", lease.fence, HOUR)).toBeNull();
  });

  it("lets exactly one of many concurrent acquirers win", async () => {
    const name = newRoom();
    const results = await Promise.all(
      ["a", "b", "c", "d", "e"].map((node) => storage.ownership.acquire(name, `node-${node}`, HOUR)),
    );
    expect(results.filter((lease) => lease !== null)).toHaveLength(1);
  });

  it("renews every held room in one statement and leaves out the rooms another owner took", async () => {
    const [kept, taken, released] = [newRoom(), newRoom(), newRoom()];
    const leases = await Promise.all(
      [kept, taken, released].map((name) => storage.ownership.acquire(name, "node-a", HOUR)),
    );
    await expire(taken);
    const other = (await storage.ownership.acquire(taken, "node-b", HOUR))!;
    await storage.ownership.release(released, "node-a", leases[2]!.fence);
    const held = [kept, taken, released].map((name, i) => ({ name, fence: leases[i]!.fence }));
    const renewed = await storage.ownership.renewAll("node-a", held, HOUR);
    expect(renewed).toEqual([{ name: kept, fence: leases[0]!.fence, expiresAt: expect.any(Date) }]);
    expect(await storage.ownership.owner(taken)).toMatchObject({ owner: "node-b", fence: other.fence });
    expect(await storage.ownership.renewAll("node-a", [], HOUR)).toEqual([]);
  });

  it("refuses malformed arguments", async () => {
    await expect(storage.ownership.acquire("", "node-a", HOUR)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.ownership.acquire("app/x", "", HOUR)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.ownership.acquire("app/x", "node-a", 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(storage.ownership.renew("app/x", "node-a", -1, HOUR)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
