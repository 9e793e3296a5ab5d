/**
 * The relay's extension interface: how features beyond rooms, connections and the protocol plug into the core.
 *
 * The core owns what every deployment needs and what no extension may weaken: admission, the authorship check
 * of every client update, the write path (append, then ack) and the limits. Everything else — the business
 * API, webhooks, metrics, a custom authentication — is an extension: an object with some of the hooks below.
 * `createRelay` assembles the defaults ({@link RelayOptions.extensions}); an embedder adds or leaves out each.
 *
 * Contract, for every hook:
 * - Hooks run in the order the extensions are listed. A hook that throws (or rejects) is logged and the
 *   relay carries on, except where a hook's comment says its error refuses something (authentication).
 * - Synchronous hooks (`onRoomLoaded`, `onChange`, `onStored`, `onConnect`, `onDisconnect`, `onRefusal`,
 *   `onStorageWrite`) run
 *   on the hot path: do O(1) work or schedule the rest; never block.
 * - Extensions see rooms through a {@link RoomHandle}. They never change a document directly: a change goes
 *   through {@link RoomHandle.transactAsRelay}, which authors it as the relay and stores it durably.
 * - No hook runs before the authorship check or can make the relay accept an update it refused.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { CloseReason, RoomRef } from "@parley/protocol";
import type { Awareness } from "y-protocols/awareness";
import type * as Y from "yjs";
import type { RelayConfig } from "../config/config.js";
import type { KeyRing } from "../identity/jwt.js";
import type { Fence, RelayStorage } from "../storage/storage.js";
import type { Logger } from "./logger.js";

/** A loaded room as an extension sees it. Hold it ({@link RoomHandle.hold}) while using it across awaits. */
export interface RoomHandle {
  /** The room name (see `roomName` in `@parley/protocol`). */
  readonly name: string;
  /** The app, kind and subject the room belongs to. */
  readonly ref: RoomRef;
  /** The document. Read it freely; change it only through {@link RoomHandle.transactAsRelay}. */
  readonly doc: Y.Doc;
  /** Presence of the connected clients. An extension may set the relay's own local state (business typing). */
  readonly awareness: Awareness;
  /** Whether the room is serving (not failed or unloaded). */
  readonly isOpen: boolean;
  /** Number of connected clients. */
  readonly peerCount: number;
  /**
   * The storage fence this load writes under (see `RelayStorage.claim`), or `null` while it has none (an
   * anonymous room nothing is stored in claims at its first write). An extension that keeps records of the room in
   * the storage (the conversation index) writes them under it, so a node that lost the room cannot overwrite them.
   */
  readonly fence: Fence | null;
  /** The state vector of what is durably stored. */
  storedStateVector(): Uint8Array;
  /**
   * Runs `change` in a transaction authored by the relay (so the authorship rules for clients do not apply),
   * forwards it to every client, and resolves once it is durably stored; rejects with a `StorageError` if not.
   */
  transactAsRelay(change: (doc: Y.Doc) => void): Promise<void>;
  /** Keeps the room loaded until the returned function is called. */
  hold(): () => void;
  /**
   * Closes the room's clients with 1001 `room-moved` and drops the room, writing nothing: for a change made to its
   * storage behind its back (an erasure), which the clients then load afresh.
   */
  evict(): void;
}

/** Opens rooms for extensions. */
export interface RoomOpener {
  /** The room `name`, loaded fully from storage (once, however many callers ask at the same time). */
  open(name: string): Promise<RoomHandle>;
}

/** What an extension gets when the relay starts. */
export interface ExtensionContext {
  /** The relay's parsed configuration. */
  readonly config: RelayConfig;
  readonly storage: RelayStorage;
  readonly logger: Logger;
  readonly rooms: RoomOpener;
  /** The configured app keys (verifies user and app tokens). */
  readonly keys: KeyRing;
}

/** A WebSocket upgrade asking to open a user room with a JWT. */
export interface AuthenticateRequest {
  /** The upgrade request (headers, address). */
  readonly request: IncomingMessage;
  /** The room asked for. Its app is configured on this relay. */
  readonly room: RoomRef;
  /** The credential the client presented (never an anonymous `anon.` token: those are self-certifying). */
  readonly token: string;
}

/** Who a credential speaks for. */
export interface Authenticated {
  /** The app whose key vouched for the credential; must be the room's app. */
  appId: string;
  /** The user; must be the room's subject. */
  userId: string;
  /** Expiry, seconds since the epoch: the connection closes with 4402 then. */
  exp?: number;
}

/** Who is on an admitted connection. */
export interface ConnectionEvent {
  readonly room: RoomHandle;
  /** The Parley client id (derived from the client's secret). */
  readonly clientId: string;
}

/** Why a connection ended. */
export interface DisconnectEvent extends ConnectionEvent {
  /** The WebSocket close code. */
  readonly code: number;
}

/** A connection (or a frame) the relay refused. */
export interface RefusalEvent {
  /** The close code sent. */
  readonly code: number;
  /** The reason token sent (`@parley/protocol`'s close reasons). */
  readonly reason: CloseReason;
  /** What happened, for people. */
  readonly detail: string;
  /** The room, when the refusal came after the URL named one. */
  readonly room?: RoomRef;
}

/** A change applied to a room's document (after the authorship check). */
export interface ChangeEvent {
  readonly room: RoomHandle;
  /** The Yjs update that was applied. */
  readonly update: Uint8Array;
  /** The client that sent it, or `null` for a relay-authored change (business API, client records, merges). */
  readonly clientId: string | null;
}

/** The durable state of a room advanced: everything up to `stateVector` is stored. */
export interface StoredEvent {
  readonly room: RoomHandle;
  /** A Yjs state vector of what is durable now. */
  readonly stateVector: Uint8Array;
}

/** A storage write became durable (or failed). */
export interface StorageWriteEvent {
  readonly op: "append" | "compact" | "remove";
  /** Bytes written (0 for a removal). */
  readonly bytes: number;
  /** From the call to durable; under `fsync: "batch"` an append's time includes its group's fsync. */
  readonly seconds: number;
}

/**
 * What an `onUpgrade` hook decided about a WebSocket upgrade: `{ taken: true }` if the extension took the
 * socket (another relay node serves it); `{ clientAddress }` to serve it here as coming from that address
 * (a connection piped by a trusted cluster peer), which the per-address limits then count.
 */
export type UpgradeDecision = { readonly taken: true } | { readonly clientAddress: string };

/** A relay extension: any subset of these hooks. See the contract at the top of this file. */
export interface RelayExtension {
  /** A short name, used in logs. */
  readonly name: string;
  /** The relay is starting (before it listens). Rejecting stops the start. */
  onStart?(context: ExtensionContext): Promise<void> | void;
  /**
   * Replaces the JWT check for a user room: return who the credential speaks for, `undefined` to leave the
   * decision to the next extension (and finally to the configured app keys), or throw a `ParleyError` from
   * `@parley/protocol` (`TokenInvalidError`, `TokenExpiredError`, `ForbiddenError`…) to refuse with its close
   * code. The relay still checks that the result names the room's app and subject.
   */
  onAuthenticate?(request: AuthenticateRequest): Promise<Authenticated | undefined> | Authenticated | undefined;
  /** A room was loaded from storage; nothing has changed it yet. Observe its document here. */
  onRoomLoaded?(room: RoomHandle): void;
  /** A room is being unloaded (no clients, holds or writes for the grace period). */
  onRoomUnloaded?(room: RoomHandle): void;
  /** A change was applied to a room's document. It may not be durable yet: see {@link onStored}. */
  onChange?(event: ChangeEvent): void;
  /** A room's durable state advanced: the moment an acknowledgement may be sent. */
  onStored?(event: StoredEvent): void;
  /** An admitted connection joined its room. */
  onConnect?(event: ConnectionEvent): void;
  /** An admitted connection left its room. */
  onDisconnect?(event: DisconnectEvent): void;
  /** The relay refused a connection or closed one for a frame it refused. */
  onRefusal?(event: RefusalEvent): void;
  /** A storage write finished: how long it took to become durable. */
  onStorageWrite?(event: StorageWriteEvent): void;
  /**
   * An HTTP request the core does not serve (everything but `/healthz` and WebSocket upgrades). Return `true`
   * if this extension answered it; the first that does wins, and unanswered requests get a 404.
   */
  onRequest?(request: IncomingMessage, response: ServerResponse): Promise<boolean> | boolean;
  /**
   * A WebSocket upgrade arrived, before the handshake and before admission (so nothing about it is verified
   * yet: keep the work per request small). Return `undefined` to leave it to the next extension and finally
   * to this relay, or an {@link UpgradeDecision}; the first decision wins. An extension that takes the socket
   * owns it from then on (writes, ends or pipes it). A hook that throws is logged and the relay serves the
   * upgrade itself.
   */
  onUpgrade?(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<UpgradeDecision | undefined> | UpgradeDecision | undefined;
  /** The relay is stopping: connections are closed, storage is still open. */
  onStop?(): Promise<void> | void;
}
