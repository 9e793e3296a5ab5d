// The floor: a WebSocket server that forwards every frame to the other connections of the same URL path and
// does nothing else (no Yjs, no auth, no storage). It answers a client's sync step 1 with an empty step 2 so
// y-websocket clients finish their handshake. Latency and CPU per message through it are what any server on
// `ws` pays at least on this machine.
import http from "node:http";
import { WebSocketServer } from "ws";

/** Sync step 2 carrying an empty update: message sync (0), step 2 (1), update of 2 bytes [0, 0]. */
const EMPTY_STEP_2 = new Uint8Array([0, 1, 2, 0, 0]);
/** Sync step 1 carrying an empty state vector. */
const EMPTY_STEP_1 = new Uint8Array([0, 0, 1, 0]);

/** @type {Map<string, Set<import("ws").WebSocket>>} */
const rooms = new Map();
const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((_request, response) => response.end("okay"));
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => {
    const name = (request.url ?? "/").split("?")[0] ?? "/";
    let room = rooms.get(name);
    if (room === undefined) {
      room = new Set();
      rooms.set(name, room);
    }
    const peers = room;
    peers.add(ws);
    ws.on("error", () => {});
    ws.on("close", () => {
      peers.delete(ws);
      if (peers.size === 0) rooms.delete(name);
    });
    ws.on("message", (data, isBinary) => {
      const frame = /** @type {Buffer} */ (data);
      if (isBinary && frame[0] === 0 && frame[1] === 0) {
        ws.send(EMPTY_STEP_2);
        return;
      }
      for (const peer of peers) if (peer !== ws) peer.send(frame);
    });
    ws.send(EMPTY_STEP_1);
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  console.log(JSON.stringify({ msg: "listening", port }));
});
process.on("SIGTERM", () => process.exit(0));
