/** The options of `createClient`, their defaults, and their validation. */
import { assertAppId, InvalidArgumentError, MAX_TAIL } from "@parley/protocol";
import type { WebSocketConstructor } from "./net/connection.js";
import type { ClientStorage } from "./storage/storage.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The app's id on the relay (1–64 of `A-Z a-z 0-9 _ -`). */
  appId: string;
  /** The relay's WebSocket endpoint, e.g. `"wss://relay.example.com/v1"`. */
  relayUrl: string;
  /**
   * Where identity and conversations are kept. Default: IndexedDB where `indexedDB` exists;
   * required elsewhere (use `directoryStorage(path)` from `@parley/client/node` in Node, `memoryStorage()` for throwaway clients).
   */
  storage?: ClientStorage;
  /** WebSocket constructor. Default: `globalThis.WebSocket`. In Node 20 pass the `ws` package's export. */
  WebSocket?: WebSocketConstructor;
  /** What this client is, recorded by the relay for the user (the SDK version is added). */
  clientInfo?: { platform?: string; appVersion?: string };
  /**
   * Called when the relay refuses the current user token as expired or invalid, and shortly before a
   * token's `exp`. Return a fresh JWT for `userId` from the app's backend. Without it, an expired
   * token stops the connection and emits an `error` event.
   */
  onTokenExpired?: (userId: string) => Promise<string>;
  /** Share identity and live updates with other instances on the same store (BroadcastChannel). Default `true`. */
  tabSync?: boolean;
  /** Connect to the relay. Default `true`; `false` keeps the client local-only. */
  connect?: boolean;
  /** How long `login` waits for the relay before resolving `{ authenticated: false }`. Default 5,000 ms. */
  loginTimeoutMs?: number;
  /** How long `logout` and a user switch wait for unsent changes to reach the relay. Default 5,000 ms. */
  flushTimeoutMs?: number;
  /**
   * How many of the newest messages to ask the relay for when this store has nothing of a conversation
   * yet, shown before the full history has arrived (0–200, `0` turns it off). Default 50.
   */
  recentPreview?: number;
  /**
   * Keep this store's client id across logouts and user switches. Default `false`: a logout, and a login as
   * another user on a client where a user is logged in, draw a new client secret, so nothing the relay or the
   * business sees links the next anonymous visitor or user on this device to the user who left. Opt in only
   * if the app tells its users it keeps a stable device id.
   */
  stableDeviceId?: boolean;
}

/** {@link ClientOptions} after validation and defaults. */
export interface ResolvedOptions {
  appId: string;
  relayUrl: string;
  storage: ClientStorage | undefined;
  WebSocket: WebSocketConstructor | undefined;
  clientInfo: { platform?: string; appVersion?: string };
  onTokenExpired: ((userId: string) => Promise<string>) | undefined;
  tabSync: boolean;
  connect: boolean;
  loginTimeoutMs: number;
  flushTimeoutMs: number;
  recentPreview: number;
  stableDeviceId: boolean;
}

const STORAGE_METHODS = ["get", "set", "delete", "openDoc", "deleteDoc", "listDocs"] as const;

function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new InvalidArgumentError(name, "must be a boolean");
  return value;
}

function optionalDuration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 2_147_483_647) {
    throw new InvalidArgumentError(name, "must be a number of milliseconds between 0 and 2147483647");
  }
  return value;
}

function optionalInfoField(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > 128) {
    throw new InvalidArgumentError(name, "must be a string of 1-128 characters");
  }
  return value;
}

/** Validates every option; throws {@link InvalidArgumentError} naming the first bad one. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === null || typeof options !== "object") throw new InvalidArgumentError("options", "must be an object");
  const o = options as Record<string, unknown>;
  assertAppId(o.appId, "options.appId");
  if (typeof o.relayUrl !== "string" || !/^wss?:\/\/[^\s?#]+$/.test(o.relayUrl) || !URL.canParse(o.relayUrl)) {
    throw new InvalidArgumentError("options.relayUrl", "must be a ws:// or wss:// URL without query or fragment");
  }
  if (o.storage !== undefined) {
    const storage = o.storage as Record<string, unknown> | null;
    if (
      storage === null ||
      typeof storage !== "object" ||
      STORAGE_METHODS.some((m) => typeof storage[m] !== "function")
    ) {
      throw new InvalidArgumentError("options.storage", `must implement ClientStorage (${STORAGE_METHODS.join(", ")})`);
    }
  }
  if (o.WebSocket !== undefined && typeof o.WebSocket !== "function") {
    throw new InvalidArgumentError("options.WebSocket", "must be a WebSocket constructor");
  }
  if (o.onTokenExpired !== undefined && typeof o.onTokenExpired !== "function") {
    throw new InvalidArgumentError("options.onTokenExpired", "must be a function returning a Promise of a JWT");
  }
  const info = o.clientInfo ?? {};
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new InvalidArgumentError("options.clientInfo", "must be an object");
  }
  const platform = optionalInfoField((info as Record<string, unknown>).platform, "options.clientInfo.platform");
  const appVersion = optionalInfoField((info as Record<string, unknown>).appVersion, "options.clientInfo.appVersion");
  const connect = optionalBoolean(o.connect, "options.connect", true);
  const WebSocket = (o.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as
    | WebSocketConstructor
    | undefined;
  if (connect && WebSocket === undefined) {
    throw new InvalidArgumentError("options.WebSocket", "is required where globalThis.WebSocket is missing");
  }
  const recentPreview = o.recentPreview ?? 50;
  if (
    typeof recentPreview !== "number" ||
    !Number.isInteger(recentPreview) ||
    recentPreview < 0 ||
    recentPreview > MAX_TAIL
  ) {
    throw new InvalidArgumentError("options.recentPreview", `must be an integer from 0 to ${MAX_TAIL}`);
  }
  const clientInfo: { platform?: string; appVersion?: string } = {};
  if (platform !== undefined) clientInfo.platform = platform;
  if (appVersion !== undefined) clientInfo.appVersion = appVersion;
  return {
    appId: o.appId,
    relayUrl: o.relayUrl.replace(/\/+$/, ""),
    storage: o.storage as ClientStorage | undefined,
    WebSocket,
    clientInfo,
    onTokenExpired: o.onTokenExpired as ((userId: string) => Promise<string>) | undefined,
    tabSync: optionalBoolean(o.tabSync, "options.tabSync", true),
    stableDeviceId: optionalBoolean(o.stableDeviceId, "options.stableDeviceId", false),
    connect,
    loginTimeoutMs: optionalDuration(o.loginTimeoutMs, "options.loginTimeoutMs", 5_000),
    flushTimeoutMs: optionalDuration(o.flushTimeoutMs, "options.flushTimeoutMs", 5_000),
    recentPreview,
  };
}
