/**
 * A cluster node's Prometheus metrics (`parley_cluster_*`) move with what the cluster does: the node serving a
 * room holds its lease, the node a misrouted client reached pipes it and forwards business requests, both see
 * Redis, and a node paused past its lease counts the lease it lost. Two relay processes on PostgreSQL + Redis.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { api } from "./business-support.js";
import { type ClusterNode, clusterForThisFile } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const LEASE_MS = 2_000;
const clients: ParleyClient[] = [];
const cluster = clusterForThisFile("metrics", 2, {
  leaseMs: LEASE_MS,
  beforeStop: async () => {
    for (const client of clients) await client.destroy().catch(() => {});
  },
});

/** Every `parley_cluster_*` sample a node exports right now, by name. */
async function clusterSamples(node: ClusterNode): Promise<Map<string, number>> {
  const response = await fetch(`${node.relay.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    const match = /^(parley_cluster_\w+) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

async function loggedIn(userId: string, node: ClusterNode): Promise<ParleyClient> {
  const client = createClient({ appId: TEST_APP.id, relayUrl: node.relay.url, storage: memoryStorage(), WebSocket });
  clients.push(client);
  await client.login(userId, await signUserToken(userId));
  return client;
}

it("reports leases, pipes, forwards, Redis and lost leases per node", async () => {
  const [owner, other] = cluster.nodes as [ClusterNode, ClusterNode];
  const before = await clusterSamples(other);
  for (const name of [
    "parley_cluster_leases_held",
    "parley_cluster_pipes_open",
    "parley_cluster_upgrades_piped_total",
    "parley_cluster_upgrades_unroutable_total",
    "parley_cluster_requests_forwarded_total",
    "parley_cluster_leases_lost_total",
    "parley_cluster_rooms_handed_over_total",
    "parley_cluster_lease_renewals_failed_total",
  ]) {
    expect(before.get(name), name).toBe(0);
  }
  expect(before.get("parley_cluster_redis_ready")).toBe(1);

  // The first client reaches `owner`, which takes the room; the second reaches `other`, which pipes it there.
  const first = await loggedIn("mira", owner);
  await first.send("hello");
  await waitFor(() => first.messages().every((m) => m.status === "sent"), { what: "the first message stored" });
  const second = await loggedIn("mira", other);
  await waitFor(() => second.messages().length === 1, { what: "the piped client synced" });
  const posted = await api(other.relay, "POST", "users/mira/messages", { body: { text: "from the business" } });
  expect(posted.status).toBe(201);

  // The clients' anonymous rooms (each started anonymous, then logged in) are released after their grace period.
  await waitFor(
    async () =>
      (await clusterSamples(owner)).get("parley_cluster_leases_held") === 1 &&
      (await clusterSamples(other)).get("parley_cluster_leases_held") === 0,
    { what: "only the user's room leased, by the node serving it" },
  );
  const atOwner = await clusterSamples(owner);
  const atOther = await clusterSamples(other);
  // At least: a loaded machine may have the piped client reconnect (and be piped again).
  expect(atOther.get("parley_cluster_upgrades_piped_total")).toBeGreaterThanOrEqual(1);
  expect(atOther.get("parley_cluster_pipes_open")).toBeGreaterThanOrEqual(1);
  expect(atOther.get("parley_cluster_requests_forwarded_total")).toBe(1);
  expect(atOwner.get("parley_cluster_upgrades_piped_total")).toBe(0);

  // Paused past its lease while a new device arrives through the other node: that node takes the room over,
  // and the paused one, back, finds its lease gone and counts it.
  owner.relay.signal("SIGSTOP");
  try {
    const third = await loggedIn("mira", other);
    await waitFor(() => third.messages().length === 2, { what: "the other node serves the room", timeoutMs: 30_000 });
  } finally {
    owner.relay.signal("SIGCONT");
  }
  await waitFor(async () => (await clusterSamples(owner)).get("parley_cluster_leases_lost_total")! >= 1, {
    what: "the paused node counts its lost lease",
  });
  expect((await clusterSamples(owner)).get("parley_cluster_leases_held")).toBe(0);
  // The new device's anonymous room, too, is released after its grace period.
  await waitFor(async () => (await clusterSamples(other)).get("parley_cluster_leases_held") === 1, {
    what: "the room leased by the node that took it over",
  });
});
