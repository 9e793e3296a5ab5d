// The stock y-websocket server (@y/websocket-server 0.1.1), wired exactly as its own bin (src/server.js) does,
// except that it listens on an ephemeral port and prints that port as one JSON line for the harness.
// `--persistence <dir>` turns on its built-in y-leveldb persistence (the bin's YPERSISTENCE variable).
import http from "node:http";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";

const { values } = parseArgs({ options: { persistence: { type: "string" } } });
// utils.js reads YPERSISTENCE when it is first imported.
if (values.persistence) process.env.YPERSISTENCE = values.persistence;
const { setupWSConnection } = await import("@y/websocket-server/utils");

const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("okay");
});
wss.on("connection", setupWSConnection);
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  console.log(JSON.stringify({ msg: "listening", port }));
});
process.on("SIGTERM", () => process.exit(0));
