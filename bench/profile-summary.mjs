#!/usr/bin/env node
// Summarizes V8 CPU profiles (`node --cpu-prof`, e.g. from `node bench/run.mjs --profile`): where the time went,
// by function (self time) and by file, so a missed goal can be traced to what costs.
//
//   node bench/profile-summary.mjs <file.cpuprofile> [--top 25]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, match: { type: "string" } },
});
const top = Number(values.top);

for (const path of positionals) {
  /** @type {{ nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }>, samples: number[], timeDeltas: number[] }} */
  const profile = JSON.parse(readFileSync(path, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<number, number>} */
  const selfMicros = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    const id = /** @type {number} */ (profile.samples[i]);
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
    total += delta;
  }
  /** @type {Map<string, number>} */
  const byFunction = new Map();
  /** @type {Map<string, number>} */
  const byFile = new Map();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const file = fileOf(frame);
    const name = label(frame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    const fileKey = file || `(${frame.functionName})`;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + micros);
  }
  const show = (/** @type {string} */ title, /** @type {Map<string, number>} */ map) => {
    console.log(`\n${title}`);
    for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(
        `${(micros / 1000).toFixed(1).padStart(9)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`,
      );
    }
  };
  // Inclusive time: a function's samples plus its callees', counted once per call stack.
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** @type {Map<string, number>} */
  const inclusive = new Map();
  for (const [id, micros] of selfMicros) {
    const seen = new Set();
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) continue;
      const name = label(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
    }
  }
  const filter = values.match;
  const matching = new Map([...inclusive].filter(([name]) => filter === undefined || name.includes(filter)));
  console.log(`${path}: ${(total / 1000).toFixed(0)} ms sampled`);
  show(`total time by function${filter === undefined ? "" : ` (matching ${filter})`}`, matching);
  show("self time by function", byFunction);
  show("self time by file", byFile);
}

/** @param {{ url: string }} frame */
function fileOf(frame) {
  return frame.url
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/^file:\/\/.*\/packages\//, "packages/");
}

/** @param {{ functionName: string, url: string, lineNumber: number }} frame */
function label(frame) {
  return `${frame.functionName || "(anonymous)"} ${fileOf(frame)}:${frame.lineNumber + 1}`;
}
