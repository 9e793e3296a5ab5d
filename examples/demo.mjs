#!/usr/bin/env node
/**
 * `pnpm demo`: the relay on its embedded file store, the example app backend, and the web chat, on this
 * machine. Prints the URL to open; Ctrl-C stops everything. Data stays in .data/demo between runs.
 *
 * `pnpm demo` builds the packages first; this script builds the examples (the web pages with Vite, the app
 * backend and the terminal client with tsup). Environment: PORT (the page, default 3000),
 * PARLEY_DEMO_RELAY_PORT (default 8787), PARLEY_DEMO_DIR (default .data/demo).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build as buildBundle } from "tsup";
import { build as buildPage } from "vite";

const root = fileURLToPath(new URL("..", import.meta.url));
const at = (path) => fileURLToPath(new URL(path, new URL("..", import.meta.url)));
const dataDir = process.env.PARLEY_DEMO_DIR ?? at(".data/demo");
const relayCli = at("packages/relay/dist/cli.js");
const APP_ID = "demo";

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

/** The demo's app key, made once and kept, so tokens and stored conversations stay valid across runs. */
async function appKey() {
  const file = `${dataDir}/app-key.json`;
  if (existsSync(file)) return JSON.parse(await readFile(file, "utf8"));
  const key = { kid: "demo-key", secret: randomBytes(32).toString("base64url") };
  await writeFile(file, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  return key;
}

const TERMINAL_CLIENT = "examples/node-client/dist/main.js";

async function buildExamples() {
  process.stdout.write("demo: building the web pages, the app backend and the terminal client… ");
  await buildPage({
    root: at("examples/web-chat"),
    configFile: at("examples/web-chat/vite.config.ts"),
    logLevel: "warn",
    build: { outDir: at("examples/web-chat/dist"), emptyOutDir: true },
  });
  await buildBundle({
    entry: [at("examples/app-backend/src/index.ts")],
    outDir: at("examples/app-backend/dist"),
    format: ["esm"],
    target: "es2022",
    clean: true,
    silent: true,
    config: false,
  });
  await buildBundle({
    entry: [at("examples/node-client/src/main.ts")],
    outDir: at("examples/node-client/dist"),
    // Its dependencies load from examples/node-client/node_modules; bundling ws into ESM would break it.
    external: ["@parley/client", "@parley/protocol", "ws"],
    format: ["esm"],
    target: "es2022",
    clean: true,
    silent: true,
    config: false,
  });
  console.log("done");
}

/** Starts the relay process and resolves with its port once it logs that it listens. */
function startRelay(configFile) {
  const child = spawn(process.execPath, [relayCli, "--config", configFile], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const onExit = (code) => reject(new Error(`the relay exited with code ${code} before listening`));
    child.once("exit", onExit);
    lines.on("line", (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === "listening") {
        child.off("exit", onExit);
        resolve({ child, port: entry.port });
      } else if (entry.level === "error" || entry.level === "warn") {
        console.error(`relay: ${line}`);
      }
    });
  });
}

async function listenBackend(createAppBackend, options) {
  const preferred = Number(process.env.PORT ?? 3000);
  try {
    const backend = createAppBackend({ ...options, port: preferred });
    return { backend, ...(await backend.listen()) };
  } catch (error) {
    if (error?.code !== "EADDRINUSE") throw error;
    console.log(`demo: port ${preferred} is taken; using a free one (set PORT to choose)`);
    const backend = createAppBackend({ ...options, port: 0 });
    return { backend, ...(await backend.listen()) };
  }
}

async function main() {
  if (!existsSync(relayCli)) {
    fail("the relay is not built: run `npx -y pnpm@10.34.8 demo` (it builds first) or `npx -y pnpm@10.34.8 build`");
  }
  await mkdir(dataDir, { recursive: true });
  const key = await appKey();
  const configFile = `${dataDir}/relay.json`;
  // A fixed relay port lets pages that are already open reconnect after the demo restarts.
  const relayPort = Number(process.env.PARLEY_DEMO_RELAY_PORT ?? 8787);
  const config = {
    port: relayPort,
    host: "127.0.0.1",
    dataDir: `${dataDir}/relay`,
    apps: [{ id: APP_ID, keys: [{ kid: key.kid, alg: "HS256", secret: key.secret }] }],
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

  await buildExamples();
  const { createAppBackend } = await import(pathToFileURL(at("examples/app-backend/dist/index.js")).href);
  let relay;
  try {
    relay = await startRelay(configFile);
  } catch {
    console.log(`demo: the relay could not listen on port ${relayPort}; using a free one (set PARLEY_DEMO_RELAY_PORT)`);
    await writeFile(configFile, `${JSON.stringify({ ...config, port: 0 }, null, 2)}\n`, { mode: 0o600 });
    relay = await startRelay(configFile);
  }
  const relayUrl = `ws://127.0.0.1:${relay.port}/v1`;
  const { backend, url } = await listenBackend(createAppBackend, {
    appId: APP_ID,
    relayUrl,
    key,
    staticDir: at("examples/web-chat/dist"),
  });

  console.log(`
  Parley demo is running.

    Shop with the support widget:  ${url}
    Agent inbox:                   ${url}inbox
    Relay:                         ${relayUrl}   (data in ${config.dataDir})

  Try it: open the shop, click the chat bubble and write as a guest. Answer it in the agent inbox (the
  guest sees "Read", the typing dots, then the reply). Sign in as the same user in a private window too
  (one thread, live on both), then sign out.
  Terminal client:
    PARLEY_BACKEND_URL=${url} node ${relative(process.cwd(), at(TERMINAL_CLIENT)) || TERMINAL_CLIENT}

  Press Ctrl-C to stop.
`);

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await backend.close().catch(() => {});
    if (relay.child.exitCode === null) {
      const exited = new Promise((resolve) => relay.child.once("exit", resolve));
      relay.child.kill("SIGTERM");
      await exited;
    }
    process.exit(code);
  };
  relay.child.once("exit", (code) => {
    if (!stopping) {
      console.error(`demo: the relay stopped (exit code ${code})`);
      void stop(1);
    }
  });
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));
}

main().catch((error) => fail(error instanceof Error ? error.message : String(error)));
