/**
 * A room: one loaded conversation document, the connections on it, and its write path.
 *
 * Every change to the document — a checked client update or a relay-authored change — goes through one
 * Yjs `update` handler that appends it to storage (write-path.ts) and, once the append is durable, forwards
 * it to the other connections (see `onUpdate` for why forwarding waits) and acknowledges it with the
 * durable state vector. Acks are coalesced: one frame per connection per batch.
 */
import {
  type ClientInfo,
  CloseCode,
  type CloseReasonOf,
  encodeRecent,
  encodeStored,
  FencedError,
  InvalidStateError,
  MAX_TAIL,
  MessageType,
  messagesOf,
  newestMessages,
  ownersOf,
  RELAY_OWNER,
  type RoomRef,
  readPositions,
  StorageError,
} from "@parley/protocol";
import * as encoding from "lib0/encoding";
import * as random from "lib0/random";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { checkUpdate, type Verdict } from "../authorship/authorship.js";
import type { Fence, RelayStorage } from "../storage/storage.js";
import { recordConnect, recordDisconnect } from "./client-records.js";
import type { RoomHandle } from "./extension.js";
import { fullStateOf } from "./full-state-cache.js";
import type { Logger } from "./logger.js";
import { Presence } from "./presence.js";
import { WritePath } from "./write-path.js";

/** A connection as its room sees it. */
export interface RoomPeer {
  readonly clientId: string;
  /** Whether it asked for `stored` frames (`acks=1`). */
  readonly wantsAcks: boolean;
  /** Whether the relay has answered its sync step 1 (acks start after that). */
  readonly synced: boolean;
  send(frame: Uint8Array): void;
  close<C extends CloseCode>(code: C, reason: CloseReasonOf<C>, detail?: string): void;
}

/** What the relay stamps on a client's record when it joins. */
export interface JoinStamp {
  info: ClientInfo;
  userAgent?: string;
}

/** Lifecycle callbacks for the registry. */
export interface RoomHooks {
  /** The room may be idle now (no peers, holds or pending writes). */
  idle(room: Room): void;
  /** The room is in use again. */
  active(room: Room): void;
  /** Storage failed; the room closed its peers and must be dropped. */
  failed(room: Room): void;
  /** A change was applied: by the client `clientId`, or by the relay (`null`). */
  changed(room: Room, update: Uint8Array, clientId: string | null): void;
  /** The durable state advanced ({@link Room.storedStateVector}). */
  stored(room: Room): void;
}

/** The origin of relay-authored transactions (echoed to every peer, the writer's own included). */
const RELAY_ORIGIN = Symbol("parley-relay");

function syncUpdateFrame(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.sync);
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** One loaded document and its connections. Create with {@link Room.load}. */
export class Room implements RoomHandle {
  /** The document. Read it freely; change it only through {@link Room.transactAsRelay}. */
  readonly doc = new Y.Doc();
  /** Presence of the connected clients (not stored): presence.ts. */
  readonly presence: Presence;
  private readonly peers = new Set<RoomPeer>();
  /** Client records still to stamp: peers whose first sync has not been answered yet. */
  private readonly joinStamps = new Map<RoomPeer, JoinStamp>();
  private holds = 0;
  private readonly writes: WritePath;
  private ackScheduled = false;
  /** The Yjs clientID the relay writes with in this load, once bound to RELAY_OWNER in `owners`. */
  private relayId: number | null = null;
  private state: "open" | "failed" | "closed" = "open";
  /** The newest {@link MAX_TAIL} messages, kept until a message changes (see {@link Room.recentFrame}). */
  private recent: ReturnType<typeof newestMessages> | undefined;

  private constructor(
    readonly name: string,
    readonly ref: RoomRef,
    storage: RelayStorage,
    private readonly hooks: RoomHooks,
    private readonly logger: Logger,
    fence: Fence,
    stored: Uint8Array[],
  ) {
    this.doc.transact(() => {
      for (const update of stored) Y.applyUpdate(this.doc, update);
    });
    this.writes = new WritePath(
      name,
      this.doc,
      storage,
      fence,
      logger,
      { failed: (error) => this.fail(error), idle: () => this.hooks.idle(this) },
      stored,
    );
    this.doc.on("update", (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction) =>
      this.onUpdate(update, origin, transaction.afterState),
    );
    this.presence = new Presence(this.doc, () => this.peers);
    messagesOf(this.doc).observe(() => {
      this.recent = undefined;
    });
  }

  /** Claims the document's write fence, then loads it fully from storage. */
  static async load(
    name: string,
    ref: RoomRef,
    storage: RelayStorage,
    hooks: RoomHooks,
    logger: Logger,
  ): Promise<Room> {
    const fence = await storage.claim(name);
    const stored = await storage.load(name);
    try {
      return new Room(name, ref, storage, hooks, logger, fence, stored);
    } catch (error) {
      throw new StorageError(`stored document ${name} cannot be read`, { cause: error });
    }
  }

  /** Whether the room is serving (not failed or unloaded). */
  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Number of connected peers. */
  get peerCount(): number {
    return this.peers.size;
  }

  /**
   * A `recent` frame with the newest `n` (≤ {@link MAX_TAIL}) messages and the read positions. The newest
   * messages are picked once per change of the messages (one linear pass) and reused by every new client.
   */
  recentFrame(n: number): Uint8Array {
    this.recent ??= newestMessages(this.doc, MAX_TAIL);
    return encodeRecent({ messages: this.recent.slice(-n), reads: readPositions(this.doc) });
  }

  /** The state vector of what is durably stored. */
  storedStateVector(): Uint8Array {
    return Y.encodeStateVector(this.writes.durableStateVector);
  }

  /**
   * Applies a relay-authored change: `change` runs in a transaction, the result is forwarded to every
   * connected client, and the promise resolves once it is durably stored (rejects with a StorageError
   * if it could not be). Resolves at once, after earlier writes are durable, if `change` changes nothing.
   */
  async transactAsRelay(change: (doc: Y.Doc) => void): Promise<void> {
    if (this.state !== "open") throw new InvalidStateError(`room ${this.name} is closed`);
    const release = this.hold();
    try {
      this.bindRelay([]);
      this.doc.transact(() => change(this.doc), RELAY_ORIGIN);
      await this.writes.durableSoFar();
      if (!this.isOpen) throw new StorageError(`room ${this.name} failed to store`);
    } finally {
      release();
    }
  }

  /**
   * Checks an update from a peer against the authorship rules and, if it passes, applies it. The Yjs
   * clientIDs it introduces are bound to the peer's client id first, in a relay transaction, so the
   * binding is stored no later than the structs it covers. Nothing of a refused update is applied.
   */
  applyClientUpdate(update: Uint8Array, peer: RoomPeer): Verdict {
    const verdict = checkUpdate(this.doc, update, { clientId: peer.clientId }, Date.now());
    if (!verdict.ok) return verdict;
    if (verdict.newOwners.length > 0) {
      this.bindRelay(verdict.newOwners);
      this.doc.transact(() => {
        const owners = ownersOf(this.doc);
        for (const id of verdict.newOwners) owners.set(String(id), peer.clientId);
      }, RELAY_ORIGIN);
    }
    Y.applyUpdate(this.doc, update, peer);
    return verdict;
  }

  /** Presence states of the connected clients (the relay's own local state speaks for the business). */
  get awareness(): Presence["awareness"] {
    return this.presence.awareness;
  }

  /**
   * Adds a peer. Its client record is stamped by {@link Room.recordJoin} once its first sync is answered:
   * written now, the record would be part of that reply, and the reply waits for what it carries to be
   * durable — every join would wait for a disk write (and change the document the cached full state of
   * full-state-cache.ts is shared from).
   */
  join(peer: RoomPeer, stamp: JoinStamp): void {
    this.peers.add(peer);
    this.joinStamps.set(peer, stamp);
    this.presence.join(peer);
    this.hooks.active(this);
  }

  /** Stamps the client record of a peer that joined (once; after its first sync reply went out). */
  recordJoin(peer: RoomPeer): void {
    const stamp = this.joinStamps.get(peer);
    if (stamp === undefined || this.state !== "open") return;
    this.joinStamps.delete(peer);
    this.transactAsRelay((doc) => recordConnect(doc, { clientId: peer.clientId, ...stamp }, Date.now())).catch(
      (error) => this.logger.warn("client record not stored", { room: this.name, error }),
    );
  }

  /** Removes a peer, its presence, and stamps `lastSeen` (and `active: false` after a logout). */
  leave(peer: RoomPeer, loggedOut = false): void {
    if (!this.peers.delete(peer)) return;
    this.joinStamps.delete(peer);
    this.presence.leave(peer);
    if (this.state === "open") {
      this.transactAsRelay((doc) => recordDisconnect(doc, peer.clientId, Date.now(), loggedOut)).catch((error) =>
        this.logger.warn("client record not stored", { room: this.name, error }),
      );
    }
    this.hooks.idle(this);
  }

  /** Closes every peer (optionally except one) with a code, and records them as gone at once. */
  closePeers<C extends CloseCode>(code: C, reason: CloseReasonOf<C>, detail = "", except?: RoomPeer): void {
    for (const peer of [...this.peers]) {
      if (peer === except) continue;
      peer.close(code, reason, detail);
      // Not waiting for the close handshake: a shutdown stores `lastSeen` before storage closes.
      this.leave(peer);
    }
  }

  /** Keeps the room loaded until the returned function is called. */
  hold(): () => void {
    this.holds++;
    this.hooks.active(this);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.hooks.idle(this);
    };
  }

  /** Whether nothing uses the room: no peers, no holds, no writes in flight. */
  isIdle(): boolean {
    return this.peers.size === 0 && this.holds === 0 && !this.writes.busy;
  }

  /**
   * The update a peer with `stateVector` lacks, resolved once all of it is durable: it is taken now and
   * handed out after the appends issued so far have landed, so a sync reply never carries what the relay
   * could still lose (see `onUpdate`). Later changes reach the peer as forwarded updates. Rejects with a
   * StorageError if those appends fail.
   */
  async durableUpdateSince(stateVector: Uint8Array): Promise<Uint8Array> {
    const update = fullStateOf(this.doc).updateSince(stateVector);
    await this.writes.durableSoFar();
    if (!this.isOpen) throw new InvalidStateError(`room ${this.name} is closed`);
    return update;
  }

  /** Waits until every write issued so far has settled. */
  async settled(): Promise<void> {
    await this.writes.settled();
  }

  /** Frees the document. The registry calls this when it unloads the room. */
  destroy(): void {
    if (this.state === "open") this.state = "closed";
    this.presence.destroy();
    this.doc.destroy();
  }

  /**
   * Appends a change and forwards it once it is durable. Forwarding waits for the disk on purpose: a relay
   * restarted after a crash cannot take back, from a client that is not their author, structs it had
   * forwarded but lost (they would fail the authorship check and that client could never sync again). So no
   * client ever holds what the relay could lose, except the author of it, who re-sends it.
   */
  private onUpdate(update: Uint8Array, origin: unknown, stateVector: Map<number, number>): void {
    if (this.state !== "open") return;
    const frame = syncUpdateFrame(update);
    this.hooks.changed(this, update, origin === RELAY_ORIGIN ? null : ((origin as RoomPeer | null)?.clientId ?? null));
    this.writes.append(update, stateVector, () => {
      if (this.state !== "open") return;
      for (const peer of this.peers) if (peer !== origin) peer.send(frame);
      this.hooks.stored(this);
      this.scheduleAcks();
    });
  }

  private scheduleAcks(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      if (this.state !== "open") return;
      const frame = encodeStored(this.storedStateVector());
      for (const peer of this.peers) if (peer.wantsAcks && peer.synced) peer.send(frame);
    });
  }

  private fail(error: unknown): void {
    if (this.state !== "open") return;
    this.state = "failed";
    // Nothing after the failed write may be acknowledged: drop the room and let clients resync (with the
    // relay that now holds the room, if another one claimed it).
    if (error instanceof FencedError) {
      this.logger.warn("room claimed by another writer; closing room", { room: this.name });
      this.closePeers(CloseCode.GoingAway, "room-moved", "room claimed by another writer");
    } else {
      this.logger.error("storage write failed; closing room", { room: this.name, error });
      this.closePeers(CloseCode.InternalError, "storage", "storage failure");
    }
    this.hooks.failed(this);
  }

  /**
   * Makes sure the relay writes with a Yjs clientID bound to RELAY_OWNER that nobody else owns or has
   * used: a fresh one per load (never reused across restarts, where unstored relay structs may exist on
   * clients), and a new one if Yjs ever changed `doc.clientID`. The binding is its own local transaction:
   * Yjs marks any transaction that applies an update as remote, and would then rotate the clientID.
   */
  private bindRelay(exclude: number[]): void {
    if (this.relayId !== null && this.relayId === this.doc.clientID) return;
    const owners = ownersOf(this.doc);
    const taken = (id: number) => owners.has(String(id)) || this.doc.store.clients.has(id) || exclude.includes(id);
    while (taken(this.doc.clientID)) this.doc.clientID = random.uint32();
    this.relayId = this.doc.clientID;
    this.doc.transact(() => owners.set(String(this.doc.clientID), RELAY_OWNER), RELAY_ORIGIN);
  }
}
