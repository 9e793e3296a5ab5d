/**
 * What the nodes share through Redis, all of it a hint that PostgreSQL can rebuild: node heartbeats
 * (`<prefix>node:<nodeId>` = advertise address, with a TTL of three beats) and a room → owner cache
 * (`<prefix>room:<room>` = `<nodeId> <advertise>`, written when a node acquires a room, deleted when it
 * releases it), and one control message: "hand this room over if nobody uses it", published on the holder's
 * channel `<prefix>release:<nodeId>` by a node that needs the room (a login merge of an anonymous room the
 * other node still keeps for its grace period). Losing any of it (a restart, a FLUSHALL, Redis down) costs a PostgreSQL look-up or a wait
 * for a lease, never data: who serves a room is decided by its lease alone.
 *
 * Every call fails fast while Redis is away (no offline queue, short timeouts) and answers "unknown"
 * instead of throwing, so Redis trouble never blocks a connection longer than a look-up in PostgreSQL.
 */
import type { Logger } from "@parley/relay";
import { createClient } from "redis";

/** A room's owner as the cache and the lease name it: a node and where to reach it. */
export interface OwnerAddress {
  nodeId: string;
  advertise: string;
}

/** The owner string stored in the PostgreSQL lease and the cache: `<nodeId> <advertise>`. */
export function ownerString(owner: OwnerAddress): string {
  return `${owner.nodeId} ${owner.advertise}`;
}

/** Reads an owner string back; `null` if it is not one. */
export function parseOwner(value: string | null | undefined): OwnerAddress | null {
  const [nodeId, advertise, ...rest] = (value ?? "").split(" ");
  return nodeId && advertise && rest.length === 0 ? { nodeId, advertise } : null;
}

/** Options of {@link Coordination}. */
export interface CoordinationOptions {
  /** `redis://` URL. */
  url: string;
  /** Prefix of every key. */
  keyPrefix: string;
  /** This node. */
  self: OwnerAddress;
  /** Time between heartbeats, in ms; a node is dead to the others after three missed ones. */
  heartbeatMs: number;
  /**
   * Whether this node can serve its rooms now. While it cannot (PostgreSQL does not answer its lease renewals) it
   * withholds its heartbeat, so the other nodes stop routing its rooms to it and take them over once the leases run
   * out, instead of piping clients to a node that cannot load a room. Default: always.
   */
  canServe?: () => boolean;
  logger: Logger;
}

/**
 * How long a room → owner entry lives. Entries are deleted on release; this bounds what a node that died
 * leaves behind (a stale entry costs one misrouted connection, which corrects it).
 */
const ROOM_CACHE_TTL_MS = 3_600_000;

/** Deletes the cache entry only if it still names the releasing node (another may have acquired since). */
const DELETE_IF_OWNER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** The Redis side of a node: heartbeats and the room → owner cache. */
export class Coordination {
  private readonly client;
  private readonly self: string;
  private heartbeat: NodeJS.Timeout | undefined;
  private healthy = true;
  /** Whether the last beat withheld the heartbeat (see `canServe`). */
  private withheld = false;
  /** A second connection: one that subscribes can send nothing else. */
  private readonly subscriber;
  private releaseRequested: (room: string) => void = () => {};

  constructor(private readonly options: CoordinationOptions) {
    this.self = ownerString(options.self);
    this.client = createClient({
      url: options.url,
      // A command issued while disconnected fails at once instead of waiting for a reconnect.
      disableOfflineQueue: true,
      commandOptions: { timeout: 1_000 },
      socket: { connectTimeout: 2_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2_000) },
    });
    // Reconnection errors arrive here; without a listener they would crash the process.
    this.client.on("error", (error: unknown) => this.trouble("redis unavailable", error));
    this.client.on("ready", () => {
      if (!this.healthy) options.logger.info("redis available again");
      this.healthy = true;
      void this.beat();
    });
    this.subscriber = this.client.duplicate();
    this.subscriber.on("error", () => {}); // the main connection reports Redis trouble
  }

  /** Whether the Redis connection is ready for commands. */
  get ready(): boolean {
    return this.client.isReady;
  }

  /** Calls `listener` with each room another node asks this node to hand over. */
  onReleaseRequest(listener: (room: string) => void): void {
    this.releaseRequested = listener;
  }

  /** Asks `nodeId` to hand `room` over if nobody uses it there (a hint: nothing happens if Redis is away). */
  async requestRelease(nodeId: string, room: string): Promise<void> {
    await this.attempt(() => this.client.publish(this.key("release", nodeId), room));
  }

  /** Connects (waiting at most `waitMs`; a node also starts without Redis) and starts the heartbeat. */
  async start(waitMs = 2_000): Promise<void> {
    const connected = this.client.connect().then(
      () => true,
      (error: unknown) => {
        this.trouble("redis unavailable", error);
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    if (await Promise.race([connected, waited])) await this.beat();
    clearTimeout(timer);
    // In the background: the client subscribes again by itself after a reconnect.
    this.subscriber
      .connect()
      .then(() =>
        this.subscriber.subscribe(this.key("release", this.options.self.nodeId), (room: string) =>
          this.releaseRequested(room),
        ),
      )
      .catch((error: unknown) => this.trouble("redis subscription failed", error));
    this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Stops the heartbeat, removes this node's key (its rooms were released) and disconnects. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.attempt(() => this.client.del(this.key("node", this.options.self.nodeId)));
    await this.client.close().catch(() => {});
    await this.subscriber.close().catch(() => {});
  }

  /**
   * The cached owner of `room` if the cache names one and that node's heartbeat is alive; `null` when
   * the cache has nothing usable (including when Redis is away).
   */
  async cachedOwner(room: string): Promise<OwnerAddress | null> {
    const owner = parseOwner(await this.attempt(() => this.client.get(this.key("room", room))));
    if (owner === null) return null;
    return (await this.isAlive(owner.nodeId)) === true ? owner : null;
  }

  /** Whether `nodeId`'s heartbeat is alive: `true`, `false`, or `null` when Redis cannot say. */
  async isAlive(nodeId: string): Promise<boolean | null> {
    const found = await this.attempt(() => this.client.exists(this.key("node", nodeId)));
    return found === undefined ? null : found > 0;
  }

  /** Caches `owner` (default: this node) as `room`'s owner. */
  async setOwner(room: string, owner = this.self): Promise<void> {
    await this.attempt(() => this.client.set(this.key("room", room), owner, { PX: ROOM_CACHE_TTL_MS }));
  }

  /** Drops `room` from the cache if it names this node. */
  async clearOwner(room: string): Promise<void> {
    await this.attempt(() =>
      this.client.eval(DELETE_IF_OWNER, { keys: [this.key("room", room)], arguments: [this.self] }),
    );
  }

  private async beat(): Promise<void> {
    const { canServe, logger } = this.options;
    if (canServe !== undefined && !canServe()) {
      // Deleted rather than left to expire: the others stop routing here at once.
      if (!this.withheld) logger.warn("heartbeat withheld: PostgreSQL does not answer this node's lease renewals");
      this.withheld = true;
      await this.attempt(() => this.client.del(this.key("node", this.options.self.nodeId)));
      return;
    }
    if (this.withheld) logger.info("heartbeat resumed: lease renewals answered again");
    this.withheld = false;
    const ttl = this.options.heartbeatMs * 3;
    await this.attempt(() =>
      this.client.set(this.key("node", this.options.self.nodeId), this.options.self.advertise, { PX: ttl }),
    );
  }

  private key(kind: "node" | "room" | "release", name: string): string {
    return `${this.options.keyPrefix}${kind}:${name}`;
  }

  /** Runs a command; `undefined` (logged once per outage) if Redis did not answer. */
  private async attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!this.client.isReady) return undefined;
    try {
      return await command();
    } catch (error) {
      this.trouble("redis command failed", error);
      return undefined;
    }
  }

  private trouble(msg: string, error: unknown): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.options.logger.warn(msg, { error });
  }
}
