/**
 * A browser fixture page (a directory with an `index.html` and its scripts) built with Vite into a
 * temporary directory and served on a port-0 HTTP server, for tests in real Chromium. Serves files of the
 * build by path, `index.html` for anything else, and nothing outside the build.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { build } from "vite";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};

/** A served build of a fixture page. */
export interface FixturePage {
  /** The page's URL (`http://127.0.0.1:<port>/`). */
  url: string;
  /** Where the build is. */
  outDir: string;
  /** Stops the server and removes the build. */
  close(): Promise<void>;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Builds the page in `fixtureDir` and serves it. */
export async function serveFixturePage(fixtureDir: string): Promise<FixturePage> {
  const outDir = await mkdtemp(join(tmpdir(), "parley-fixture-page-"));
  await build({ root: fixtureDir, configFile: false, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  const base = resolve(outDir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const wanted = resolve(join(base, path));
    const inside = wanted === base || wanted.startsWith(base + sep);
    void (async () => {
      const file = inside && (await isFile(wanted)) ? wanted : join(base, "index.html");
      res.writeHead(200, { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" });
      createReadStream(file).pipe(res);
    })();
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    outDir,
    async close() {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
      await rm(outDir, { recursive: true, force: true });
    },
  };
}
