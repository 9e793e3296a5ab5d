/**
 * The relay's limits: what one connection, user or address may cost the relay, each refused with a documented
 * close code (see the relay README's "Limits" table). Everything here is the `"limits"` object of the config,
 * validated up front; every field has a default that an honest client never reaches.
 */
import { InvalidArgumentError } from "@parley/protocol";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The validated limits. Rates are per connection unless the name says otherwise. */
export interface Limits {
  /** Largest update or other frame, in bytes (4413). Default 1 MiB. */
  maxFrameBytes: number;
  /**
   * Largest sync step 1 or step 2 frame, in bytes (4413). A step 2 carries everything a client wrote
   * offline (or a whole login merge), so it gets its own, larger bound. Default 32 MiB (at least `maxFrameBytes`).
   */
  maxSyncBytes: number;
  /** Largest awareness (presence) frame, in bytes (4413). Default 64 KiB. */
  maxAwarenessBytes: number;
  /** Updates and other non-sync, non-awareness frames per second (4529). Default 1,000. */
  messagesPerSecond: number;
  /** How many such frames may come at once. Default 5,000. */
  messageBurst: number;
  /** Bytes of such frames per second (4529). Default 4 MiB. */
  bytesPerSecond: number;
  /** How many such bytes may come at once. Default 16 MiB (at least `maxFrameBytes`). */
  byteBurst: number;
  /** Awareness frames per second (4529): their own, smaller budget. Default 20. */
  awarenessPerSecond: number;
  /** How many awareness frames may come at once. Default 100. */
  awarenessBurst: number;
  /**
   * Sync step 1 and step 2 frames per minute after the first `syncBurst` (4529). A step 1 with an empty
   * state vector makes the relay encode the whole document. Default 10.
   */
  syncsPerMinute: number;
  /** Sync frames that may come at once; a session's own step 1 and step 2 fit. Default 4. */
  syncBurst: number;
  /**
   * New Yjs clientIDs a connection may introduce per minute, and at once (4529): each one is a lasting
   * entry of the document's `owners` map. An honest client uses one per session. Default 32.
   */
  newClientIdsPerMinute: number;
  /**
   * New Yjs clientIDs one sync step 2 may introduce (4529). A step 2 carries every session a client had
   * offline, each with its own clientID, so it has its own, larger bound than updates. Default 256.
   */
  maxNewClientIdsPerSync: number;
  /**
   * New Yjs clientIDs per document per minute, over all its connections (4529): `owners` entries are
   * permanent, so many connections may not grow a document without bound. Default 60.
   */
  newClientIdsPerDocumentPerMinute: number;
  /** New Yjs clientIDs a document may take at once. Default 1,000 (at least `maxNewClientIdsPerSync`). */
  newClientIdsPerDocumentBurst: number;
  /**
   * Bytes of large sync replies (over `maxFrameBytes`) queued to sockets and not yet written, relay-wide
   * (4529 "relay busy" beyond it; a reply alone always goes). Each connection has at most one such reply
   * in flight; one more sync step 1 waits for it, a further one is refused (4529). Default 256 MiB.
   */
  maxQueuedReplyBytes: number;
  /** New connections per minute from one address (4529); also the burst. Default 600. */
  connectsPerMinutePerIp: number;
  /** New connections per minute to one room (4529); also the burst. Default 120. */
  connectsPerMinutePerRoom: number;
  /**
   * New anonymous identities (anonymous rooms that hold nothing yet) one address may open per hour (4529);
   * also the burst. Default 100.
   */
  newAnonymousPerHourPerIp: number;
  /**
   * Webhook deliveries one app may have outstanding (waiting or in flight, all its endpoints); events beyond
   * it are dropped and logged, so one app's dead endpoint cannot grow the outbox without bound. Default 10,000.
   */
  maxWebhookDeliveriesPerApp: number;
  /** Open connections per user or anonymous user (4530). Default 100. */
  connectionsPerUser: number;
  /** Open connections per remote address (4530). Default 10,000. */
  connectionsPerIp: number;
  /**
   * Take the remote address from the last `x-forwarded-for` entry (the one your reverse proxy appended).
   * Only set it behind a proxy that always sets the header: otherwise clients choose their address. Default false.
   */
  trustProxy: boolean;
  /** Ping interval in ms; a connection that has not answered the previous ping closes with 4532. 0 = off. Default 30,000. */
  pingIntervalMs: number;
  /** A connection that sends no frame for this long closes with 4532. 0 = off. Default 30 minutes. */
  idleTimeoutMs: number;
  /**
   * Outgoing bytes a connection may have waiting before it is closed with 4532 as too slow to keep up. Frames
   * over `maxFrameBytes` (sync replies, forwarded sync steps) do not count while they are being written.
   * Default 16 MiB.
   */
  maxBufferedBytes: number;
  /**
   * Origins allowed to connect (exact `Origin` header values); others close with 4406. `null`: any. A request
   * without an Origin (not a browser) is allowed: such a client could send any Origin it liked. Default null.
   */
  allowedOrigins: string[] | null;
  /** Longest accepted `token` parameter, in bytes (4401). Default 8 KiB. */
  maxTokenBytes: number;
}

/** The defaults of every limit. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: MiB,
  maxSyncBytes: 32 * MiB,
  maxAwarenessBytes: 64 * KiB,
  messagesPerSecond: 1_000,
  messageBurst: 5_000,
  bytesPerSecond: 4 * MiB,
  byteBurst: 16 * MiB,
  awarenessPerSecond: 20,
  awarenessBurst: 100,
  syncsPerMinute: 10,
  syncBurst: 4,
  newClientIdsPerMinute: 32,
  maxNewClientIdsPerSync: 256,
  newClientIdsPerDocumentPerMinute: 60,
  newClientIdsPerDocumentBurst: 1_000,
  maxQueuedReplyBytes: 256 * MiB,
  connectsPerMinutePerIp: 600,
  connectsPerMinutePerRoom: 120,
  newAnonymousPerHourPerIp: 100,
  maxWebhookDeliveriesPerApp: 10_000,
  connectionsPerUser: 100,
  connectionsPerIp: 10_000,
  trustProxy: false,
  pingIntervalMs: 30_000,
  idleTimeoutMs: 30 * 60_000,
  maxBufferedBytes: 16 * MiB,
  allowedOrigins: null,
  maxTokenBytes: 8 * KiB,
});

/** Upper bounds that keep every limit bounded (and every timer below Node's 2^31-1 ms). */
const CEILING: Record<Exclude<keyof Limits, "trustProxy" | "allowedOrigins">, [min: number, max: number]> = {
  maxFrameBytes: [1 * KiB, 256 * MiB],
  maxSyncBytes: [1 * KiB, 1024 * MiB],
  maxAwarenessBytes: [256, 16 * MiB],
  messagesPerSecond: [1, 1_000_000],
  messageBurst: [1, 10_000_000],
  bytesPerSecond: [1 * KiB, 1024 * MiB],
  byteBurst: [1 * KiB, 4096 * MiB],
  awarenessPerSecond: [1, 1_000_000],
  awarenessBurst: [1, 10_000_000],
  syncsPerMinute: [1, 1_000_000],
  syncBurst: [2, 10_000],
  newClientIdsPerMinute: [1, 1_000_000],
  maxNewClientIdsPerSync: [1, 1_000_000],
  newClientIdsPerDocumentPerMinute: [1, 1_000_000],
  newClientIdsPerDocumentBurst: [1, 10_000_000],
  maxQueuedReplyBytes: [1 * MiB, 64 * 1024 * MiB],
  connectsPerMinutePerIp: [1, 10_000_000],
  connectsPerMinutePerRoom: [1, 10_000_000],
  newAnonymousPerHourPerIp: [1, 10_000_000],
  maxWebhookDeliveriesPerApp: [1, 100_000_000],
  connectionsPerUser: [1, 1_000_000],
  connectionsPerIp: [1, 10_000_000],
  pingIntervalMs: [0, 24 * 3_600_000],
  idleTimeoutMs: [0, 24 * 3_600_000],
  maxBufferedBytes: [64 * KiB, 4096 * MiB],
  maxTokenBytes: [1 * KiB, 64 * KiB],
};

function fail(key: string, message: string): never {
  throw new InvalidArgumentError(`config.limits.${key}`, message);
}

/**
 * Validates the `"limits"` object of the config and fills in defaults. `legacyMaxFrameBytes` is the
 * top-level `maxFrameBytes` of configs written before limits had their own object. Throws
 * {@link InvalidArgumentError} naming the bad field.
 */
export function parseLimits(raw: unknown, legacyMaxFrameBytes?: unknown): Limits {
  if (raw !== undefined && (raw === null || typeof raw !== "object" || Array.isArray(raw))) {
    throw new InvalidArgumentError("config.limits", "must be an object");
  }
  const given: Record<string, unknown> = { ...(raw as Record<string, unknown> | undefined) };
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_LIMITS) && !key.startsWith("//")) fail(key, "is not a known limit");
  }
  if (given.maxFrameBytes === undefined && legacyMaxFrameBytes !== undefined) given.maxFrameBytes = legacyMaxFrameBytes;
  const limits: Record<string, unknown> = { ...DEFAULT_LIMITS };
  for (const [key, [min, max]] of Object.entries(CEILING)) {
    const value = given[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      fail(key, `must be an integer from ${min} to ${max}`);
    }
    limits[key] = value;
  }
  const parsed = limits as unknown as Limits;
  // Sync and burst bounds follow a raised frame limit unless they were given.
  if (given.maxSyncBytes === undefined) parsed.maxSyncBytes = Math.max(parsed.maxSyncBytes, parsed.maxFrameBytes);
  if (given.byteBurst === undefined) parsed.byteBurst = Math.max(parsed.byteBurst, parsed.maxFrameBytes);
  if (parsed.maxSyncBytes < parsed.maxFrameBytes) fail("maxSyncBytes", "must be at least maxFrameBytes");
  if (parsed.byteBurst < parsed.maxFrameBytes) fail("byteBurst", "must be at least maxFrameBytes");
  if (given.newClientIdsPerDocumentBurst === undefined) {
    parsed.newClientIdsPerDocumentBurst = Math.max(parsed.newClientIdsPerDocumentBurst, parsed.maxNewClientIdsPerSync);
  }
  if (given.trustProxy !== undefined) {
    if (typeof given.trustProxy !== "boolean") fail("trustProxy", "must be true or false");
    parsed.trustProxy = given.trustProxy;
  }
  if (given.allowedOrigins !== undefined && given.allowedOrigins !== null) {
    const origins = given.allowedOrigins;
    if (
      !Array.isArray(origins) ||
      !origins.every((o) => typeof o === "string" && /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(o))
    ) {
      fail("allowedOrigins", 'must be null or an array of origins like "https://app.example.com"');
    }
    parsed.allowedOrigins = [...(origins as string[])];
  }
  return parsed;
}
