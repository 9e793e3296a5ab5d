/**
 * One open conversation: its Yjs document, the stored copy, the relay connection, the relay's
 * stored state (for delivery status and flushing) and, when several instances share a store, the
 * channel on which they exchange updates of this document.
 */
import { type RecentPreview, type TypingIndicator, UnsentChangesError } from "@parley/protocol";
import * as Y from "yjs";
import {
  Connection,
  type ConnectionParams,
  type ConnectionStatus,
  type WebSocketConstructor,
} from "../net/connection.js";
import { CoalescedWrite } from "../storage/coalesced-write.js";
import type { ClientStorage, DocHandle, StoredValue } from "../storage/storage.js";
import { AttestedLog, attestedKey } from "./attested-log.js";
import { MessageIndex } from "./message-index.js";
import { Presence } from "./presence.js";
import { describeUnsent, nothingUnsent, type UnsentChanges, unsentChanges } from "./unsent.js";

/** Storage key of the relay's stored state vector for a room. */
function storedKey(room: string): string {
  return `stored/${room}`;
}

const FLUSH_RETRY_MS = 250;

type TabDocMessage = { kind: "hello"; stateVector: Uint8Array } | { kind: "update"; update: Uint8Array };

export interface SessionOptions {
  storage: ClientStorage;
  room: string;
  /** This store's client id: its own writes are what a flush waits for. */
  clientId: string;
  relayUrl: string;
  WebSocket: WebSocketConstructor | undefined;
  /** Name of the channel shared by the instances of this identity, or `undefined` for none. */
  tabChannel: string | undefined;
  params: () => ConnectionParams;
  onChange: (what: "messages" | "profile" | "clients") => void;
  onStatus: (status: ConnectionStatus) => void;
  onSynced: () => void;
  onRefused: (code: number, reason: string) => void;
  /** The others' presence (the business typing) changed. */
  onPresence: () => void;
}

export class Session {
  readonly doc = new Y.Doc();
  /** The messages in display order; built once the stored document is loaded. */
  index!: MessageIndex;
  readonly room: string;
  private handle: DocHandle | undefined;
  /** Changes the relay forwarded before storing them, kept until it reports them stored. */
  private attested!: AttestedLog;
  private connection: Connection | undefined;
  private channel: BroadcastChannel | undefined;
  private storedState = new Map<number, number>();
  private storedWaiters = new Set<() => void>();
  /** Saves the stored state so that a restarted client knows what is already safe (a logout offline need not fail). */
  private readonly storedWrite = new CoalescedWrite(() => {
    const snapshot: Record<string, StoredValue> = {};
    for (const [client, clock] of this.storedState) snapshot[client] = clock;
    return this.options.storage.set(storedKey(this.room), snapshot);
  });
  private closed = false;
  private syncedOnce = false;
  private recent: RecentPreview | undefined;
  private readonly presence = new Presence(() => this.doc.clientID);
  private readonly options: SessionOptions;

  private constructor(options: SessionOptions) {
    this.options = options;
    this.room = options.room;
  }

  /** Loads the room's document from storage and starts watching it. Does not connect. */
  static async open(options: SessionOptions): Promise<Session> {
    const session = new Session(options);
    session.storedState = await Session.readStored(options.storage, options.room);
    session.attested = await AttestedLog.open(options.storage, options.room);
    session.handle = await options.storage.openDoc(options.room, session.doc);
    session.index = new MessageIndex(session.doc);
    session.doc.on("afterTransaction", session.onTransaction);
    if (options.tabChannel !== undefined && typeof BroadcastChannel === "function") {
      const channel = new BroadcastChannel(options.tabChannel);
      session.channel = channel;
      channel.onmessage = (event: MessageEvent<TabDocMessage>) => session.onTabMessage(event.data);
      session.doc.on("update", session.forwardToTabs);
      channel.postMessage({ kind: "hello", stateVector: Y.encodeStateVector(session.doc) } satisfies TabDocMessage);
    }
    return session;
  }

  /** The relay's durably stored state, as last reported. */
  get stored(): Map<number, number> {
    return this.storedState;
  }

  get status(): ConnectionStatus {
    return this.connection?.status ?? "offline";
  }

  get isSynced(): boolean {
    return this.connection?.isSynced ?? false;
  }

  /**
   * The relay's preview of the newest messages, shown until the first sync of this document lands
   * (then the document holds them and more). Never written into the document.
   */
  get preview(): RecentPreview | undefined {
    return this.recent;
  }

  /**
   * Whether to ask the relay for a preview: this session has not synced, and the document holds nothing
   * but what `clientId` wrote itself (no message of anyone else ever reached this store).
   */
  wantsPreview(clientId: string): boolean {
    if (this.syncedOnce) return false;
    return this.index.all.every((entry) => entry.record.role === "user" && entry.record.client === clientId);
  }

  /** Publishes (or clears, with `null`) the user's typing indicator to the room, if connected. */
  setTyping(typing: TypingIndicator | null): void {
    const update = this.presence.setTyping(typing);
    this.connection?.sendPresence(update);
  }

  /** The user's own typing indicator, as last set. */
  get typing(): TypingIndicator | null {
    return this.presence.typing;
  }

  /** The business's typing indicator at `now`, or `null`. */
  businessTyping(now: number): TypingIndicator | null {
    return this.presence.businessTyping(now);
  }

  /** The network went away: drop a socket that may be dead without knowing it. */
  dropSocket(): void {
    this.connection?.dropSocket();
  }

  /** The network is back: connect now instead of waiting out the backoff. */
  retryNow(): void {
    this.connection?.retryNow();
  }

  /** Starts (or restarts after a refusal) the relay connection. */
  connect(): void {
    if (this.closed || this.options.WebSocket === undefined) return;
    if (this.connection === undefined) {
      this.connection = new Connection({
        relayUrl: this.options.relayUrl,
        room: this.room,
        doc: this.doc,
        WebSocket: this.options.WebSocket,
        params: this.options.params,
        onStatus: this.options.onStatus,
        onSynced: () => this.onSynced(),
        onStored: (state) => this.onStored(state),
        onAttested: (attested) => this.attested.add(attested),
        missingAttested: (stateVector) => this.attested.missingFrom(stateVector),
        onRecent: (preview) => this.onRecent(preview),
        presence: this.presence,
        onPresence: this.options.onPresence,
        onRefused: this.options.onRefused,
      });
    }
    this.connection.start();
  }

  /** Closes the relay connection and stops reconnecting until {@link Session.connect}. */
  disconnect(): void {
    this.connection?.stop();
  }

  /** Reconnects at once so that fresh parameters (a new token) take effect. */
  reconnect(): void {
    if (this.connection === undefined) this.connect();
    else this.connection.reconnect();
  }

  /** The relay's stored state of `room` as this store last recorded it. */
  static async readStored(storage: ClientStorage, room: string): Promise<Map<number, number>> {
    const state = new Map<number, number>();
    const saved = await storage.get(storedKey(room));
    if (saved !== undefined && saved !== null && typeof saved === "object" && !Array.isArray(saved)) {
      for (const [client, clock] of Object.entries(saved)) {
        if (typeof clock === "number") state.set(Number(client), clock);
      }
    }
    return state;
  }

  /** The user's own content the relay has not stored yet. */
  unsent(): UnsentChanges {
    return unsentChanges(this.doc, this.index, this.storedState, this.options.clientId);
  }

  /**
   * Persists locally, then waits until the relay has stored the user's own content; rejects with
   * {@link UnsentChangesError} naming what it has not.
   */
  async flush(timeoutMs: number): Promise<void> {
    await this.handle?.flush();
    if (nothingUnsent(this.unsent())) return;
    if (this.connection === undefined) this.connect();
    const stored = await new Promise<boolean>((resolve) => {
      // While someone waits for the relay, skip the reconnect backoff (it may have grown while the relay was down).
      const retry = () => this.connection?.retryNow();
      retry();
      const retries = setInterval(retry, FLUSH_RETRY_MS);
      const done = (value: boolean) => {
        clearInterval(retries);
        clearTimeout(timer);
        this.storedWaiters.delete(check);
        resolve(value);
      };
      const check = () => {
        if (nothingUnsent(this.unsent())) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.storedWaiters.add(check);
      check();
    });
    const unsent = this.unsent();
    if (!stored && !nothingUnsent(unsent)) {
      throw new UnsentChangesError(
        unsent.messageIds,
        `the relay has not stored ${describeUnsent(unsent)} within ${timeoutMs} ms`,
        { profileFields: unsent.profileFields, readPosition: unsent.readPosition },
      );
    }
  }

  /** Durably persists local changes (no relay involved). */
  async persist(): Promise<void> {
    await this.handle?.flush();
  }

  /** Sends the `logout` frame if connected and stops the connection. */
  /** Gives the open connection a fresh token in band; `false` if there is no synced connection to give it to. */
  refreshToken(token: string): boolean {
    return this.connection?.refreshToken(token) ?? false;
  }

  async logoutFromRelay(timeoutMs: number): Promise<boolean> {
    if (this.connection === undefined) return false;
    return this.connection.logout(timeoutMs);
  }

  /** Disconnects and releases the stored document (it stays in storage). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection?.stop();
    this.doc.off("afterTransaction", this.onTransaction);
    this.index?.destroy();
    this.doc.off("update", this.forwardToTabs);
    this.channel?.close();
    for (const waiter of this.storedWaiters) waiter();
    await this.storedWrite.settled();
    await this.attested?.settled();
    await this.handle?.close();
    this.doc.destroy();
  }

  /** Deletes everything stored for `room` (every handle on it must be closed). */
  static async erase(storage: ClientStorage, room: string): Promise<void> {
    await storage.deleteDoc(room);
    await storage.delete(storedKey(room));
    await storage.delete(attestedKey(room));
  }

  private onRecent(preview: RecentPreview): void {
    if (this.syncedOnce) return;
    this.recent = preview;
    this.options.onChange("messages");
  }

  private onSynced(): void {
    this.syncedOnce = true;
    const hadPreview = this.recent !== undefined;
    this.recent = undefined;
    this.options.onSynced();
    if (hadPreview) this.options.onChange("messages");
  }

  private onStored(state: Map<number, number>): void {
    this.attested.prune(state);
    let changed = false;
    for (const [client, clock] of state) {
      if ((this.storedState.get(client) ?? 0) < clock) {
        this.storedState.set(client, clock);
        changed = true;
      }
    }
    if (!changed) return;
    this.storedWrite.schedule();
    for (const waiter of [...this.storedWaiters]) waiter();
    this.options.onChange("messages");
  }

  private readonly onTransaction = (transaction: Y.Transaction): void => {
    const changed = new Set<"messages" | "profile" | "clients">();
    for (const type of transaction.changed.keys()) {
      if (type === this.doc.share.get("messages")) changed.add("messages");
      else if (type === this.doc.share.get("profile")) changed.add("profile");
      else if (type === this.doc.share.get("clients")) changed.add("clients");
      else if (type === this.doc.share.get("reads")) changed.add("messages");
    }
    for (const what of changed) this.options.onChange(what);
  };

  private readonly forwardToTabs = (update: Uint8Array, origin: unknown): void => {
    // What the relay sent, every tab gets from its own connection; forwarding it would only echo it back.
    if (origin === this.channel || origin instanceof Connection) return;
    this.channel?.postMessage({ kind: "update", update } satisfies TabDocMessage);
  };

  private onTabMessage(message: TabDocMessage): void {
    if (this.closed || this.channel === undefined) return;
    if (message.kind === "update") {
      Y.applyUpdate(this.doc, message.update, this.channel);
    } else if (message.kind === "hello") {
      const update = Y.encodeStateAsUpdate(this.doc, message.stateVector);
      this.channel.postMessage({ kind: "update", update } satisfies TabDocMessage);
    }
  }
}
