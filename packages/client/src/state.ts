/**
 * The state one client instance holds, and the few transitions every lifecycle step shares: which
 * identity record and conversation are current, opening a conversation for the current subject,
 * replacing the subject under the identity lock, erasing a room, and reporting to the application.
 *
 * The state machine is small: `loading` (until the identity record is read or created) → `ready` →
 * `destroyed`; within `ready`, the current subject changes only inside the operation queue, by the
 * lifecycle steps in identity/ (login, switch, logout, token refresh, following tabs, garbage collection).
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  ClientDestroyedError,
  ConnectParam,
  clientIdFromSecret,
  encodeClientInfo,
  InvalidStateError,
  type ParleyError,
  roomName,
  StorageError,
} from "@parley/protocol";
import type { ClientEvents, Identity } from "./api.js";
import { clientRecordsOf, messagesOf, profileOf } from "./conversation/reading.js";
import { Session } from "./conversation/session.js";
import { TypingIndicators } from "./conversation/typing.js";
import { Emitter } from "./events.js";
import {
  type IdentityRecord,
  readIdentity,
  type Subject,
  withIdentityLock,
  writeIdentity,
} from "./identity/identity-record.js";
import { LogoutNotices } from "./identity/logout-notices.js";
import { RelayAnswer, type RelayOutcome } from "./identity/relay-answer.js";
import type { Tabs } from "./identity/tabs.js";
import type { ConnectionParams, ConnectionStatus } from "./net/connection.js";
import type { ResolvedOptions } from "./options.js";
import { OperationQueue } from "./queue.js";
import type { ClientStorage } from "./storage/storage.js";
import { SDK_VERSION } from "./version.js";

/** What the lifecycle steps plug into the shared transitions. */
export interface LifecycleHooks {
  /** Merges a stored anonymous thread into a user's conversation being opened (login from anonymous). */
  merge(session: Session, anonymousSecret: string): Promise<void>;
  /** The current conversation synced with the relay. */
  synced(): void;
  /** The relay refused the current conversation's connection for good, with nobody awaiting the answer. */
  refused(code: number, reason: string): void;
  /** A conversation opened for the current subject (its token may need a refresh timer). */
  opened(): void;
  /** The current subject was replaced (timers for the old one must stop). */
  replaced(): void;
}

export type Phase = "loading" | "ready" | "destroyed";

function defaultPlatform(): string {
  const scope = globalThis as { document?: unknown; process?: { versions?: { node?: string } } };
  if (scope.document !== undefined) return "web";
  if (scope.process?.versions?.node !== undefined) return "node";
  return "unknown";
}

export class ClientState {
  readonly options: ResolvedOptions;
  readonly storage: ClientStorage;
  readonly events = new Emitter<ClientEvents>();
  /** The `info` connection parameter: what this client is. */
  readonly info: string;
  readonly queue = new OperationQueue(() => this.phase === "destroyed");
  readonly answer: RelayAnswer;
  readonly typing = new TypingIndicators((state) => this.events.emit("typing", state));
  /** Logouts the relay has not heard of yet (only where there is a WebSocket to deliver them). */
  readonly notices: LogoutNotices | undefined;
  phase: Phase = "loading";
  record: IdentityRecord | undefined;
  session: Session | undefined;
  tabs: Tabs | undefined;
  /** Whether the relay accepted the current user's token on this instance. */
  authenticated = false;
  /** Whether the app wants the relay connection (`options.connect`, then `connect()` / `disconnect()`). */
  connectionWanted: boolean;
  hooks: LifecycleHooks | undefined;
  private lastStatus: ConnectionStatus = "offline";

  constructor(options: ResolvedOptions, storage: ClientStorage) {
    this.options = options;
    this.storage = storage;
    this.connectionWanted = options.connect;
    this.answer = new RelayAnswer(options.loginTimeoutMs);
    this.info = encodeClientInfo({
      platform: options.clientInfo.platform ?? defaultPlatform(),
      ...(options.clientInfo.appVersion === undefined ? {} : { appVersion: options.clientInfo.appVersion }),
      sdkVersion: SDK_VERSION,
    });
    if (options.WebSocket !== undefined) {
      this.notices = new LogoutNotices({
        storage,
        appId: options.appId,
        relayUrl: options.relayUrl,
        WebSocket: options.WebSocket,
        info: this.info,
      });
    }
  }

  get destroyed(): boolean {
    return this.phase === "destroyed";
  }

  get identity(): Identity | undefined {
    const subject = this.record?.current;
    if (subject === undefined) return undefined;
    if (subject.kind === "anonymous") return { kind: "anonymous", anonymousId: anonymousIdFromSecret(subject.secret) };
    return { kind: "user", userId: subject.userId, authenticated: this.authenticated };
  }

  get clientId(): string | undefined {
    return this.record === undefined ? undefined : clientIdFromSecret(this.record.clientSecret);
  }

  get status(): ConnectionStatus {
    return this.session?.status ?? "offline";
  }

  assertAlive(): void {
    if (this.destroyed) throw new ClientDestroyedError();
  }

  currentRecord(): IdentityRecord {
    if (this.record === undefined) throw new InvalidStateError("the identity is not loaded");
    return this.record;
  }

  currentSession(): Session {
    this.assertAlive();
    if (this.session === undefined) throw new InvalidStateError("no conversation is open");
    return this.session;
  }

  /** The room of `subject`'s conversation. */
  roomOf(subject: Subject): string {
    const appId = this.options.appId;
    return subject.kind === "anonymous"
      ? roomName({ appId, kind: "anonymous", subject: anonymousIdFromSecret(subject.secret) })
      : roomName({ appId, kind: "user", subject: subject.userId });
  }

  /** The room of the anonymous user whose secret is `secret`. */
  anonymousRoom(secret: string): string {
    return this.roomOf({ kind: "anonymous", secret, nonce: "" });
  }

  /** The rooms stored for `subject`: its conversation and an anonymous one awaiting the relay's merge. */
  roomsOf(subject: Subject): string[] {
    const rooms = [this.roomOf(subject)];
    if (subject.kind === "user" && subject.pendingMerge !== undefined)
      rooms.push(this.anonymousRoom(subject.pendingMerge));
    return rooms;
  }

  /** Opens the current subject's conversation (merging a pending anonymous thread in) and connects. */
  async openSession(): Promise<void> {
    this.assertAlive();
    const subject = this.currentRecord().current;
    let session: Session | undefined;
    const current = () => session !== undefined && session === this.session;
    session = await Session.open({
      storage: this.storage,
      room: this.roomOf(subject),
      clientId: this.clientId ?? "",
      relayUrl: this.options.relayUrl,
      WebSocket: this.options.WebSocket,
      tabChannel: this.options.tabSync ? `parley/${this.options.appId}/doc/${subject.nonce}` : undefined,
      params: () => this.connectionParams(session as Session),
      onChange: (what) => {
        if (current()) this.emitChange(what);
      },
      onStatus: () => {
        if (current()) this.emitStatus();
      },
      onSynced: () => {
        if (current()) this.hooks?.synced();
      },
      onRefused: (code, reason) => {
        if (current()) this.hooks?.refused(code, reason);
      },
      onPresence: () => {
        if (current()) this.typing.refresh(session);
      },
    });
    if (this.destroyed) {
      await session.close();
      throw new ClientDestroyedError();
    }
    if (subject.kind === "user" && subject.pendingMerge !== undefined) {
      await this.hooks?.merge(session, subject.pendingMerge);
    }
    this.session = session;
    this.typing.refresh(session);
    this.emitIdentity();
    this.emitChange("messages");
    this.emitChange("profile");
    this.emitChange("clients");
    if (this.connectionWanted) session.connect();
    this.hooks?.opened();
  }

  /** Closes the current conversation (it stays in storage); it stays current while it closes. */
  async closeSession(): Promise<void> {
    const session = this.session;
    await session?.close();
    if (this.session === session) this.session = undefined;
  }

  /** Lets go of the current conversation at once (nothing of it is reported any more), then closes it. */
  async dropSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  /**
   * Writes a new current subject under the lock and tells the other instances. `newClientSecret` replaces
   * the client secret too (a logout or a user switch: nothing may link the next subject on this store to the
   * previous one); without it the store keeps its client secret.
   */
  async replaceSubject(subject: Subject, newClientSecret?: string): Promise<void> {
    await this.notices?.forget(this.roomOf(subject));
    const record = await withIdentityLock(this.storage, this.options.appId, async () => {
      const stored = (await readIdentity(this.storage, this.options.appId)) ?? this.currentRecord();
      const clientSecret = newClientSecret ?? stored.clientSecret;
      const next: IdentityRecord = { clientSecret, current: subject };
      await writeIdentity(this.storage, this.options.appId, next);
      return next;
    });
    this.record = record;
    this.authenticated = false;
    this.hooks?.replaced();
    this.tabs?.announceIdentity();
  }

  /** Has every other instance close `room`, then erases it from the store. */
  async eraseRoom(room: string): Promise<void> {
    await this.tabs?.release(room);
    await Session.erase(this.storage, room);
  }

  /**
   * Waits for the relay's answer on the current conversation (a login or a renewed token); writes skip
   * the queue meanwhile. Without a wanted connection the answer is a timeout at once.
   */
  waitForRelay(): Promise<RelayOutcome> {
    if (!this.connectionWanted) return Promise.resolve({ kind: "timeout" });
    return this.queue.letWritesThrough(() => this.answer.wait(this.session?.isSynced ?? false));
  }

  /** Runs a write on the current conversation, ordered with identity changes (see {@link OperationQueue}). */
  write<T>(task: (session: Session) => Promise<T>): Promise<T> {
    const session = this.session;
    if (this.queue.writesThrough && session !== undefined) return task(session);
    return this.queue.enqueue(() => task(this.currentSession()));
  }

  emitIdentity(): void {
    const identity = this.identity;
    if (identity !== undefined) this.events.emit("identity", identity);
  }

  emitChange(what: "messages" | "profile" | "clients"): void {
    if (!this.events.has(what)) return;
    if (what === "messages") this.events.emit("messages", messagesOf(this.session, this.clientId ?? ""));
    else if (what === "profile") this.events.emit("profile", profileOf(this.session));
    else this.events.emit("clients", clientRecordsOf(this.session));
  }

  emitStatus(): void {
    const status = this.status;
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.events.emit("status", status);
  }

  /** Reports a background failure as an `error` event. */
  report(error: unknown): void {
    if (this.destroyed) return;
    const typed =
      error instanceof Error && "code" in error
        ? (error as ParleyError)
        : new StorageError(`background task failed: ${String(error)}`, { cause: error });
    this.events.emit("error", typed);
  }

  private connectionParams(session: Session): ConnectionParams {
    const record = this.currentRecord();
    const subject = record.current;
    const params: ConnectionParams = {
      [ConnectParam.token]: subject.kind === "anonymous" ? anonymousToken(subject.secret) : subject.token,
      [ConnectParam.client]: record.clientSecret,
      [ConnectParam.acks]: "1",
      [ConnectParam.info]: this.info,
    };
    if (subject.kind === "user" && subject.pendingMerge !== undefined) {
      params[ConnectParam.merge] = anonymousToken(subject.pendingMerge);
    }
    if (this.options.recentPreview > 0 && session.wantsPreview(this.clientId ?? "")) {
      params[ConnectParam.tail] = String(this.options.recentPreview);
    }
    return params;
  }
}
