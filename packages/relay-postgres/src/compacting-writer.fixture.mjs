// A writer in its own process, for the compaction crash case: claims the room, loads it, prints `ready`,
// and on a line on stdin compacts it to the snapshot given in hex. The test SIGKILLs it while the compaction
// statement waits in PostgreSQL.
import { once } from "node:events";
import { PostgresStorage } from "../dist/index.js";

const [url, schema, name, snapshotHex] = process.argv.slice(2);
const storage = new PostgresStorage({ url, schema });
const fence = await storage.claim(name);
await storage.load(name);
process.stdout.write("ready\n");
await once(process.stdin, "data");
await storage.compact(name, Uint8Array.from(Buffer.from(snapshotHex, "hex")), fence);
process.stdout.write("compacted\n");
await storage.close();
