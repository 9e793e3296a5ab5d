/**
 * A room: one loaded conversation document, the connections on it, and its write path.
 *
 * Every change to the document — a checked client update, a relay-authored change, or an attested update
 * handed back after a crash — goes through one Yjs `update` handler that forwards it at once, with the
 * relay's attestation, to the connections that take attested frames, and appends it to storage
 * (write-path.ts). Once the append is durable it goes to the other connections (stock clients never hold
 * what the relay could lose), its writer gets a `stored` ack, and readers get one at most every
 * `READER_ACK_MS` (acks.ts). See `onUpdate`.
 */
import {
  CloseCode,
  type CloseReasonOf,
  encodeAttested,
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
import { Acks } from "./acks.js";
import type { Attestor } from "./attestor.js";
import { type ClaimingStorage, claimOnFirstWrite, UNCLAIMED } from "./claim-on-first-write.js";
import type { RoomHandle } from "./extension.js";
import { fullStateOf } from "./full-state-cache.js";
import { JoinRecords } from "./join-records.js";
import type { Logger } from "./logger.js";
import { Presence } from "./presence.js";
import type { JoinStamp, ParkedPeer, RoomPeer } from "./room-peer.js";
import { Redelivery } from "./room-peer.js";
import { WritePath } from "./write-path.js";

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

/** The guid of every room's document (see {@link Room.doc}). */
const ROOM_GUID = "parley-room";

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
  /**
   * The document. Read it freely; change it only through {@link Room.transactAsRelay}. Its guid (used by Yjs
   * only for subdocuments, which rooms do not have) is given: Yjs's default, lib0's `uuidv4`, draws 31 random
   * numbers through WebCrypto, about 50 µs of every join.
   */
  readonly doc = new Y.Doc({ guid: ROOM_GUID });
  /** Presence of the connected clients (not stored): presence.ts. */
  readonly presence: Presence;
  private readonly peers = new Set<RoomPeer>();
  /** Its peers' client records (join-records.ts). */
  private readonly records: JoinRecords;
  private holds = 0;
  private readonly writes: WritePath;
  /** The `stored` frames owed to its peers (acks.ts). */
  private readonly acks = new Acks(
    () => encodeStored(this.storedStateVector()),
    () => this.state === "open",
  );
  /** The Yjs clientID the relay writes with in this load, once bound to RELAY_OWNER in `owners`. */
  private relayId: number | null = null;
  private state: "open" | "failed" | "closed" = "open";
  /** When a peer last sent a frame or the document last changed: how long the room has been quiet. */
  private lastActive = Date.now();
  /** The storage of a room claimed at its first write (claim-on-first-write.ts), which knows the fence. */
  private readonly claiming: ClaimingStorage | undefined;
  /** The newest {@link MAX_TAIL} messages, kept until a message changes (see {@link Room.recentFrame}). */
  private recent: ReturnType<typeof newestMessages> | undefined;

  private constructor(
    readonly name: string,
    readonly ref: RoomRef,
    storage: RelayStorage | ClaimingStorage,
    private readonly hooks: RoomHooks,
    private readonly logger: Logger,
    private readonly attestor: Attestor,
    private readonly loadFence: Fence,
    stored: Uint8Array[],
  ) {
    this.claiming = loadFence === UNCLAIMED && "claimed" in storage ? storage : undefined;
    this.doc.transact(() => {
      for (const update of stored) Y.applyUpdate(this.doc, update);
    });
    this.records = new JoinRecords(this, logger);
    this.writes = new WritePath(
      name,
      this.doc,
      storage,
      loadFence,
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

  /**
   * Claims the document's write fence (unless given one: a room lease's, see room-leases.ts), then loads
   * it fully from storage. An anonymous room with nothing stored is claimed at its first write instead
   * (claim-on-first-write.ts), so a visitor who never writes leaves nothing on disk.
   */
  static async load(
    name: string,
    ref: RoomRef,
    storage: RelayStorage,
    hooks: RoomHooks,
    logger: Logger,
    attestor: Attestor,
    leased?: Fence,
  ): Promise<Room> {
    if (leased === undefined && ref.kind === "anonymous") {
      const stored = await storage.load(name);
      if (stored.length === 0) {
        const deferred = claimOnFirstWrite(storage, name);
        return new Room(name, ref, deferred, hooks, logger, attestor, UNCLAIMED, stored);
      }
    }
    const fence = leased ?? (await storage.claim(name));
    const stored = await storage.load(name);
    try {
      return new Room(name, ref, storage, hooks, logger, attestor, fence, stored);
    } catch (error) {
      throw new StorageError(`stored document ${name} cannot be read`, { cause: error });
    }
  }

  /** The storage fence this load writes under; `null` until a room claimed at its first write has claimed it. */
  get fence(): Fence | null {
    return this.claiming === undefined ? this.loadFence : this.claiming.claimed;
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
    return this.relayTransaction(change, false);
  }

  /**
   * {@link Room.transactAsRelay} for a `change` that applies no update (the client records): the relay's binding
   * in `owners`, when one is due, is written in the same transaction as the change — one update, one append and
   * one forwarded frame instead of two. A change that applies an update must go through `transactAsRelay`: Yjs
   * would treat the transaction as remote and rotate the relay's clientID after it (see `bindRelay`).
   */
  async transactLocallyAsRelay(change: (doc: Y.Doc) => void): Promise<void> {
    return this.relayTransaction(change, true);
  }

  private async relayTransaction(change: (doc: Y.Doc) => void, local: boolean): Promise<void> {
    if (this.state !== "open") throw new InvalidStateError(`room ${this.name} is closed`);
    const release = this.hold();
    try {
      if (local) {
        this.doc.transact(() => {
          this.bindRelay([]);
          change(this.doc);
        }, RELAY_ORIGIN);
      } else {
        this.bindRelay([]);
        this.doc.transact(() => change(this.doc), RELAY_ORIGIN);
      }
      this.records.wrote();
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
      this.doc.transact(() => {
        this.bindRelay(verdict.newOwners);
        const owners = ownersOf(this.doc);
        for (const id of verdict.newOwners) owners.set(String(id), peer.clientId);
      }, RELAY_ORIGIN);
    }
    Y.applyUpdate(this.doc, update, peer);
    this.records.wrote();
    return verdict;
  }

  /**
   * Applies an attested update a peer handed back (the relay forwarded it, then lost it): if `tag` is the
   * relay's over this room and `update`, it is applied as when it was first checked and forwarded; returns
   * `false` (and applies nothing) if it is not. Parts the document already has are skipped by Yjs.
   */
  applyAttested(update: Uint8Array, tag: Uint8Array, peer: RoomPeer): boolean {
    if (!this.attestor.verify(this.name, update, tag)) return false;
    Y.applyUpdate(this.doc, update, new Redelivery(peer));
    this.records.wrote();
    return true;
  }

  /** Presence states of the connected clients (the relay's own local state speaks for the business). */
  get awareness(): Presence["awareness"] {
    return this.presence.awareness;
  }

  /** Adds a peer. Its client record is stamped once its first sync is answered ({@link Room.recordJoin}). */
  join(peer: RoomPeer, stamp: JoinStamp): void {
    this.peers.add(peer);
    this.records.joined(peer, stamp);
    this.presence.join(peer);
    this.hooks.active(this);
  }

  /** Stamps the client record of a peer whose first sync was answered (join-records.ts says when it is written). */
  recordJoin(peer: RoomPeer): void {
    this.records.answered(peer);
  }

  /** Removes a peer, its presence, and stamps `lastSeen` (and `active: false` after a logout). */
  leave(peer: RoomPeer, loggedOut = false): void {
    if (!this.peers.delete(peer)) return;
    this.acks.forget(peer);
    this.presence.leave(peer);
    this.records.left(peer, loggedOut);
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

  /**
   * {@link Room.durableUpdateSince} as the frames of a sync reply, the step 2 last (full-state-cache.ts,
   * `replyFrames`: a client that knows nothing may get a kept full encoding and a step 2 with the rest).
   */
  async durableReplySince(stateVector: Uint8Array): Promise<Uint8Array[]> {
    const frames = fullStateOf(this.doc).replyFrames(stateVector);
    await this.writes.durableSoFar();
    if (!this.isOpen) throw new InvalidStateError(`room ${this.name} is closed`);
    return frames;
  }

  /** Waits until every write issued so far has settled. */
  async settled(): Promise<void> {
    await this.writes.settled();
  }

  /**
   * Closes the room as if another writer had claimed it, without writing anything: its clients are closed with 1001
   * `room-moved`, reconnect, and load what storage holds now (an erasure). A write would be forwarded, attested, at
   * once, and handed back by its readers into whatever the room holds next.
   */
  evict(): void {
    this.fail(new FencedError(this.name));
  }

  /** A peer did something: the room is not quiet. */
  touch(): void {
    this.lastActive = Date.now();
  }

  /**
   * Whether the room may hibernate (hibernation.ts): peers are connected, but nothing happened for `quietMs`, and
   * nothing of it lives only in memory — no write in flight, no ack owed, no sync being answered, nobody present.
   */
  mayHibernate(now: number, quietMs: number): boolean {
    return (
      this.state === "open" &&
      this.peers.size > 0 &&
      now - this.lastActive >= quietMs &&
      this.holds === 0 &&
      !this.writes.busy &&
      !this.records.answering &&
      this.acks.settled &&
      this.presence.presentFrame() === null &&
      ![...this.peers].some((peer) => peer.busy)
    );
  }

  /** Lets go of its peers for hibernation; they stay connected and come back with {@link Room.rejoin}. */
  detachPeers(): ParkedPeer[] {
    const parked: ParkedPeer[] = [];
    for (const peer of this.peers) {
      const held = this.records.release(peer);
      parked.push(held === undefined ? { peer } : { peer, held });
      this.presence.leave(peer);
    }
    this.peers.clear();
    return parked;
  }

  /** Takes back a peer of the room's hibernation: already synced, so neither a sync nor a new stamp. */
  rejoin({ peer, held }: ParkedPeer): void {
    this.peers.add(peer);
    if (held !== undefined) this.records.restore(peer, held);
    this.presence.join(peer);
    this.hooks.active(this);
  }

  /** Frees the document. The registry calls this when it unloads the room. */
  destroy(): void {
    if (this.state === "open") this.state = "closed";
    this.acks.stop();
    this.presence.destroy();
    this.doc.destroy();
  }

  /**
   * Forwards a change and appends it. Peers that take attested frames get it at once, with the relay's tag:
   * if the relay crashes (or loses the un-synced tail of its log) before the change is durable, they hand it
   * back after the restart and the relay applies it again (`applyAttested`) — without the tag a reader could
   * not re-send structs it did not author, and would be refused for good. Stock peers cannot, so they get it
   * only once it is durable, as does a `stored` ack to its writer.
   */
  private onUpdate(update: Uint8Array, origin: unknown, stateVector: Map<number, number>): void {
    if (this.state !== "open") return;
    this.touch();
    const source =
      origin instanceof Redelivery ? origin.peer : origin === RELAY_ORIGIN ? null : (origin as RoomPeer | null);
    const writer = origin instanceof Redelivery ? null : source;
    this.hooks.changed(this, update, writer?.clientId ?? null);
    let attested: Uint8Array | undefined;
    for (const peer of this.peers) {
      if (peer === source || !peer.attests) continue;
      attested ??= encodeAttested(update, this.attestor.tag(this.name, update));
      peer.send(attested);
    }
    this.writes.append(update, stateVector, () => {
      if (this.state !== "open") return;
      let frame: Uint8Array | undefined;
      const readers: RoomPeer[] = [];
      for (const peer of this.peers) {
        if (peer === source) continue;
        if (!peer.attests) {
          frame ??= syncUpdateFrame(update);
          peer.send(frame);
        }
        readers.push(peer);
      }
      this.hooks.stored(this);
      this.acks.owe(writer !== null && this.peers.has(writer) ? writer : null, readers);
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
   * clients), and a new one if Yjs ever changed `doc.clientID`. The binding is written in a local transaction
   * (its own, or the caller's if that one applies no update): Yjs marks any transaction that applies an update
   * as remote, and would then rotate the clientID. Inside a transaction, call it before the relay writes in it.
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
