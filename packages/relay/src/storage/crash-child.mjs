// A writer that claims a document, compacts it, and stops dead at one step of the compaction, so the
// test can SIGKILL it there (file-store.test.ts). Runs on the built package: `pnpm build` first.
// Usage: node crash-child.mjs <dataDir> <name> <snapshot base64> <step>
import { FileStorage } from "@parley/relay";

const [dataDir, name, snapshot, stopAt] = process.argv.slice(2);

class StoppingStorage extends FileStorage {
  async compactStep(step) {
    if (step !== stopAt) return;
    // A timer keeps the process alive (an empty event loop would end it) until the test's SIGKILL.
    setInterval(() => {}, 60_000);
    process.stdout.write(`stopped at ${step}\n`);
    await new Promise(() => {});
  }
}

const storage = new StoppingStorage({ dataDir });
const fence = await storage.claim(name);
await storage.load(name);
await storage.compact(name, Buffer.from(snapshot, "base64"), fence);
process.stdout.write("compacted\n");
