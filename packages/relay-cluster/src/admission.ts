/**
 * The relay's admission counters (`AdmissionBackend` of `@parley/relay`) shared by the nodes through Redis,
 * so `connectionsPerIp`, `connectionsPerUser`, `connectsPerMinutePerIp` and `newAnonymousPerHourPerIp` are
 * limits of the cluster instead of each node.
 *
 * Open connections: a hash per key, `<prefix>slots:<kind>:<key>`, field = holder, value = slots it holds.
 * A holder is one incarnation of a node (`<nodeId>.<random>`) whose heartbeat key `<prefix>holder:<holder>`
 * lives three beats; taking a slot (one Lua script, so two nodes cannot both take the last one) first drops
 * the fields of holders whose heartbeat is gone. So a node that dies holding slots gives them back three
 * beats later, without anyone releasing them.
 *
 * Rates: a token bucket per key in a hash (`<prefix>rate:<kind>:<key>`, Redis's clock, so the nodes' clocks
 * need not agree), and for new anonymous identities a key per (address, identity) counted within the hour.
 *
 * Redis away (not connected, an error, no answer within 1 s): this node counts in its own memory instead
 * (the per-node limits of a single relay), logs it once, and when Redis answers again starts a new holder
 * that writes every slot this node holds (the old holder's fields die with its heartbeat); the same when a
 * heartbeat finds its key gone (a FLUSHALL, a Redis restart). So an outage makes the limits looser for a
 * while, never stricter: nobody is locked out.
 *
 * The scripts name keys they build from `ARGV` (the holders' heartbeats): fine on one Redis server, not on a
 * Redis Cluster, which Parley does not use.
 */
import type { AdmissionBackend, Logger, Rate, RateKind, SlotKind } from "@parley/relay";
import { LocalAdmission } from "@parley/relay";
import { createClient } from "redis";

/** Options of {@link RedisAdmission}. */
export interface RedisAdmissionOptions {
  /** `redis://` URL. */
  url: string;
  /** Prefix of every key. */
  keyPrefix: string;
  /** This node's id (the holder is this plus a random suffix per incarnation). */
  nodeId: string;
  /** Time between heartbeats, in ms; a holder's slots are given back three beats after its last one. */
  heartbeatMs: number;
  logger: Logger;
}

/**
 * How long a slot hash lives after its last take or release. Bounds what holders that all died leave
 * behind; a slot held longer than this with no other activity on its key is forgotten (looser, not stricter).
 */
const SLOTS_TTL_MS = 86_400_000;

/** KEYS[1] slots hash; ARGV: holder, limit, holder key prefix, hash TTL. 1 if taken, 0 if full. */
const TAKE_SLOT = `
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local holder = fields[i]
  if holder ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. holder) == 0 then
    redis.call('HDEL', KEYS[1], holder)
  else
    total = total + tonumber(fields[i + 1])
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** KEYS[1] slots hash; ARGV: holder. */
const RELEASE_SLOT = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

/**
 * KEYS[1] bucket; KEYS[2] (optional) the member's "counted" key; ARGV: capacity, refill per ms, window ms.
 * 1 if within the rate (or the member was counted within the window), 0 if not. A refusal takes nothing.
 */
const TAKE_EVENT = `
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * perMs)
if tokens < 1 then return 0 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / perMs) + 1000)
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
return 1`;

/** Counts admissions across the cluster in Redis; see the top of this file. */
export class RedisAdmission implements AdmissionBackend {
  private readonly client;
  /** Every slot this node holds, wherever it was counted: the fallback's counts, and what a new holder writes. */
  private readonly local: LocalAdmission;
  private holder: string;
  /** Redis may disagree with {@link RedisAdmission.local}: a command failed, or this node counted alone. */
  private dirty = false;
  private healthy = true;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: RedisAdmissionOptions,
    now: () => number = () => performance.now(),
  ) {
    this.local = new LocalAdmission(now);
    this.holder = newHolder(options.nodeId);
    this.client = createClient({
      url: options.url,
      // A command issued while disconnected fails at once: this node then counts alone.
      disableOfflineQueue: true,
      commandOptions: { timeout: 1_000 },
      socket: { connectTimeout: 2_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2_000) },
    });
    this.client.on("error", (error: unknown) => this.trouble(error));
    this.client.on("ready", () => {
      // Whatever happened while Redis was away, a new holder writes this node's slots from scratch.
      this.dirty = true;
      void this.beat();
    });
  }

  /** Connects (waiting at most `waitMs`: a node also starts without Redis) and starts the heartbeat. */
  async start(waitMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const connected = this.client.connect().then(
      () => true,
      (error: unknown) => {
        this.trouble(error);
        return false;
      },
    );
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    if (await Promise.race([connected, waited])) await this.beat();
    clearTimeout(timer);
    this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Stops the heartbeat, ends this holder (its slots were given back as the relay closed) and disconnects. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.attempt(() => this.client.del(this.holderKey(this.holder)));
    await this.client.close().catch(() => {});
  }

  /**
   * Stops counting without giving anything back, as a node that died would: the heartbeat stops and the
   * connection drops. For tests of what the other nodes see.
   */
  abandon(): void {
    clearInterval(this.heartbeat);
    this.client.destroy();
  }

  async takeSlot(kind: SlotKind, key: string, limit: number): Promise<(() => void) | null> {
    const slots = this.key("slots", kind, key);
    const taken = await this.attempt(() =>
      this.client.eval(TAKE_SLOT, {
        keys: [slots],
        arguments: [this.holder, String(limit), this.holderKey(""), String(SLOTS_TTL_MS)],
      }),
    );
    if (taken === 0) return null;
    // Taken in Redis, or (Redis away) counted against this node's own limit.
    const release =
      taken === 1
        ? this.local.takeSlotNow(kind, key, Number.POSITIVE_INFINITY)
        : this.local.takeSlotNow(kind, key, limit);
    if (release === null) return null;
    return once(() => {
      release();
      void this.attempt(() => this.client.eval(RELEASE_SLOT, { keys: [slots], arguments: [this.holder] }));
    });
  }

  async takeEvent(kind: RateKind, key: string, rate: Rate): Promise<boolean> {
    const taken = await this.attempt(() =>
      this.client.eval(TAKE_EVENT, {
        keys: [this.key("rate", kind, key)],
        arguments: [String(rate.capacity), String(rate.perSecond / 1000), "0"],
      }),
    );
    return taken === undefined ? this.local.takeEventNow(kind, key, rate) : taken === 1;
  }

  async takeFirst(kind: RateKind, key: string, member: string, rate: Rate, windowMs: number): Promise<boolean> {
    const taken = await this.attempt(() =>
      this.client.eval(TAKE_EVENT, {
        keys: [this.key("rate", kind, key), this.key("counted", kind, `${key}\n${member}`)],
        arguments: [String(rate.capacity), String(rate.perSecond / 1000), String(windowMs)],
      }),
    );
    return taken === undefined ? this.local.takeFirstNow(kind, key, member, rate, windowMs) : taken === 1;
  }

  /** Keeps this holder alive; after trouble, replaces it with a new one that holds exactly this node's slots. */
  private async beat(): Promise<void> {
    const ttl = String(this.options.heartbeatMs * 3);
    if (!this.dirty) {
      const previous = await this.probe(() =>
        this.client.set(this.holderKey(this.holder), "1", {
          expiration: { type: "PX", value: Number(ttl) },
          GET: true,
        }),
      );
      if (previous !== null) return;
      // The heartbeat was gone (Redis lost its keys, or this node stalled for three beats), and with it maybe
      // this holder's slots: write them again now.
      this.dirty = true;
    }
    if (!this.client.isReady) return;
    const old = this.holder;
    const next = newHolder(this.options.nodeId);
    this.dirty = false;
    const batch = this.client
      .multi()
      .del(this.holderKey(old))
      .set(this.holderKey(next), "1", { PX: Number(ttl) });
    for (const [slot, count] of this.local.held()) {
      const [kind, key] = slot.split("\n", 2) as [SlotKind, string];
      const slots = this.key("slots", kind, key);
      batch.hSet(slots, next, String(count)).pExpire(slots, SLOTS_TTL_MS);
    }
    // Releases from now on go to the new holder, whose counts are this node's as of this batch.
    this.holder = next;
    const done = await this.probe(() => batch.exec());
    if (done === undefined) this.dirty = true;
    else if (!this.healthy) {
      this.healthy = true;
      this.options.logger.info("redis available again: connection quotas counted across the cluster");
    }
  }

  private key(kind: "slots" | "rate" | "counted", sub: string, key: string): string {
    return `${this.options.keyPrefix}${kind}:${sub}:${key}`;
  }

  private holderKey(holder: string): string {
    return `${this.options.keyPrefix}holder:${holder}`;
  }

  /**
   * Runs a command for a connection; `undefined` if Redis did not answer (then Redis and this node may
   * disagree). After a failure, none is sent until a heartbeat got through: a Redis that hangs costs one
   * connection the command timeout, not every connection.
   */
  private async attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!this.healthy) {
      this.dirty = true;
      return undefined;
    }
    return this.probe(command);
  }

  /** Runs a command whether or not Redis failed lately (the heartbeat finds out when it is back). */
  private async probe<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!this.client.isReady) {
      this.dirty = true;
      return undefined;
    }
    try {
      return await command();
    } catch (error) {
      this.dirty = true;
      this.trouble(error);
      return undefined;
    }
  }

  private trouble(error: unknown): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.options.logger.warn("redis unavailable: connection quotas counted per node until it is back", { error });
  }
}

function newHolder(nodeId: string): string {
  return `${nodeId}.${Math.random().toString(36).slice(2, 10)}`;
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
