#!/usr/bin/env node
// Cold-room load cost of the relay's file store, in isolation: claims and loads N distinct fresh rooms the
// way a room is opened (claim, then load), `--concurrency` at a time, and reports the time per room.
// With --append, each room then gets one append (what a relay does when it stamps the first client's record).
// Optionally (--written) the rooms are first written once by another instance, so every claim has something
// to seal (a room reopened after a restart).
//
//   node bench/storage-cold-load.mjs [--rooms 5000] [--concurrency 50] [--fsync batch|off] [--written] [--append]
//                                    [--relay <path of another build's dist/index.js>, to compare builds]
//
// Uses packages/relay/dist (run `pnpm build` first); writes only under a fresh temporary directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    rooms: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "50" },
    fsync: { type: "string", default: "batch" },
    written: { type: "boolean", default: false },
    append: { type: "boolean", default: false },
    relay: { type: "string" },
  },
});
const { FileStorage } = await import(
  values.relay === undefined ? "../packages/relay/dist/index.js" : pathToFileURL(resolve(values.relay)).href
);
const rooms = Number(values.rooms);
const concurrency = Number(values.concurrency);
const fsync = /** @type {"batch" | "off"} */ (values.fsync);
const dataDir = mkdtempSync(join(tmpdir(), "parley-cold-load-"));
const names = Array.from({ length: rooms }, (_, i) => `bench/u/cold-${i}`);

/** Runs `work` over `names`, `concurrency` at a time; returns the wall time in ms. */
async function timed(work) {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < names.length) await work(names[next++]);
    }),
  );
  return performance.now() - started;
}

try {
  if (values.written) {
    const writer = new FileStorage({ dataDir, fsync: "off" });
    await timed(async (name) => writer.append(name, new Uint8Array([1, 2, 3]), await writer.claim(name)));
    await writer.close();
  }
  const storage = new FileStorage({ dataDir, fsync });
  const ms = await timed(async (name) => {
    const fence = await storage.claim(name);
    await storage.load(name);
    if (values.append) await storage.append(name, new Uint8Array([4, 5, 6]), fence);
  });
  await storage.close();
  console.log(
    `${rooms} ${values.written ? "written" : "fresh"} rooms, claim+load${values.append ? "+append" : ""}, ${concurrency} at a time, fsync ${fsync}: ` +
      `${(ms / 1000).toFixed(2)} s, ${((ms * 1000) / rooms).toFixed(0)} µs per room`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
