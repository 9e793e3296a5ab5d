// A relay process whose storage loses its un-synced tail: once the file named by PARLEY_TEST_STALL_FLAG exists,
// appends are held in memory and never written (and never resolve), so what the relay forwards from then on
// is in no durable place when the process is SIGKILLed. Everything else is the stock relay on a FileStorage.
// Usage: node stalling-relay.mjs <port> <dataDir> <flagFile>; prints {"listening":<port>} once ready.
import { existsSync } from "node:fs";
import { createRelay, FileStorage } from "@parley/relay";

const [port, dataDir, flag] = process.argv.slice(2);
const storage = new FileStorage({ dataDir, fsync: "batch" });
const append = storage.append.bind(storage);
storage.append = (name, update, fence) => (existsSync(flag) ? new Promise(() => {}) : append(name, update, fence));
const relay = createRelay({
  host: "127.0.0.1",
  port: Number(port),
  dataDir,
  storage,
  apps: JSON.parse(process.env.PARLEY_TEST_APPS),
});
await relay.listen();
process.stdout.write(`${JSON.stringify({ listening: Number(port) })}\n`);
