/**
 * The whole demo, started for a browser test: a real relay process, the example app backend serving a
 * fresh production build of the web chat, and headless Chromium.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { build } from "vite";
import { createAppBackend } from "../../../examples/app-backend/src/index.js";
import { type RelayHandle, startRelay, TEST_APP } from "../../support/relay.js";
import { launchChromium } from "./chromium.js";

const WEB_CHAT_DIR = fileURLToPath(new URL("../../../examples/web-chat/", import.meta.url));

/** A running relay + backend + browser. */
export interface WebChatStack {
  relay: RelayHandle;
  /** The chat page's URL. */
  url: string;
  browser: Browser;
  /** Stops the browser, the backend and the relay, and removes the build. */
  close(): Promise<void>;
}

/** Builds the web chat with Vite into `outDir`. */
export async function buildWebChat(outDir: string): Promise<void> {
  await build({
    root: WEB_CHAT_DIR,
    configFile: join(WEB_CHAT_DIR, "vite.config.ts"),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
}

/** Starts everything; each call gets its own build directory, relay data directory and ports. */
export async function startWebChatStack(): Promise<WebChatStack> {
  const outDir = await mkdtemp(join(tmpdir(), "parley-web-chat-"));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(outDir, { recursive: true, force: true })];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    await buildWebChat(outDir);
    const relay = await startRelay();
    cleanups.push(() => relay.stop());
    const backend = createAppBackend({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      key: { kid: TEST_APP.kid, secret: TEST_APP.secret },
      staticDir: outDir,
    });
    const { url } = await backend.listen();
    cleanups.push(() => backend.close());
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    return { relay, url, browser, close };
  } catch (error) {
    await close();
    throw error;
  }
}
