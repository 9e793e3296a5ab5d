/**
 * One conversation's connection to the relay: a small y-websocket-protocol client (sync, and awareness
 * for typing indicators) with Parley's `stored` acknowledgements and `recent` preview.
 *
 * Session: on open the client sends sync step 1; the relay sends its step 1, which the client answers
 * with step 2, and answers the client's step 1 with step 2 (after which the connection is "synced").
 * Local updates are sent as sync updates only once the client's step 2 has gone out — everything made
 * before that is part of step 2, and an update sent earlier could depend on structs the relay lacks
 * (which it answers with a 4531 resync close).
 *
 * Transient closes (see `isTransientClose`) reconnect with capped exponential backoff; a permanent
 * close stops the connection and is reported once, so the owner can fetch a fresh token and `start()`
 * again. Parameters are read at every connect, so a refreshed token is used by the next socket; an open
 * socket gets it in band (`refreshToken`), without a reconnect.
 */
import {
  type AttestedUpdate,
  ConnectParam,
  CREDENTIAL_PARAMS,
  type CredentialParam,
  credentialSubprotocols,
  encodeAttested,
  encodeRefresh,
  isLogoutAck,
  isTransientClose,
  MessageType,
  type RecentPreview,
  readAttested,
  readRecent,
  readRefreshed,
  readStored,
} from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import type { Presence } from "../conversation/presence.js";

/** The subset of the WebSocket API the client needs; `globalThis.WebSocket` and `ws` both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

/**
 * A WebSocket constructor such as `globalThis.WebSocket` or the `ws` package's default export. The client passes
 * subprotocols: its credentials travel there, never in the URL (see `credentialSubprotocols`).
 */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** State of a connection as the application sees it. */
export type ConnectionStatus = "offline" | "connecting" | "online";

/** URL parameters of one connect attempt. */
export type ConnectionParams = Record<string, string>;

export interface ConnectionOptions {
  relayUrl: string;
  room: string;
  doc: Y.Doc;
  WebSocket: WebSocketConstructor;
  /** Read at every connect attempt. */
  params: () => ConnectionParams;
  onStatus: (status: ConnectionStatus) => void;
  /** The relay answered the client's step 1: the local document holds everything the relay had. */
  onSynced: () => void;
  /** The relay durably stores this state vector. */
  onStored: (stateVector: Map<number, number>) => void;
  /**
   * The relay forwarded a change before storing it (an `attested` frame, applied to the document already):
   * keep it until `onStored` covers it. Without this option the client does not ask for attested frames.
   */
  onAttested?: (attested: AttestedUpdate) => void;
  /** The attested updates a relay with this state vector lacks: handed back before the client's step 2. */
  missingAttested?: (stateVector: Map<number, number>) => AttestedUpdate[];
  /** The relay sent a preview of the newest messages (only when the params asked for one with `tail`). */
  onRecent?: (preview: RecentPreview) => void;
  /** Presence to announce on every new socket and to update from the relay's awareness frames. */
  presence?: Presence;
  /** The others' presence changed (an awareness frame arrived, or the socket closed). */
  onPresence?: () => void;
  /** The relay closed the connection for good (a 44xx code); the connection has stopped. */
  onRefused: (code: number, reason: string) => void;
}

const OPEN = 1;
const MAX_BACKOFF_MS = 5_000;

export class Connection {
  private readonly options: ConnectionOptions;
  private socket: WebSocketLike | null = null;
  private running = false;
  private step2Sent = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private currentStatus: ConnectionStatus = "offline";
  private synced = false;

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  /** Whether the current socket has completed its first sync. */
  get isSynced(): boolean {
    return this.synced;
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** Starts connecting (and reconnecting after transient closes). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempts = 0;
    this.options.doc.on("update", this.onDocUpdate);
    this.openSocket();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.options.doc.off("update", this.onDocUpdate);
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.forgetSocket();
    socket?.close(1000, "client stopped");
    this.setStatus("offline");
  }

  /** If waiting to retry after a transient close, retries now (someone needs the relay). */
  retryNow(): void {
    if (!this.running || this.socket !== null) return;
    clearTimeout(this.retryTimer);
    this.openSocket();
  }

  /** Sends an awareness update if a socket is open (presence is ephemeral: nothing is queued). */
  sendPresence(update: Uint8Array): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== OPEN) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.awareness);
    encoding.writeVarUint8Array(encoder, update);
    socket.send(encoding.toUint8Array(encoder));
  }

  /**
   * Closes the current socket and connects again at once if still running (the network changed, so the
   * socket may be dead without knowing it yet).
   */
  dropSocket(): void {
    const socket = this.socket;
    if (!this.running || socket === null) return;
    this.forgetSocket();
    socket.close(1000, "network changed");
    this.scheduleRetry();
  }

  /**
   * Hands the relay a fresh user token on the open, synced socket (the `refresh` frame), so the connection
   * lives on to the new token's `exp` without a reconnect. Returns `false` if there is no such socket: the
   * next socket carries the token anyway. A refusal changes nothing on the relay; the socket then closes at
   * the old `exp` (4402) and the owner's refusal handling takes over.
   */
  refreshToken(token: string): boolean {
    const socket = this.socket;
    if (!this.running || socket === null || !this.synced || socket.readyState !== OPEN) return false;
    socket.send(encodeRefresh(token));
    return true;
  }

  /** Drops the current socket and connects again at once with fresh parameters. */
  reconnect(): void {
    this.stop();
    this.start();
  }

  /**
   * Sends the `logout` frame if a synced socket is open, then waits (bounded) for the relay's ack: a close
   * 1000 with the reason token `logged-out`, which the relay sends only once the logout is durable. Stops
   * the connection either way. Resolves `true` only on that ack: any other close (a relay that died just
   * after the frame) leaves the logout undelivered, for the caller to keep as a notice.
   */
  async logout(timeoutMs: number): Promise<boolean> {
    const socket = this.socket;
    if (!this.running || socket === null || !this.synced || socket.readyState !== OPEN) {
      this.stop();
      return false;
    }
    this.running = false;
    this.options.doc.off("update", this.onDocUpdate);
    clearTimeout(this.retryTimer);
    const closed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.onclose = ((event: { code: number; reason: string }) => {
        clearTimeout(timer);
        resolve(isLogoutAck(event.code, String(event.reason ?? "")));
      }) as (event: never) => void;
    });
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.logout);
    socket.send(encoding.toUint8Array(encoder));
    const acknowledged = await closed;
    this.forgetSocket();
    socket.close(1000, "logged out");
    this.setStatus("offline");
    return acknowledged;
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.options.onStatus(status);
  }

  private openSocket(): void {
    // Credentials go in the handshake's Sec-WebSocket-Protocol header: URLs are printed by browser consoles on
    // every failed reconnect and logged by proxies.
    const query = new URLSearchParams();
    const credentials: Partial<Record<CredentialParam, string>> = {};
    for (const [name, value] of Object.entries(this.options.params())) {
      if ((CREDENTIAL_PARAMS as readonly string[]).includes(name)) credentials[name as CredentialParam] = value;
      else query.set(name, value);
    }
    // Attested frames (changes before they are durable) only for an owner that keeps them for the relay.
    if (this.options.onAttested !== undefined) query.set(ConnectParam.attest, "1");
    let socket: WebSocketLike;
    try {
      const url = `${this.options.relayUrl}/${this.options.room}?${query.toString()}`;
      socket = new this.options.WebSocket(url, credentialSubprotocols(credentials));
    } catch {
      this.scheduleRetry();
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.step2Sent = false;
    this.synced = false;
    this.setStatus("connecting");
    socket.onopen = (() => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.sync);
      syncProtocol.writeSyncStep1(encoder, this.options.doc);
      socket.send(encoding.toUint8Array(encoder));
      const presence = this.options.presence;
      if (presence?.typing != null) this.sendPresence(presence.encodeLocal());
    }) as (event: never) => void;
    socket.onmessage = ((event: { data: unknown }) => {
      if (socket !== this.socket) return;
      if (!(event.data instanceof ArrayBuffer)) return;
      try {
        this.receive(socket, new Uint8Array(event.data));
      } catch {
        // An unreadable frame must not throw out of the socket's event handler (it would crash Node);
        // start over with a fresh socket and a full sync.
        socket.close(1000, "unreadable frame");
      }
    }) as (event: never) => void;
    socket.onclose = ((event: { code: number; reason: string }) => {
      if (socket !== this.socket) return;
      this.forgetSocket();
      if (!this.running) return;
      if (isTransientClose(event.code)) {
        this.scheduleRetry();
        return;
      }
      this.running = false;
      this.options.doc.off("update", this.onDocUpdate);
      this.setStatus("offline");
      this.options.onRefused(event.code, String(event.reason ?? ""));
    }) as (event: never) => void;
    // A failed connect is followed by a close event, which decides what happens next.
    socket.onerror = (() => {}) as (event: never) => void;
  }

  /** Lets go of the current socket: nothing of it (sync progress, the others' presence) holds any more. */
  private forgetSocket(): void {
    this.socket = null;
    this.synced = false;
    this.step2Sent = false;
    if (this.options.presence !== undefined) {
      this.options.presence.clearRemote();
      this.options.onPresence?.();
    }
  }

  private scheduleRetry(): void {
    this.setStatus("offline");
    const base = Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.attempts);
    this.attempts += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => {
        if (this.running) this.openSocket();
      },
      base * (0.5 + Math.random() / 2),
    );
  }

  private receive(socket: WebSocketLike, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    const type = decoding.readVarUint(decoder);
    if (type === MessageType.sync && decoding.peekVarUint(decoder) === syncProtocol.messageYjsSyncStep1) {
      decoding.readVarUint(decoder);
      this.answerStep1(socket, decoding.readVarUint8Array(decoder));
    } else if (type === MessageType.attested) {
      const attested = readAttested(decoder);
      Y.applyUpdate(this.options.doc, attested.update, this);
      this.options.onAttested?.(attested);
    } else if (type === MessageType.sync) {
      // Step 2 or an update (step 1 is answered above): nothing to answer.
      const syncType = syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), this.options.doc, this);
      if (syncType === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.attempts = 0;
        this.setStatus("online");
        this.options.onSynced();
      }
    } else if (type === MessageType.stored) {
      this.options.onStored(readStored(decoder));
    } else if (type === MessageType.refreshed) {
      // A refused refresh needs no action here: the relay closes 4402 at the old exp, handled as any expiry.
      readRefreshed(decoder);
    } else if (type === MessageType.recent) {
      this.options.onRecent?.(readRecent(decoder));
    } else if (type === MessageType.awareness && this.options.presence !== undefined) {
      this.options.presence.apply(decoding.readVarUint8Array(decoder));
      this.options.onPresence?.();
    }
    // Auth frames carry nothing this client acts on; a refusal arrives as a close.
  }

  /**
   * Answers the relay's step 1: first hands back the attested updates it lacks (it lost them after forwarding
   * them; they are not this client's to send in a step 2), then sends step 2 with everything else it lacks.
   */
  private answerStep1(socket: WebSocketLike, stateVector: Uint8Array): void {
    for (const { update, tag } of this.options.missingAttested?.(Y.decodeStateVector(stateVector)) ?? []) {
      socket.send(encodeAttested(update, tag));
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.sync);
    syncProtocol.writeSyncStep2(encoder, this.options.doc, stateVector);
    socket.send(encoding.toUint8Array(encoder));
    this.step2Sent = true;
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    const socket = this.socket;
    if (origin === this || socket === null || !this.step2Sent || socket.readyState !== OPEN) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.sync);
    syncProtocol.writeUpdate(encoder, update);
    socket.send(encoding.toUint8Array(encoder));
  };
}
