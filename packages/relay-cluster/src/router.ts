/**
 * Where a WebSocket upgrade is served. A room is served by the node holding its PostgreSQL lease; a node
 * that receives an upgrade for a room another node serves pipes it there (pipe.ts), so a client (or a load
 * balancer) may connect to any node.
 *
 * For an upgrade to `/v1/<room>`:
 * 1. Piped by a cluster node (signed peer header): served here, never piped again; if another node took
 *    the room meanwhile, the lease refuses it and the client reconnects (1001 `room-moved`).
 * 2. This node holds the room: served here.
 * 2b. The storage's revocations refuse it (a logged-out or merged anonymous secret, or a merge of one into
 *    another user; `isRevokedUpgrade` of `@parley/relay`): served here, where the relay refuses it (4403) after
 *    admission without loading the room, so the owner is not bothered and nobody takes the room's lease.
 * 3. The Redis cache names a live node: piped there (no PostgreSQL look-up).
 * 4. Otherwise the lease decides: nobody holds it (or this node's earlier incarnation did): served here,
 *    and loading it takes the lease. Another node holds it: piped to the address in the lease, unless that
 *    node's heartbeat is gone or it does not answer; then the router looks again every 250 ms, until the
 *    lease was taken over or ran out (a dead node's rooms move after at most the lease length) or the
 *    owner answers. Past the lease length and a margin, the upgrade gets 503 and the client retries.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { parseRoomName } from "@parley/protocol";
import {
  businessRoomOf,
  isRevokedUpgrade,
  type Logger,
  type RevocationStore,
  remoteAddress,
  type UpgradeDecision,
} from "@parley/relay";
import type { RoomOwnership } from "@parley/relay-postgres";
import { type Coordination, type OwnerAddress, parseOwner } from "./coordination.js";
import type { ClusterLeases } from "./leases.js";
import { lookupBudget } from "./lookup-budget.js";
import { signPeerAddress, verifiedPeerAddress } from "./peer-address.js";
import { pipeUpgrade } from "./pipe.js";
import { forwardRequest } from "./request-forward.js";

/** What the router needs. */
export interface RouterOptions {
  self: OwnerAddress;
  secret: string;
  leaseMs: number;
  ownership: RoomOwnership;
  coordination: Coordination;
  leases: ClusterLeases;
  /** The storage's revocations of anonymous subjects, if it offers them. */
  revocations?: RevocationStore | undefined;
  logger: Logger;
}

const PATH_PREFIX = "/v1/";
const RETRY_MS = 250;
const TAKEN: UpgradeDecision = { taken: true };

function roomOf(url: string | undefined): string | null {
  const path = (url ?? "").split("?")[0] ?? "";
  if (!path.startsWith(PATH_PREFIX)) return null;
  const room = path.slice(PATH_PREFIX.length);
  return parseRoomName(room) === null ? null : room;
}

/** Decides, per upgrade, whether this node serves it or pipes it to the room's owner. */
export class Router {
  /** The relay's `limits.trustProxy`, known once the relay starts. */
  trustProxy = false;
  /** Look-ups per client address, at the relay's `limits.connectsPerMinutePerIp` once it starts. */
  budget = lookupBudget(600);
  /**
   * Sockets being routed or piped to another node, still open. The relay's HTTP server waits for them when it
   * closes, and it does not know them (they never became its WebSockets): {@link Router.closePipes} ends them.
   */
  private readonly pipes = new Set<Duplex>();
  private closed = false;
  /** For the metrics: upgrades piped, upgrades answered 503, business requests forwarded. */
  readonly counts = { piped: 0, unroutable: 0, forwarded: 0 };

  /** Sockets being routed or piped to another node right now. */
  get openPipes(): number {
    return this.pipes.size;
  }

  constructor(private readonly options: RouterOptions) {}

  /** The relay's `onUpgrade` hook. */
  async route(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<UpgradeDecision | undefined> {
    const { secret, leases } = this.options;
    const vouched = verifiedPeerAddress(secret, request);
    if (vouched !== null) return { clientAddress: vouched };
    const room = roomOf(request.url);
    // Not a room (admission refuses it) or already here: this node answers.
    if (room === null || leases.holds(room)) return undefined;
    // Over its budget, an address is answered here, where admission refuses it over the same rate.
    if (!this.budget.take(remoteAddress(request, this.trustProxy))) return undefined;
    if (await this.revoked(request)) return undefined;
    this.pipes.add(socket);
    socket.once("close", () => this.pipes.delete(socket));
    const decision = await this.routeElsewhere(room, request, socket, head);
    // Served here after all: from now on the relay's WebSocket, closed by the relay.
    if (decision !== TAKEN) this.pipes.delete(socket);
    return decision;
  }

  private async routeElsewhere(
    room: string,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<UpgradeDecision | undefined> {
    const { secret, self, leases, coordination } = this.options;
    const peer = signPeerAddress(secret, remoteAddress(request, this.trustProxy), request);
    const cached = await coordination.cachedOwner(room);
    if (
      cached !== null &&
      cached.nodeId !== self.nodeId &&
      (await this.pipe(cached, room, request, socket, head, peer))
    ) {
      return TAKEN;
    }
    const deadline = performance.now() + this.options.leaseMs + 2_000;
    for (;;) {
      if (socket.destroyed || this.closed) {
        socket.destroy();
        return TAKEN;
      }
      const owner = await this.leaseOwner(room);
      if (owner === undefined) return undefined; // PostgreSQL trouble: loading the room here reports it
      if (owner === null || owner.nodeId === self.nodeId || leases.holds(room)) return undefined;
      const alive = await coordination.isAlive(owner.nodeId);
      if (alive !== false && (await this.pipe(owner, room, request, socket, head, peer))) return TAKEN;
      if (performance.now() > deadline) {
        this.options.logger.warn("room owner unreachable", { room, node: owner.nodeId });
        this.counts.unroutable++;
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return TAKEN;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  /**
   * The relay's `onRequest` hook: a business API request about one conversation goes to the node serving
   * its room (the cached owner if alive, else the lease holder). `false` leaves it to this node: a request
   * forwarded by a node, one about no single conversation (the list), or one about a room this node serves
   * or nobody does.
   */
  async forward(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const { secret, self, leases, coordination } = this.options;
    if (verifiedPeerAddress(secret, request) !== null) return false;
    const room = businessRoomOf((request.url ?? "").split("?")[0] ?? "");
    if (room === null || leases.holds(room)) return false;
    if (!this.budget.take(remoteAddress(request, this.trustProxy))) return false;
    const owner = (await coordination.cachedOwner(room)) ?? (await this.leaseOwner(room));
    if (owner === null || owner === undefined || owner.nodeId === self.nodeId) return false;
    const address = remoteAddress(request, this.trustProxy);
    this.options.logger.debug("request forwarded to the room's owner", { room, node: owner.nodeId });
    this.counts.forwarded++;
    await forwardRequest(owner.advertise, request, response, (nonce) =>
      signPeerAddress(secret, address, request, nonce),
    );
    return true;
  }

  /** Ends every pipe: the node is stopping (their clients reconnect through another node). */
  closePipes(): void {
    this.closed = true;
    for (const socket of this.pipes) socket.destroy();
    this.pipes.clear();
  }

  /** Whether the revocations refuse the upgrade; a failed look-up leaves the decision to the room's owner. */
  private async revoked(request: IncomingMessage): Promise<boolean> {
    const { revocations, logger } = this.options;
    if (revocations === undefined) return false;
    try {
      return await isRevokedUpgrade(revocations, request);
    } catch (error) {
      logger.warn("revocation look-up failed", { error });
      return false;
    }
  }

  /** The node whose lease on `room` is live; `null` if none, `undefined` if PostgreSQL did not answer. */
  private async leaseOwner(room: string): Promise<OwnerAddress | null | undefined> {
    try {
      const lease = await this.options.ownership.owner(room);
      return lease === null ? null : parseOwner(lease.owner);
    } catch (error) {
      this.options.logger.warn("room owner look-up failed", { room, error });
      return undefined;
    }
  }

  private async pipe(
    owner: OwnerAddress,
    room: string,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    peer: string,
  ): Promise<boolean> {
    const piped = await pipeUpgrade(owner.advertise, request, socket, head, peer);
    // Connected while the node was stopping: nothing will end this pipe later.
    if (piped && this.closed) socket.destroy();
    if (piped) {
      this.counts.piped++;
      this.options.logger.debug("upgrade piped to the room's owner", { room, node: owner.nodeId });
    }
    return piped;
  }
}
