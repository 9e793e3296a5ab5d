/**
 * Per-address limits across nodes: the owner of a room counts a piped connection against the client's
 * address (passed along by the piping node, signed with the cluster secret), not against the piping node's
 * own address; a client that sends the header itself is not believed. Two relay processes on PostgreSQL and
 * Redis with `limits.connectionsPerIp: 2`; clients on distinct loopback addresses (127.0.0.x).
 */
import { CloseCode, createSecret, roomName } from "@parley/protocol";
import { PEER_HEADER } from "@parley/relay-cluster";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { type ClusterNode, clusterForThisFile } from "./support/cluster.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const sockets: WebSocket[] = [];
const cluster = clusterForThisFile("addr", 2, {
  leaseMs: 3_000,
  extraConfig: { limits: { connectionsPerIp: 2 } },
  beforeStop: () => {
    for (const ws of sockets) ws.terminate();
  },
});

interface Connection {
  /** Whether the relay admitted it (it sent its first sync frame). */
  admitted(): boolean;
  closed: Promise<number>;
}

/** A raw WebSocket to `room` through `node`, from the loopback address `from`. */
function connect(node: ClusterNode, room: string, token: string, from: string, headers = {}): Connection {
  const params = new URLSearchParams({ token, client: createSecret() });
  const ws = new WebSocket(`${node.relay.url}/${room}?${params}`, { localAddress: from, headers });
  sockets.push(ws);
  let frames = 0;
  ws.on("message", () => frames++);
  ws.on("error", () => {});
  return { admitted: () => frames > 0, closed: new Promise((resolve) => ws.on("close", (code) => resolve(code))) };
}

it("counts a piped connection against the client's address on the room's owner, and believes no client", async () => {
  const room = roomName({ appId: TEST_APP.id, kind: "user", subject: "oz" });
  const token = await signUserToken("oz");
  const [owner, other] = cluster.nodes as [ClusterNode, ClusterNode];
  // The first connection reaches node-0 directly: node-0 serves the room.
  const direct = connect(owner, room, token, "127.0.0.1");
  await waitFor(direct.admitted, { what: "the direct connection admitted" });

  // Through node-1, piped to node-0: counted as 127.0.0.2 (node-1's own address is 127.0.0.1, which holds one).
  const piped = [connect(other, room, token, "127.0.0.2"), connect(other, room, token, "127.0.0.2")];
  await waitFor(() => piped.every((connection) => connection.admitted()), { what: "two piped connections" });
  expect(await connect(other, room, token, "127.0.0.2").closed).toBe(CloseCode.TooManyConnections);
  // Another client address through the same node is not held back by 127.0.0.2's count.
  const another = connect(other, room, token, "127.0.0.3");
  await waitFor(another.admitted, { what: "a connection from another address" });

  // A client claiming another address in the cluster's header is counted as itself.
  const forged = connect(owner, room, token, "127.0.0.2", { [PEER_HEADER]: "198.51.100.7 c2lnbmF0dXJl" });
  expect(await forged.closed).toBe(CloseCode.TooManyConnections);
});
