/**
 * The relay's configuration: a JSON file (see the README) plus environment overrides, validated up front
 * so a typo fails at start with the path of the bad field instead of at the first connection.
 */
import { readFileSync } from "node:fs";
import { assertAppId, InvalidArgumentError } from "@parley/protocol";
import type { JWK } from "jose";
import type { LogLevel } from "../core/logger.js";
import { parseWebhooks, type WebhookConfig } from "../extensions/webhooks/webhook-config.js";
import { type Limits, parseLimits } from "../limits/limits.js";
import { type ClusterConfig, clusterFromEnv, parseClusterConfig } from "./cluster-config.js";
import { assertKnownKeys } from "./known-keys.js";
import { parseStorageConfig, type StorageConfig, storageFromEnv } from "./storage-config.js";

/** An HS256 key: a shared secret. */
export interface SecretKeyConfig {
  kid: string;
  alg: "HS256";
  secret: string;
}

/** An RS256 or ES256 key: the app's public key, as PEM (SPKI) or as a JWK object. */
export interface PublicKeyConfig {
  kid: string;
  alg: "RS256" | "ES256";
  publicKey: string | JWK;
}

/** One key an app signs its user tokens with; the token's `kid` header selects it. */
export type KeyConfig = SecretKeyConfig | PublicKeyConfig;

/** An app: its id (the first part of its room names), its keys, and its webhooks (see webhook-config.ts). */
export interface AppConfig {
  id: string;
  keys: KeyConfig[];
  webhooks?: WebhookConfig[];
  /** When set, user and app tokens must carry a matching `aud` claim. */
  audience?: string | string[];
  /** When set, user and app tokens must carry a matching `iss` claim. */
  issuer?: string | string[];
  /**
   * Token ids (`jti`) refused for this app (tokens known to be compromised): at connect, at an in-band refresh,
   * on the business API, and, at a reload, on open connections. Per app because a `jti` is unique only per
   * issuer (RFC 7519), and each app is its own issuer. Reloadable.
   */
  denyTokenIds?: string[];
}

/** Whether durable writes are flushed to the disk: `batch` = one fsync per group of appends. */
export type FsyncPolicy = "batch" | "off";

/** The validated relay configuration. */
export interface RelayConfig {
  /** TCP port; 0 picks a free one. Default 8080. */
  port: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host: string;
  /** Directory of the file store. Default `./.data` (relative to the working directory). */
  dataDir: string;
  /** `batch` (default): group commit with fsync, survives power loss; `off`: write() only, survives SIGKILL. */
  fsync: FsyncPolicy;
  /** Where documents live: the file store under `dataDir` (default) or PostgreSQL (see storage-config.ts). */
  storage: StorageConfig;
  /** Several relay nodes on PostgreSQL and Redis (see cluster-config.ts); `null` (default): one relay. */
  cluster: ClusterConfig | null;
  apps: AppConfig[];
  /** How long a room stays in memory after its last client left, in ms. Default 5,000. */
  roomGraceMs: number;
  /**
   * How long a room whose clients are connected but quiet keeps its document in memory, in ms (it hibernates
   * after: core/hibernation.ts). Default 30,000; 0 never hibernates.
   */
  roomHibernateMs: number;
  /** Size, rate, connection and liveness limits (see limits.ts and the README's "Limits" table). */
  limits: Limits;
  /** Accepted clock skew for token `exp` / `nbf` / `iat`, in seconds. Default 30. */
  clockToleranceS: number;
  /** Longest accepted user-token lifetime (`exp − iat`, `exp − now`), in seconds. Default 86,400 (24 h). */
  maxTokenLifetimeS: number;
  /** Default `info`. */
  logLevel: LogLevel;
  /**
   * Prometheus metrics at `GET /metrics` (counts only: no room names or user ids). Default enabled, without a
   * token; set `token` to require `Authorization: Bearer <token>`, or `enabled: false` to serve nothing.
   */
  metrics: { enabled: boolean; token: string | null };
  /**
   * The operator's admin endpoints (`POST /v1/admin/reload`): `Authorization: Bearer <token>`. Default `null`:
   * they answer 403. Reloadable (a reload can rotate it). Env: `PARLEY_ADMIN_TOKEN`.
   */
  admin: { token: string | null };
}

const KID = /^[\x21-\x7e]{1,128}$/;
/** Most token ids a denylist holds per app; kept in memory as a set. */
export const MAX_DENIED_TOKEN_IDS = 100_000;
/** Longest accepted `jti` in a denylist. */
const MAX_TOKEN_ID_CHARS = 256;

function fail(path: string, message: string): never {
  throw new InvalidArgumentError(`config.${path}`, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function integer(raw: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function text(raw: Record<string, unknown>, key: string, fallback: string): string {
  const value = raw[key] ?? fallback;
  if (typeof value !== "string" || value.length === 0) fail(key, "must be a non-empty string");
  return value;
}

function parseKey(raw: unknown, path: string): KeyConfig {
  if (!isObject(raw)) fail(path, "must be an object");
  const { kid, alg } = raw;
  if (typeof kid !== "string" || !KID.test(kid)) fail(`${path}.kid`, "must be 1-128 printable ASCII characters");
  if (alg === "HS256") {
    assertKnownKeys(raw, ["kid", "alg", "secret"], path);
    if (typeof raw.secret !== "string" || raw.secret.length < 32) {
      fail(`${path}.secret`, "must be a string of at least 32 characters");
    }
    return { kid, alg, secret: raw.secret };
  }
  if (alg === "RS256" || alg === "ES256") {
    assertKnownKeys(raw, ["kid", "alg", "publicKey"], path);
    const publicKey = raw.publicKey;
    if (typeof publicKey === "string") {
      if (!publicKey.includes("-----BEGIN PUBLIC KEY-----")) fail(`${path}.publicKey`, "must be an SPKI PEM or a JWK");
      return { kid, alg, publicKey };
    }
    if (!isObject(publicKey) || typeof publicKey.kty !== "string") {
      fail(`${path}.publicKey`, "must be an SPKI PEM string or a JWK object");
    }
    if ("d" in publicKey) fail(`${path}.publicKey`, "is a private key; give the relay the public key only");
    return { kid, alg, publicKey: publicKey as JWK };
  }
  return fail(`${path}.alg`, 'must be "HS256", "RS256" or "ES256"');
}

function parseTokenIds(raw: unknown, path: string): string[] {
  if (!Array.isArray(raw)) fail(path, "must be an array of token ids (jti)");
  if (raw.length > MAX_DENIED_TOKEN_IDS) fail(path, `holds at most ${MAX_DENIED_TOKEN_IDS} token ids`);
  for (const [i, id] of raw.entries()) {
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_TOKEN_ID_CHARS) {
      fail(`${path}[${i}]`, `must be a string of 1 to ${MAX_TOKEN_ID_CHARS} characters`);
    }
  }
  return raw as string[];
}

function parseApp(raw: unknown, path: string): AppConfig {
  if (!isObject(raw)) fail(path, "must be an object");
  assertKnownKeys(raw, APP_KEYS, path);
  assertAppId(raw.id, `config.${path}.id`);
  if (!Array.isArray(raw.keys) || raw.keys.length === 0) fail(`${path}.keys`, "must be a non-empty array");
  const app: AppConfig = {
    id: raw.id as string,
    keys: raw.keys.map((key, i) => parseKey(key, `${path}.keys[${i}]`)),
    webhooks: parseWebhooks(raw.webhooks, path),
  };
  for (const claim of ["audience", "issuer"] as const) {
    const value = raw[claim];
    if (value === undefined) continue;
    const valid =
      (typeof value === "string" && value !== "") ||
      (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" && v !== ""));
    if (!valid) fail(`${path}.${claim}`, "must be a non-empty string or array of strings");
    app[claim] = value as string | string[];
  }
  if (raw.denyTokenIds !== undefined) app.denyTokenIds = parseTokenIds(raw.denyTokenIds, `${path}.denyTokenIds`);
  return app;
}

/** Keys of an app object. */
const APP_KEYS = ["id", "keys", "webhooks", "audience", "issuer", "denyTokenIds"];
/** Top-level keys of the configuration. */
const CONFIG_KEYS = [
  "port",
  "host",
  "dataDir",
  "fsync",
  "storage",
  "cluster",
  "apps",
  "roomGraceMs",
  "roomHibernateMs",
  "limits",
  "maxFrameBytes",
  "clockToleranceS",
  "maxTokenLifetimeS",
  "logLevel",
  "metrics",
  "admin",
];

function parseMetrics(raw: unknown): RelayConfig["metrics"] {
  if (raw === undefined) return { enabled: true, token: null };
  if (!isObject(raw)) fail("metrics", "must be an object");
  assertKnownKeys(raw, ["enabled", "token"], "metrics");
  const enabled = raw.enabled ?? true;
  if (typeof enabled !== "boolean") fail("metrics.enabled", "must be true or false");
  const token = raw.token ?? null;
  if (token !== null && (typeof token !== "string" || token.length < 16)) {
    fail("metrics.token", "must be a string of at least 16 characters");
  }
  return { enabled, token };
}

/** Shortest admin token: it can reload the relay's keys, so it must not be guessable. */
export const MIN_ADMIN_TOKEN_CHARS = 32;

function parseAdmin(raw: unknown): RelayConfig["admin"] {
  if (raw === undefined) return { token: null };
  if (!isObject(raw)) fail("admin", "must be an object");
  assertKnownKeys(raw, ["token"], "admin");
  const token = raw.token ?? null;
  if (token !== null && (typeof token !== "string" || token.length < MIN_ADMIN_TOKEN_CHARS)) {
    fail("admin.token", `must be a string of at least ${MIN_ADMIN_TOKEN_CHARS} characters`);
  }
  return { token };
}

/** Validates a raw configuration object and fills in defaults. Throws {@link InvalidArgumentError}. */
export function parseConfig(raw: unknown): RelayConfig {
  if (!isObject(raw)) fail("", "must be a JSON object");
  assertKnownKeys(raw, CONFIG_KEYS, "");
  if (!Array.isArray(raw.apps)) fail("apps", "must be an array of apps");
  const apps = raw.apps.map((app, i) => parseApp(app, `apps[${i}]`));
  const appIds = new Set<string>();
  for (const [i, app] of apps.entries()) {
    if (appIds.has(app.id)) fail(`apps[${i}].id`, `duplicates app "${app.id}"`);
    appIds.add(app.id);
    // Kids are scoped per app (apps pick their own; the room names the app), unique within one.
    const kids = new Set<string>();
    for (const key of app.keys) {
      if (kids.has(key.kid)) fail(`apps[${i}].keys`, `kid "${key.kid}" is used twice`);
      kids.add(key.kid);
    }
  }
  const fsync = raw.fsync ?? "batch";
  if (fsync !== "batch" && fsync !== "off") fail("fsync", 'must be "batch" or "off"');
  const logLevel = raw.logLevel ?? "info";
  if (logLevel !== "debug" && logLevel !== "info" && logLevel !== "warn" && logLevel !== "error") {
    fail("logLevel", 'must be "debug", "info", "warn" or "error"');
  }
  const storage = parseStorageConfig(raw.storage);
  return {
    port: integer(raw, "port", 8080, 0, 65535),
    host: text(raw, "host", "127.0.0.1"),
    dataDir: text(raw, "dataDir", "./.data"),
    fsync,
    storage,
    cluster: parseClusterConfig(raw.cluster, storage.kind),
    apps,
    roomGraceMs: integer(raw, "roomGraceMs", 5_000, 0, 3_600_000),
    roomHibernateMs: integer(raw, "roomHibernateMs", 30_000, 0, 86_400_000),
    // A top-level maxFrameBytes is the spelling from before limits had their own object.
    limits: parseLimits(raw.limits, raw.maxFrameBytes),
    clockToleranceS: integer(raw, "clockToleranceS", 30, 0, 600),
    maxTokenLifetimeS: integer(raw, "maxTokenLifetimeS", 24 * 3600, 60, 366 * 24 * 3600),
    logLevel,
    metrics: parseMetrics(raw.metrics),
    admin: parseAdmin(raw.admin),
  };
}

/**
 * Reads the config file and applies the environment: `PARLEY_CONFIG` (file path, if `path` is not given),
 * `PARLEY_PORT`, `PARLEY_HOST`, `PARLEY_DATA_DIR`, `PARLEY_STORAGE_URL`, `PARLEY_STORAGE_SCHEMA`,
 * `PARLEY_ADMIN_TOKEN` (the admin token, so it need not be in the file), and `PARLEY_CLUSTER_REDIS`,
 * `PARLEY_CLUSTER_NODE_ID`, `PARLEY_CLUSTER_ADVERTISE`, `PARLEY_CLUSTER_SECRET`.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const file = path ?? env.PARLEY_CONFIG;
  if (!file) throw new InvalidArgumentError("config", "give a config file with --config <path> or PARLEY_CONFIG");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InvalidArgumentError("config", `cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the error, which may be a secret: only its position is repeated.
    const where = /position \d+( \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new InvalidArgumentError("config", `${file} is not valid JSON${where === undefined ? "" : ` (at ${where})`}`);
  }
  if (!isObject(raw)) fail("", "must be a JSON object");
  const merged: Record<string, unknown> = { ...raw };
  if (env.PARLEY_PORT !== undefined) {
    const port = Number(env.PARLEY_PORT);
    if (env.PARLEY_PORT.trim() === "" || !Number.isInteger(port)) {
      throw new InvalidArgumentError("PARLEY_PORT", "must be an integer");
    }
    merged.port = port;
  }
  if (env.PARLEY_HOST) merged.host = env.PARLEY_HOST;
  if (env.PARLEY_DATA_DIR) merged.dataDir = env.PARLEY_DATA_DIR;
  if (env.PARLEY_ADMIN_TOKEN) {
    merged.admin = { ...(isObject(merged.admin) ? merged.admin : {}), token: env.PARLEY_ADMIN_TOKEN };
  }
  const storage = storageFromEnv(merged.storage, env);
  if (storage !== undefined) merged.storage = storage;
  const cluster = clusterFromEnv(merged.cluster, env);
  if (cluster !== undefined) merged.cluster = cluster;
  return parseConfig(merged);
}
