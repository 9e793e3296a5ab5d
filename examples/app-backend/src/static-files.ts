/**
 * Serves a built single-page app from a directory: files by path, `index.html` for anything else, and
 * nothing outside the directory.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

/** Sends the file for `urlPath` from `root` (`/inbox` is `inbox.html`), falling back to `root/index.html`. */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse): Promise<void> {
  const base = resolve(root);
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    decoded = "/";
  }
  let file = resolve(join(base, decoded));
  if (file !== base && !file.startsWith(base + sep)) file = join(base, "index.html");
  if (!(await isFile(file)) && file.startsWith(base + sep) && (await isFile(`${file}.html`))) file = `${file}.html`;
  if (!(await isFile(file))) file = join(base, "index.html");
  if (!(await isFile(file))) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("web-chat is not built: run `pnpm --filter @parley/example-web-chat build`\n");
    return;
  }
  // Vite fingerprints asset names, so they can be cached for good; index.html must always be revalidated.
  const immutable = file.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
  });
  createReadStream(file).pipe(res);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
