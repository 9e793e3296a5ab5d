// Hocuspocus (@hocuspocus/server 4.7) with its default configuration, optionally with its SQLite persistence
// extension (`--sqlite <file>`, @hocuspocus/extension-sqlite on better-sqlite3). Listens on an ephemeral port and
// prints it as one JSON line for the harness. No onAuthenticate hook: Hocuspocus has no built-in token check, so
// the token the clients send is accepted unverified.
import { parseArgs } from "node:util";
import { Server } from "@hocuspocus/server";

const { values } = parseArgs({ options: { sqlite: { type: "string" } } });
const extensions = [];
if (values.sqlite) {
  const { SQLite } = await import("@hocuspocus/extension-sqlite");
  extensions.push(new SQLite({ database: values.sqlite }));
}
const server = new Server({ address: "127.0.0.1", port: 0, quiet: true, extensions });
await server.listen();
console.log(JSON.stringify({ msg: "listening", port: server.address.port }));
process.on("SIGTERM", async () => {
  await server.destroy();
  process.exit(0);
});
