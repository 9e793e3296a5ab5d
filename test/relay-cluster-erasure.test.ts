/**
 * Erasure across nodes: `DELETE users/<id>` also erases the anonymous conversation merged into the user, and
 * that room may be held by another node at the time (here: a business read there loaded it). The erasing node
 * asks that node to hand the idle room over and waits for it, instead of failing. Two relay processes on
 * PostgreSQL + Redis.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { anonymousIdFromSecret, CloseCode, parseAnonymousToken, roomName } from "@parley/protocol";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { api } from "./business-support.js";
import { connectRaw, storedAnonymousToken } from "./support/client.js";
import { type ClusterNode, clusterForThisFile } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const clients: ParleyClient[] = [];
const cluster = clusterForThisFile("erasure", 2, {
  leaseMs: 3_000,
  // Long enough that the holder hands the room over on request well before its grace period would free it anyway.
  extraConfig: { roomGraceMs: 6_000 },
  beforeStop: async () => {
    for (const client of clients) await client.destroy().catch(() => {});
  },
});

/** How many room leases `node` holds (its cluster metrics). */
async function leasesHeld(node: ClusterNode): Promise<number> {
  const body = await (await fetch(`${node.relay.httpUrl}/metrics`)).text();
  const line = body.split("\n").find((candidate) => candidate.startsWith("parley_cluster_leases_held "));
  if (line === undefined) throw new Error("no parley_cluster_leases_held sample");
  return Number(line.split(" ")[1]);
}

it("erases a merged anonymous conversation another node holds, once that node hands it over", async () => {
  const [eraser, holder] = cluster.nodes as [ClusterNode, ClusterNode];
  const storage = memoryStorage();
  const visitor = createClient({ appId: TEST_APP.id, relayUrl: eraser.relay.url, storage, WebSocket });
  clients.push(visitor);
  await visitor.ready;
  const anonymousToken = await storedAnonymousToken(storage);
  const anonymousId = anonymousIdFromSecret(parseAnonymousToken(anonymousToken) ?? "");
  await visitor.send("my address is 1 Main St");
  await waitFor(() => visitor.messages().every((m) => m.status === "sent"), { what: "the anonymous message stored" });
  await visitor.login("uma", await signUserToken("uma"));
  await waitFor(() => visitor.messages().every((m) => m.status === "sent"), { what: "merged and stored" });
  expect((await api(eraser.relay, "GET", "users/uma")).body.merged).toEqual([anonymousId]);
  // The client would send its copy back when it reconnects: erasure is of what the relay stores.
  await visitor.destroy();
  await waitFor(async () => (await leasesHeld(eraser)) === 0 && (await leasesHeld(holder)) === 0, {
    what: "every room released after its grace period",
    timeoutMs: 20_000,
  });

  // A business read through the other node loads the anonymous room there (nobody serves it): that node holds it.
  expect((await api(holder.relay, "GET", `anonymous/${anonymousId}`)).status).toBe(200);
  expect(await leasesHeld(holder)).toBe(1);
  // The erasure reaches a node that serves no room of the user: it loads the user's room and erases it, then the
  // anonymous one, which it must get from the other node first.
  const erased = await api(eraser.relay, "DELETE", "users/uma");
  expect(erased.status).toBe(204);
  expect(holder.relay.logs.some((line) => line.includes('"msg":"room handed over on request"'))).toBe(true);

  for (const node of [eraser, holder]) {
    expect((await api(node.relay, "GET", "users/uma")).status).toBe(404);
    expect((await api(node.relay, "GET", `anonymous/${anonymousId}`)).status).toBe(404);
    const anonymousRoom = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousId });
    expect((await connectRaw(node.relay, anonymousRoom, anonymousToken)).closeCode).toBe(CloseCode.Forbidden);
  }
});
