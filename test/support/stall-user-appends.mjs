// Preloaded into a relay CLI process (NODE_OPTIONS=--import <this file>) of a cluster test: while the file
// `stall-user-appends` exists next to the process's `--config` file, PostgresStorage appends to user rooms wait
// (not written), so a login merge stops between claiming the anonymous subject and storing the merge into the
// user's room, and the test can SIGKILL the node right there. Every other write goes through as usual.
// Once the file is gone a waiting append goes on as it would have (fenced if the node lost the room meanwhile):
// a node the test did not kill is not left with a merge that never ends, which would hold every later merge of
// that subject on the node.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { PostgresStorage } from "@parley/relay-postgres";

const configAt = process.argv.indexOf("--config");
if (configAt !== -1) {
  const flag = join(dirname(process.argv[configAt + 1]), "stall-user-appends");
  const append = PostgresStorage.prototype.append;
  PostgresStorage.prototype.append = async function (name, update, fence) {
    while (name.includes("/u/") && existsSync(flag)) await new Promise((resolve) => setTimeout(resolve, 50));
    return append.call(this, name, update, fence);
  };
}
