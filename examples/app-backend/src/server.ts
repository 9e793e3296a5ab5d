/**
 * The smallest realistic app server for Parley: it hands the browser the relay's address and signs user
 * tokens with the app key, which never leaves this process.
 *
 * Routes:
 * - `GET /api/config` → `{ appId, relayUrl }` so the page needs no build-time configuration.
 * - `POST /api/login` `{ userId }` → `{ jwt }`.
 * - `/api/inbox/…`: the agent inbox's API (see inbox-api.ts), through `@parley/business`.
 * - anything else: the built pages (the shop with the widget at `/`, the inbox at `/inbox`), if
 *   `staticDir` is given.
 *
 * DEMO ONLY: `/api/login` signs a token for whatever userId it is sent. A real app authenticates the user
 * first (password, SSO, session cookie, …) and signs a token only for the user that session belongs to.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type BusinessClient, createBusinessClient } from "@parley/business";
import { handleInbox } from "./inbox-api.js";
import { serveStatic } from "./static-files.js";
import { type AppKey, signUserToken } from "./tokens.js";

/** Options of {@link createAppBackend}. */
export interface AppBackendOptions {
  /** The Parley app id, as configured on the relay. */
  appId: string;
  /** The relay's WebSocket base URL the browser connects to, e.g. `ws://127.0.0.1:8080/v1`. */
  relayUrl: string;
  /** The relay's HTTP base URL for the business API. Default: `relayUrl` as http(s) without its path. */
  relayHttpUrl?: string;
  /** The app's HS256 key, as configured on the relay. */
  key: AppKey;
  /** Lifetime of the user tokens it signs. Default 15 minutes. */
  tokenTtlSeconds?: number;
  /** Directory of the built web chat to serve; omit to serve the API only. */
  staticDir?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** A running app backend. */
export interface AppBackend {
  /** Starts listening; resolves with the bound port and the page's URL. */
  listen(): Promise<{ port: number; url: string }>;
  /** Stops accepting connections and closes the open ones. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4096;
const MAX_USER_ID_LENGTH = 256;

/** Creates the example app server. */
export function createAppBackend(options: AppBackendOptions): AppBackend {
  const host = options.host ?? "127.0.0.1";
  const business = createBusinessClient({
    baseUrl: options.relayHttpUrl ?? httpBase(options.relayUrl),
    appId: options.appId,
    keyId: options.key.kid,
    secret: options.key.secret,
  });
  const server = createServer((req, res) => {
    handle(options, business, req, res).catch((error: unknown) => {
      console.error("app-backend: request failed", error);
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, host, () => {
          server.off("error", reject);
          const { port } = server.address() as AddressInfo;
          resolve({ port, url: `http://${host}:${port}/` });
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** `ws://host:port/v1` → `http://host:port`. */
function httpBase(relayUrl: string): string {
  const url = new URL(relayUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

async function handle(
  options: AppBackendOptions,
  business: BusinessClient,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (path.startsWith("/api/inbox/")) {
    const answer = await handleInbox(business, req.method ?? "GET", path, () => readJson(req));
    if (answer !== undefined) return sendJson(res, answer.status, answer.body);
  }
  if (path === "/api/config" && req.method === "GET") {
    sendJson(res, 200, { appId: options.appId, relayUrl: options.relayUrl });
    return;
  }
  if (path === "/api/login") {
    if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" });
    const body = await readJson(req);
    const userId = body !== null && typeof body === "object" ? (body as { userId?: unknown }).userId : undefined;
    if (typeof userId !== "string" || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
      return sendJson(res, 400, { error: `userId must be a string of 1-${MAX_USER_ID_LENGTH} characters` });
    }
    // DEMO ONLY: a real app signs a token only for the user its own authentication established.
    const jwt = await signUserToken(options.key, userId, options.tokenTtlSeconds);
    return sendJson(res, 200, { jwt });
  }
  if (path.startsWith("/api/")) return sendJson(res, 404, { error: "no such endpoint" });
  if (options.staticDir === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
    return sendJson(res, 404, { error: "not found" });
  }
  await serveStatic(options.staticDir, path, res);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return null;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
