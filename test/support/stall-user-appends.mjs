// Preloaded into a relay CLI process (NODE_OPTIONS=--import <this file>) of a cluster test: once the file
// `stall-user-appends` exists next to the process's `--config` file, PostgresStorage appends to user rooms are never
// written and never resolve, so a login merge stops between claiming the anonymous subject and storing the merge
// into the user's room, and the test can SIGKILL the node right there. Every other write goes through as usual.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { PostgresStorage } from "@parley/relay-postgres";

const configAt = process.argv.indexOf("--config");
if (configAt !== -1) {
  const flag = join(dirname(process.argv[configAt + 1]), "stall-user-appends");
  const append = PostgresStorage.prototype.append;
  PostgresStorage.prototype.append = function (name, update, fence) {
    return name.includes("/u/") && existsSync(flag) ? new Promise(() => {}) : append.call(this, name, update, fence);
  };
}
