/**
 * A login merge across nodes: the user's room is served by one node, the anonymous room being merged by
 * another, which keeps it for its grace period after the anonymous connection closed (`roomGraceMs` 5 s). The
 * user room's node asks the other (Redis control message) to hand the idle room over instead of waiting the
 * grace period out; the merge then completes and every client has every message.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { type ClusterNode, clusterForThisFile } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const clients: ParleyClient[] = [];
const cluster = clusterForThisFile("merge", 2, {
  leaseMs: 3_000,
  extraConfig: { roomGraceMs: 5_000 },
  beforeStop: async () => {
    for (const client of clients) await client.destroy().catch(() => {});
  },
});

function client(node: ClusterNode): ParleyClient {
  const made = createClient({ appId: TEST_APP.id, relayUrl: node.relay.url, storage: memoryStorage(), WebSocket });
  clients.push(made);
  return made;
}

it("merges an anonymous room another node keeps, which hands it over when asked", async () => {
  const [first, second] = cluster.nodes as [ClusterNode, ClusterNode];
  // The user's room is on node-1.
  const phone = client(second);
  await phone.login("pia", await signUserToken("pia"));
  await phone.send("from the phone");
  await waitFor(() => phone.messages().every((m) => m.status === "sent"), { what: "the phone's message stored" });
  // An anonymous visitor on node-0 writes, then logs in as the same user: its login goes through node-0 too.
  const visitor = client(first);
  await visitor.ready;
  await visitor.send("while anonymous");
  await waitFor(() => visitor.messages().every((m) => m.status === "sent"), { what: "the visitor's message stored" });
  await visitor.login("pia", await signUserToken("pia"));
  for (const device of [phone, visitor]) {
    await waitFor(() => device.messages().length === 2 && device.messages().every((m) => m.status === "sent"), {
      what: "both messages, merged and acknowledged, on both devices",
      timeoutMs: 30_000,
    });
  }
  expect(first.relay.logs.some((line) => line.includes('"msg":"room handed over on request"'))).toBe(true);
});
