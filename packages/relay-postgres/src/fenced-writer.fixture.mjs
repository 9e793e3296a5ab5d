// A writer in its own process, for the fencing test: takes the room's lease, then appends `writer:i` as fast
// as it can, printing `fence F` once and `acked i` after each append resolves. When an append is refused it
// prints `refused i CODE` and exits. Uses the built package, as a relay process would.
import { PostgresStorage } from "../dist/index.js";

const [url, schema, name, leaseMs] = process.argv.slice(2);
const storage = new PostgresStorage({ url, schema });
const lease = await storage.ownership.acquire(name, "child", Number(leaseMs));
if (!lease) {
  process.stdout.write("not-acquired\n");
  process.exit(2);
}
process.stdout.write(`fence ${lease.fence}\n`);
for (let i = 0; ; i++) {
  try {
    await storage.append(name, new TextEncoder().encode(`child:${i}`), lease.fence);
    process.stdout.write(`acked ${i}\n`);
  } catch (error) {
    process.stdout.write(`refused ${i} ${error.code}\n`);
    await storage.close();
    process.exit(0);
  }
}
