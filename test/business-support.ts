/**
 * Helpers for the business API, webhook and import tests: a relay with two apps (the test app and
 * another), app tokens, raw HTTP calls, and a real webhook receiver (a node:http server) whose answers
 * the test controls.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";

/** A second app on the same relay, to prove one app's key never opens another's data. */
export const OTHER_APP = { id: "otherapp", kid: "other-k1", secret: "other-secret-0123456789-abcdefghijklmnopqrstuvw" };
/** The secret the test app's webhooks are signed with. */
export const WEBHOOK_SECRET = "whsec-0123456789-abcdefghijklmnopqrstuvwxyz";

/** Starts a relay with the test app (and its webhooks, if any) and {@link OTHER_APP}. */
export function startBusinessRelay(
  options: { webhooks?: unknown[]; dataDir?: string; extraConfig?: Record<string, unknown> } = {},
): Promise<RelayHandle> {
  const apps = [
    {
      id: TEST_APP.id,
      keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }],
      webhooks: options.webhooks ?? [],
    },
    { id: OTHER_APP.id, keys: [{ kid: OTHER_APP.kid, alg: "HS256", secret: OTHER_APP.secret }] },
  ];
  const start: Parameters<typeof startRelay>[0] = { apps, extraConfig: { logLevel: "debug", ...options.extraConfig } };
  if (options.dataDir !== undefined) start.dataDir = options.dataDir;
  return startRelay(start);
}

/** A webhook entry for the test app's config, with fast retries. */
export function webhookConfig(url: string, events: string[], retry: Record<string, number> = {}): unknown {
  return {
    url,
    secret: WEBHOOK_SECRET,
    events,
    timeoutMs: 2_000,
    retry: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 50, ...retry },
  };
}

/** Signs an app token: `{ scope: "app" }` by default; `claims` replace the payload. */
export async function signAppToken(
  options: { kid?: string; secret?: string; claims?: Record<string, unknown>; expiresIn?: number | null } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(options.claims ?? { scope: "app" })
    .setProtectedHeader({ alg: "HS256", kid: options.kid ?? TEST_APP.kid })
    .setIssuedAt(now);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_APP.secret));
}

/** What a raw API call answered. */
export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  body: any;
}

/** Calls the business API with `fetch`; `token: null` sends no Authorization header. */
export async function api(
  relay: RelayHandle,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; appId?: string } = {},
): Promise<ApiAnswer> {
  const token = options.token === undefined ? await signAppToken() : options.token;
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(`${relay.httpUrl}/v1/apps/${options.appId ?? TEST_APP.id}/${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

/** One request the receiver got. */
export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The status the receiver answered, or `"hang"` for a request it never answered. */
  answered: number | "hang";
}

/** A webhook receiver that records every request and answers with the status `respond` picks. */
export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedDelivery[];
  /** Decides the status of each request (default 200); `"hang"` never answers it. */
  respond: (delivery: Omit<ReceivedDelivery, "answered">) => number | "hang";
  /** Stops listening (connections refused) until {@link WebhookReceiver.listen} again. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  listen(): Promise<void>;
}

/** Starts a receiver on a free port of 127.0.0.1. */
export async function startReceiver(): Promise<WebhookReceiver> {
  let server: Server | undefined;
  const receiver: WebhookReceiver = {
    url: "",
    port: 0,
    received: [],
    respond: () => 200,
    async stop() {
      const current = server;
      server = undefined;
      if (current === undefined) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async listen() {
      const created = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          const delivery = { headers: request.headers, rawBody: Buffer.concat(chunks).toString("utf8") };
          const status = receiver.respond(delivery);
          receiver.received.push({ ...delivery, answered: status });
          if (status !== "hang") response.writeHead(status).end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        created.once("error", reject);
        created.listen(receiver.port, "127.0.0.1", () => resolve());
      });
      server = created;
      receiver.port = (created.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
    },
  };
  await receiver.listen();
  return receiver;
}
