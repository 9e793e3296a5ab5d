import { FencedError } from "@parley/protocol";
import { silentLogger } from "@parley/relay";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClusterLeases } from "./leases.js";

const OWNER = "node-a 127.0.0.1:1";
const LEASE_MS = 300;

/** Polls until `condition` holds (liveness only: the timeout is generous). */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A RoomOwnership double: every room free at first, epochs counting up, renewals as `renewing` says. */
function fakeOwnership() {
  let epoch = 0;
  const fake = {
    held: new Map<string, string>(),
    renewing: "ok" as "ok" | "refuse" | "fail" | "hang",
    /** Answers the renewals left hanging (`renewing: "hang"`), refused. */
    answerHung: () => {},
    acquire: vi.fn(async (name: string, owner: string) => {
      if (fake.held.has(name) && fake.held.get(name) !== owner) return null;
      fake.held.set(name, owner);
      return { owner, fence: ++epoch, expiresAt: new Date() };
    }),
    renewAll: vi.fn(async (_owner: string, held: ReadonlyArray<{ name: string; fence: number }>) => {
      if (fake.renewing === "fail") throw new Error("connection refused");
      if (fake.renewing === "hang") {
        await new Promise<void>((resolve) => {
          fake.answerHung = resolve;
        });
        return [];
      }
      return fake.renewing === "ok" ? held.map((lease) => ({ ...lease, expiresAt: new Date() })) : [];
    }),
    release: vi.fn(async (name: string) => fake.held.delete(name)),
    owner: vi.fn(async (name: string) =>
      fake.held.has(name) ? { owner: fake.held.get(name)!, fence: epoch, expiresAt: new Date() } : null,
    ),
  };
  return fake;
}

function fakeCoordination() {
  return {
    setOwner: vi.fn(async () => {}),
    clearOwner: vi.fn(async () => {}),
    requestRelease: vi.fn(async () => {}),
  };
}

let running: ClusterLeases | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function leases(ownership = fakeOwnership(), coordination = fakeCoordination()) {
  running = new ClusterLeases({
    ownership: ownership as never,
    coordination: coordination as never,
    owner: OWNER,
    leaseMs: LEASE_MS,
    logger: silentLogger,
  });
  running.start();
  return { leases: running, ownership, coordination };
}

describe("ClusterLeases", () => {
  it("hands out the PostgreSQL lease's fence, renews held rooms together, and releases a room everywhere", async () => {
    const { leases: node, ownership, coordination } = leases();
    const a = await node.acquire("app/u/a");
    const b = await node.acquire("app/u/b");
    expect(b.fence).toBeGreaterThan(a.fence);
    expect(node.holds("app/u/a")).toBe(true);
    expect(coordination.setOwner).toHaveBeenCalledWith("app/u/a");
    await eventually(() => ownership.renewAll.mock.calls.some(([, held]) => held.length === 2), "a joint renewal");
    a.release();
    expect(node.holds("app/u/a")).toBe(false);
    await eventually(() => coordination.clearOwner.mock.calls.length === 1, "the cache entry dropped");
    expect(ownership.release).toHaveBeenCalledWith("app/u/a", OWNER, a.fence);
    expect(coordination.clearOwner).toHaveBeenCalledWith("app/u/a");
  });

  it("refuses with FencedError while another node holds the room, and corrects the cache", async () => {
    const ownership = fakeOwnership();
    ownership.held.set("app/u/a", "node-b 127.0.0.1:2");
    const { leases: node, coordination } = leases(ownership);
    await expect(node.acquire("app/u/a")).rejects.toBeInstanceOf(FencedError);
    expect(node.holds("app/u/a")).toBe(false);
    await eventually(() => coordination.setOwner.mock.calls.length === 1, "the cache corrected");
    expect(coordination.setOwner).toHaveBeenCalledWith("app/u/a", "node-b 127.0.0.1:2");
  });

  it("reports a lease lost when PostgreSQL refuses its renewal, and then releases nothing", async () => {
    const { leases: node, ownership } = leases();
    const lease = await node.acquire("app/u/a");
    const lost = vi.fn();
    lease.onLost(lost);
    ownership.renewing = "refuse";
    await eventually(() => lost.mock.calls.length === 1, "the lease lost");
    expect(node.holds("app/u/a")).toBe(false);
    lease.release();
    expect(ownership.release).not.toHaveBeenCalled();
  });

  it("reports a lease lost when no renewal succeeded before it could have run out", async () => {
    const { leases: node, ownership } = leases();
    const lease = await node.acquire("app/u/a");
    ownership.renewing = "fail";
    const lost = vi.fn();
    lease.onLost(lost);
    await eventually(() => lost.mock.calls.length === 1, "the lease lost");
    // Registered after the loss: called at once.
    const late = vi.fn();
    lease.onLost(late);
    expect(late).toHaveBeenCalledTimes(1);
  });
  it("is stalled while PostgreSQL leaves a renewal unanswered past the leases: takes no new lease, drops the cache", async () => {
    const { leases: node, ownership, coordination } = leases();
    const lease = await node.acquire("app/u/a");
    ownership.renewing = "hang";
    // Both by this node's clock, within a renewal tick of each other (in either order).
    await eventually(() => node.stalled && !node.holds("app/u/a"), "the node stalled, its lease lost");
    // The lost lease's cache entry goes (compare-and-delete: only if it still names this node).
    expect(coordination.clearOwner).toHaveBeenCalledWith("app/u/a");
    await expect(node.acquire("app/u/b")).rejects.toBeInstanceOf(FencedError);
    expect(ownership.acquire).toHaveBeenCalledTimes(1);
    lease.release();
    ownership.renewing = "ok";
    ownership.answerHung();
    await eventually(() => !node.stalled, "the renewal answered");
    await node.acquire("app/u/b");
    expect(node.holds("app/u/b")).toBe(true);
  });
});
