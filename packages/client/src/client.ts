/**
 * `createClient`: the identity lifecycle (anonymous → login → switch → logout), one open conversation
 * at a time, and the bookkeeping that keeps several instances on one store ("tabs") in step.
 *
 * Identity changes run one at a time per instance (an operation queue) and change the stored identity
 * record under the identity lock; other instances learn about it over the tabs channel and follow.
 */
import {
  anonymousIdFromSecret,
  anonymousToken,
  assertUserId,
  ClientDestroyedError,
  type ClientRecord,
  ConnectParam,
  clientIdFromSecret,
  clientsOf,
  createSecret,
  encodeClientInfo,
  InvalidArgumentError,
  isAuthClose,
  type JsonValue,
  type ParleyError,
  type Profile,
  parseRoomName,
  RelayUnavailableError,
  readPositions,
  readProfile,
  roomName,
  StorageError,
  TokenExpiredError,
} from "@parley/protocol";
import * as Y from "yjs";
import {
  appendMessage,
  appendProfileEntries,
  type ConversationMessage,
  checkSendArguments,
  countUnread,
  markReadUpTo,
  type ProfilePatch,
  profileEntries,
  readMessages,
  toMessage,
} from "./conversation/conversation.js";
import { previewMaxTimestamp, withPreview } from "./conversation/preview.js";
import { Session } from "./conversation/session.js";
import { type TYPING_INDICATOR_MS, TypingIndicators, type TypingState } from "./conversation/typing.js";
import { Emitter } from "./events.js";
import {
  type IdentityRecord,
  newAnonymousSubject,
  readIdentity,
  type Subject,
  sameSubject,
  type UserSubject,
  withIdentityLock,
  writeIdentity,
} from "./identity/identity-record.js";
import { LogoutNotices } from "./identity/logout-notices.js";
import { Tabs } from "./identity/tabs.js";
import { assertTokenFor, longTimeout, refreshDelay } from "./identity/token-timer.js";
import { errorForClose } from "./net/close-errors.js";
import { Connection, type ConnectionParams, type ConnectionStatus } from "./net/connection.js";
import { followNetwork } from "./net/network-events.js";
import { type ClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { indexedDbStorage } from "./storage/indexeddb-storage.js";
import type { ClientStorage } from "./storage/storage.js";
import { SDK_VERSION } from "./version.js";

/** Who the client speaks for. */
export type Identity =
  | { kind: "anonymous"; anonymousId: string }
  | {
      kind: "user";
      userId: string;
      /** Whether the relay has accepted the current token on this instance. */
      authenticated: boolean;
    };

/** Read positions: the `ts` of the newest message read, 0 for nothing. */
export interface ReadPositions {
  user: number;
  business: number;
}

/** Events of a {@link ParleyClient} and their payloads. */
export interface ClientEvents {
  /** The messages (or their statuses, or the read position) changed. */
  messages: ConversationMessage[];
  profile: Profile;
  clients: ClientRecord[];
  status: ConnectionStatus;
  identity: Identity;
  /** Whether the business is typing changed. Ephemeral: nothing of it is stored. */
  typing: TypingState;
  /** Something failed in the background (a refused token, a storage failure). */
  error: ParleyError;
}

/** A Parley client. See {@link createClient}. */
export interface ParleyClient {
  /** Resolves once the identity and the local conversation are loaded; works offline. */
  readonly ready: Promise<void>;
  /** Who the client speaks for (anonymous with an empty id until `ready`). */
  readonly identity: Identity;
  /** This store's client id (survives logouts; empty until `ready`). */
  readonly clientId: string;
  /** The relay connection. */
  readonly status: ConnectionStatus;
  /** The conversation in display order (`(ts, id)`, identical on every client). */
  messages(): ConversationMessage[];
  /** Appends a message; resolves once it is stored locally (status `pending` until the relay stores it). */
  send(text: string, options?: { metadata?: Record<string, JsonValue> }): Promise<ConversationMessage>;
  /** The user's profile (newest write per field wins). */
  profile(): Profile;
  /** Changes profile fields (`null` clears one) and custom properties; resolves once stored locally. */
  setProfile(patch: ProfilePatch): Promise<void>;
  /** The user's clients as recorded by the relay. */
  clients(): ClientRecord[];
  /** Marks every message so far as read (for this user, across their clients). */
  markRead(): void;
  /** Business messages newer than the user's read position. */
  unreadCount(): number;
  /**
   * How far the user (the furthest of their clients) and the business have read: the `ts` of the newest
   * message each has read, 0 for nothing. Per message, see {@link ConversationMessage.readByBusiness}.
   */
  readBy(): ReadPositions;
  /**
   * Logs in as `userId` with a JWT from the app's backend.
   *
   * From anonymous: the anonymous thread and profile are merged into the user's at once (usable offline),
   * and the relay merges them on the first connection. Resolves `{ authenticated: true }` once the relay
   * accepted the token, `{ authenticated: false }` if it could not be reached within `loginTimeoutMs`
   * (the client keeps trying; a later refusal is an `error` event). If the relay refuses the token, the
   * anonymous identity and thread are restored untouched and the promise rejects with the typed error.
   *
   * As another user: the current user's unsent changes are flushed first ({@link UnsentChangesError}
   * unless `discardUnsent`), the new token is checked with the relay (rejecting leaves everything as it
   * was), then the previous user's data is deleted from this store and the new user's thread loads.
   *
   * As the same user: stores the new token.
   */
  login(userId: string, jwt: string, options?: { discardUnsent?: boolean }): Promise<{ authenticated: boolean }>;
  /**
   * Logs out: flushes unsent changes ({@link UnsentChangesError} if the relay cannot store them, unless
   * `discardUnsent`), tells the relay this client left (it is marked inactive; an anonymous user is
   * revoked), deletes the conversation from this store, and continues as a new anonymous user.
   * Other instances on the store follow.
   */
  logout(options?: { discardUnsent?: boolean }): Promise<void>;
  /** Resolves once the relay has durably stored everything local; rejects with {@link UnsentChangesError}. */
  flush(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Shows (or stops showing) the user typing to the room: the business and the user's other clients.
   * Call it again while the user keeps typing; it ends by itself {@link TYPING_INDICATOR_MS} after the last
   * call, and when the user sends. Ephemeral: never stored, not sent while offline.
   */
  setTyping(typing: boolean): void;
  /** Whether the business is typing (see the `typing` event). */
  businessTyping(): boolean;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void;
  /** Disconnects and releases the store. Every later call rejects with {@link ClientDestroyedError}. */
  destroy(): Promise<void>;
}

type LoginOutcome = { kind: "synced" } | { kind: "refused"; error: ParleyError } | { kind: "timeout" };

const LOGOUT_FRAME_TIMEOUT_MS = 2_000;
const EVENTS: ReadonlyArray<keyof ClientEvents> = [
  "messages",
  "profile",
  "clients",
  "status",
  "identity",
  "typing",
  "error",
];

function defaultPlatform(): string {
  const scope = globalThis as { document?: unknown; process?: { versions?: { node?: string } } };
  if (scope.document !== undefined) return "web";
  if (scope.process?.versions?.node !== undefined) return "node";
  return "unknown";
}

function roomOf(appId: string, subject: Subject): string {
  return subject.kind === "anonymous"
    ? roomName({ appId, kind: "anonymous", subject: anonymousIdFromSecret(subject.secret) })
    : roomName({ appId, kind: "user", subject: subject.userId });
}

function checkDiscardOption(options: unknown): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== "object") throw new InvalidArgumentError("options", "must be an object");
  const discard = (options as { discardUnsent?: unknown }).discardUnsent;
  if (discard !== undefined && typeof discard !== "boolean") {
    throw new InvalidArgumentError("options.discardUnsent", "must be a boolean");
  }
  return discard === true;
}

class Client implements ParleyClient {
  readonly ready: Promise<void>;
  private readonly options: ResolvedOptions;
  private readonly storage: ClientStorage;
  private readonly events = new Emitter<ClientEvents>();
  private readonly info: string;
  private record: IdentityRecord | undefined;
  private session: Session | undefined;
  private tabs: Tabs | undefined;
  private destroyed = false;
  private authenticated = false;
  /** A fresh token was fetched after a refusal; a second refusal in a row is final. */
  private refreshedAfterRefusal = false;
  private cancelRefresh: (() => void) | undefined;
  private operations: Promise<unknown> = Promise.resolve();
  private loginWaiter: ((outcome: LoginOutcome) => void) | undefined;
  private mergeCompletion: Promise<void> = Promise.resolve();
  /** A login is waiting for the relay with its session in place; writes need not wait for it. */
  private writableWhileWaiting = false;
  private lastStatus: ConnectionStatus = "offline";
  private readonly typing = new TypingIndicators((state) => this.events.emit("typing", state));
  private readonly stopFollowingNetwork: () => void;
  private readonly notices: LogoutNotices | undefined;

  constructor(options: ResolvedOptions, storage: ClientStorage) {
    this.options = options;
    this.storage = storage;
    this.info = encodeClientInfo({
      platform: options.clientInfo.platform ?? defaultPlatform(),
      ...(options.clientInfo.appVersion === undefined ? {} : { appVersion: options.clientInfo.appVersion }),
      sdkVersion: SDK_VERSION,
    });
    if (options.connect && options.WebSocket !== undefined) {
      this.notices = new LogoutNotices({
        storage,
        appId: options.appId,
        relayUrl: options.relayUrl,
        WebSocket: options.WebSocket,
        info: this.info,
      });
    }
    this.stopFollowingNetwork = followNetwork({
      online: () => {
        this.session?.retryNow();
        this.notices?.deliver();
      },
      offline: () => this.session?.dropSocket(),
    });
    this.ready = this.enqueue(() => this.initialize());
    // `ready` is also awaited by every method; an unobserved rejection here would crash Node.
    this.ready.catch(() => {});
  }

  get identity(): Identity {
    const subject = this.record?.current;
    if (subject === undefined) return { kind: "anonymous", anonymousId: "" };
    if (subject.kind === "anonymous") return { kind: "anonymous", anonymousId: anonymousIdFromSecret(subject.secret) };
    return { kind: "user", userId: subject.userId, authenticated: this.authenticated };
  }

  get clientId(): string {
    return this.record === undefined ? "" : clientIdFromSecret(this.record.clientSecret);
  }

  get status(): ConnectionStatus {
    return this.session?.status ?? "offline";
  }

  messages(): ConversationMessage[] {
    this.assertAlive();
    const session = this.session;
    if (session === undefined) return [];
    const business = this.readBy().business;
    const local = readMessages(session.index, session.stored, this.clientId, business);
    const preview = session.preview;
    return preview === undefined ? local : withPreview(local, preview, this.clientId, business);
  }

  readBy(): ReadPositions {
    this.assertAlive();
    const session = this.session;
    if (session === undefined) return { user: 0, business: 0 };
    const positions = readPositions(session.doc);
    const preview = session.preview;
    if (preview === undefined) return positions;
    return {
      user: Math.max(positions.user, preview.reads.user),
      business: Math.max(positions.business, preview.reads.business),
    };
  }

  async send(text: string, options?: { metadata?: Record<string, JsonValue> }): Promise<ConversationMessage> {
    this.assertAlive();
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new InvalidArgumentError("options", "must be an object");
    }
    checkSendArguments(text, options?.metadata);
    await this.readyAndAlive();
    return this.write(async (session) => {
      const lastSeen = Math.max(session.index.maxTimestamp(), previewMaxTimestamp(session.preview));
      const entry = appendMessage(session.doc, lastSeen, this.clientId, text, options?.metadata);
      await session.persist();
      if (session.typing !== null) this.typing.setOwn(session, false);
      return toMessage(entry, session.stored, this.clientId, this.readBy().business);
    });
  }

  profile(): Profile {
    this.assertAlive();
    return this.session === undefined ? { properties: {} } : readProfile(this.session.doc);
  }

  async setProfile(patch: ProfilePatch): Promise<void> {
    this.assertAlive();
    await this.readyAndAlive();
    await this.write(async (session) => {
      appendProfileEntries(session.doc, profileEntries(session.index, this.clientId, patch));
      await session.persist();
    });
  }

  clients(): ClientRecord[] {
    this.assertAlive();
    return this.session === undefined ? [] : [...clientsOf(this.session.doc).values()];
  }

  markRead(): void {
    this.assertAlive();
    const session = this.session;
    if (session === undefined) return;
    const newest = Math.max(session.index.all.at(-1)?.record.ts ?? 0, previewMaxTimestamp(session.preview));
    markReadUpTo(session.doc, newest, this.clientId);
  }

  unreadCount(): number {
    this.assertAlive();
    return this.session === undefined ? 0 : countUnread(this.messages(), this.readBy().user);
  }

  async login(userId: string, jwt: string, options?: { discardUnsent?: boolean }): Promise<{ authenticated: boolean }> {
    this.assertAlive();
    assertUserId(userId);
    assertTokenFor(jwt, userId);
    const discardUnsent = checkDiscardOption(options);
    await this.readyAndAlive();
    return this.enqueue(async () => {
      const current = this.currentRecord().current;
      if (current.kind === "anonymous") return this.loginFromAnonymous(current.secret, userId, jwt);
      if (current.userId === userId) return this.renewToken(jwt);
      return this.switchUser(userId, jwt, discardUnsent);
    });
  }

  async logout(options?: { discardUnsent?: boolean }): Promise<void> {
    this.assertAlive();
    const discardUnsent = checkDiscardOption(options);
    await this.readyAndAlive();
    await this.enqueue(async () => {
      const session = this.currentSession();
      const previous = this.currentRecord().current;
      if (!discardUnsent) await session.flush(this.options.flushTimeoutMs);
      if (!(await session.logoutFromRelay(LOGOUT_FRAME_TIMEOUT_MS))) await this.rememberLogout(previous);
      await session.close();
      this.session = undefined;
      await this.replaceSubject(newAnonymousSubject());
      for (const room of this.roomsOf(previous)) await this.eraseRoom(room);
      await this.openSession();
    });
  }

  async flush(options?: { timeoutMs?: number }): Promise<void> {
    this.assertAlive();
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new InvalidArgumentError("options", "must be an object");
    }
    const timeoutMs = options?.timeoutMs ?? this.options.flushTimeoutMs;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new InvalidArgumentError("options.timeoutMs", "must be a non-negative number of milliseconds");
    }
    await this.readyAndAlive();
    await this.currentSession().flush(timeoutMs);
  }

  setTyping(typing: boolean): void {
    this.assertAlive();
    if (typeof typing !== "boolean") throw new InvalidArgumentError("typing", "must be a boolean");
    if (this.session !== undefined) this.typing.setOwn(this.session, typing);
  }

  businessTyping(): boolean {
    this.assertAlive();
    return this.session?.businessTyping(Date.now()) != null;
  }

  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    this.assertAlive();
    if (!EVENTS.includes(event)) throw new InvalidArgumentError("event", `must be one of ${EVENTS.join(", ")}`);
    if (typeof listener !== "function") throw new InvalidArgumentError("listener", "must be a function");
    return this.events.on(event, listener);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) throw new ClientDestroyedError();
    this.destroyed = true;
    this.stopFollowingNetwork();
    this.notices?.close();
    this.typing.close();
    this.cancelRefresh?.();
    this.loginWaiter?.({ kind: "timeout" });
    this.tabs?.close();
    const session = this.session;
    this.session = undefined;
    await session?.close();
    this.events.clear();
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  private async initialize(): Promise<void> {
    this.record = await withIdentityLock(this.storage, this.options.appId, async () => {
      const existing = await readIdentity(this.storage, this.options.appId);
      if (existing !== undefined) return existing;
      const created: IdentityRecord = { clientSecret: createSecret(), current: newAnonymousSubject() };
      await writeIdentity(this.storage, this.options.appId, created);
      return created;
    });
    // destroy() may have run while the record was read; an open channel would keep Node alive.
    this.assertAlive();
    if (this.options.tabSync && typeof BroadcastChannel === "function") {
      this.tabs = new Tabs({
        name: `parley/${this.options.appId}/${this.clientId}/identity`,
        onIdentityChanged: () => {
          this.enqueue(() => this.follow()).catch((error: unknown) => this.report(error));
        },
        onRelease: (room) => this.enqueue(() => this.releaseRoom(room)),
      });
    }
    await this.openSession();
    this.enqueue(() => this.collectGarbage()).catch(() => {});
    this.notices?.deliver();
  }

  /** Opens the current subject's conversation (merging a pending anonymous thread in) and connects. */
  private async openSession(): Promise<void> {
    this.assertAlive();
    const record = this.currentRecord();
    const subject = record.current;
    const room = roomOf(this.options.appId, subject);
    let session: Session | undefined;
    session = await Session.open({
      storage: this.storage,
      room,
      clientId: this.clientId,
      relayUrl: this.options.relayUrl,
      WebSocket: this.options.WebSocket,
      tabChannel: this.options.tabSync ? `parley/${this.options.appId}/doc/${subject.nonce}` : undefined,
      params: () => this.connectionParams(session as Session),
      onChange: (what) => {
        if (session === this.session) this.emitChange(what);
      },
      onStatus: () => {
        if (session === this.session) this.emitStatus();
      },
      onSynced: () => {
        if (session === this.session) this.onSynced();
      },
      onRefused: (code, reason) => {
        if (session === this.session) this.onRefused(code, reason);
      },
      onPresence: () => {
        if (session === this.session) this.typing.refresh(session);
      },
    });
    if (this.destroyed) {
      await session.close();
      throw new ClientDestroyedError();
    }
    if (subject.kind === "user" && subject.pendingMerge !== undefined) {
      await this.mergeLocally(session, subject.pendingMerge);
    }
    this.session = session;
    this.typing.refresh(session);
    this.events.emit("identity", this.identity);
    this.emitChange("messages");
    this.emitChange("profile");
    this.emitChange("clients");
    if (this.options.connect) session.connect();
    this.scheduleRefresh();
  }

  /** Applies the stored anonymous thread into the user's document (idempotent, works offline). */
  private async mergeLocally(session: Session, anonymousSecret: string): Promise<void> {
    const anonymousRoom = roomOf(this.options.appId, { kind: "anonymous", secret: anonymousSecret, nonce: "" });
    if (!(await this.storage.listDocs()).includes(anonymousRoom)) return;
    const anonymousDoc = new Y.Doc();
    const handle = await this.storage.openDoc(anonymousRoom, anonymousDoc);
    try {
      Y.applyUpdate(session.doc, Y.encodeStateAsUpdate(anonymousDoc));
      // What the relay stored in the anonymous room it merges from there: not the user's unsent content.
      session.adoptStored(await Session.readStored(this.storage, anonymousRoom));
      await session.persist();
    } finally {
      await handle.close();
      anonymousDoc.destroy();
    }
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
    if (this.options.recentPreview > 0 && session.wantsPreview(this.clientId)) {
      params[ConnectParam.tail] = String(this.options.recentPreview);
    }
    return params;
  }

  private onSynced(): void {
    this.refreshedAfterRefusal = false;
    // The relay is reachable: tell it about logouts it missed.
    this.notices?.deliver();
    const subject = this.currentRecord().current;
    if (subject.kind === "user") {
      const changed = !this.authenticated;
      this.authenticated = true;
      if (subject.pendingMerge !== undefined) {
        this.mergeCompletion = this.completeMerge(subject).catch((error: unknown) => this.report(error));
      }
      if (changed) this.events.emit("identity", this.identity);
    }
    const waiter = this.loginWaiter;
    this.loginWaiter = undefined;
    waiter?.({ kind: "synced" });
  }

  private onRefused(code: number, reason: string): void {
    const error = errorForClose(code, reason);
    const waiter = this.loginWaiter;
    if (waiter !== undefined) {
      this.loginWaiter = undefined;
      waiter({ kind: "refused", error });
      return;
    }
    const subject = this.currentRecord().current;
    if (subject.kind === "user") {
      this.authenticated = false;
      this.events.emit("identity", this.identity);
      if (isAuthClose(code) && this.options.onTokenExpired !== undefined && !this.refreshedAfterRefusal) {
        this.refreshedAfterRefusal = true;
        this.refreshToken(subject).then(
          (fresh) => {
            if (fresh) this.session?.connect();
          },
          // The app could not provide a token: what the caller needs to know is why the relay refused.
          () => this.report(error),
        );
        return;
      }
    }
    this.report(error);
  }

  /** After the first synced connection with `merge`: the relay has merged; forget the anonymous thread. */
  private async completeMerge(subject: UserSubject): Promise<void> {
    const anonymousSecret = subject.pendingMerge;
    if (anonymousSecret === undefined) return;
    const updated = await withIdentityLock(this.storage, this.options.appId, async () => {
      const stored = await readIdentity(this.storage, this.options.appId);
      if (stored === undefined || stored.current.kind !== "user" || !sameSubject(stored.current, subject)) return null;
      // Another instance completed it already (and erases the anonymous thread).
      if (stored.current.pendingMerge === undefined) return null;
      const { pendingMerge: _merged, ...rest } = stored.current;
      const record: IdentityRecord = { clientSecret: stored.clientSecret, current: rest };
      await writeIdentity(this.storage, this.options.appId, record);
      return record;
    });
    if (updated === null) return;
    if (this.record !== undefined && sameSubject(this.record.current, subject)) this.record = updated;
    this.tabs?.announceIdentity();
    await this.eraseRoom(roomOf(this.options.appId, { kind: "anonymous", secret: anonymousSecret, nonce: "" }));
  }

  // ── identity transitions (run inside the operation queue) ──────────────────

  private async loginFromAnonymous(
    anonymousSecret: string,
    userId: string,
    jwt: string,
  ): Promise<{ authenticated: boolean }> {
    const anonymous = this.currentRecord().current;
    const anonymousSession = this.currentSession();
    await anonymousSession.persist();
    await anonymousSession.close();
    this.session = undefined;
    await this.replaceSubject({
      kind: "user",
      userId,
      token: jwt,
      nonce: createSecret(),
      pendingMerge: anonymousSecret,
    });
    await this.openSession();
    const outcome = await this.waitWritable();
    this.assertAlive();
    if (outcome.kind === "timeout") return { authenticated: false };
    if (outcome.kind === "synced") {
      await this.mergeCompletion;
      return { authenticated: true };
    }
    // Refused: put the anonymous identity back and erase the half-made user thread. The relay sent nothing
    // before refusing, so that thread holds only the anonymous one plus what was written meanwhile: keep that.
    const userSession = this.currentSession();
    await userSession.persist();
    const writtenMeanwhile = Y.encodeStateAsUpdate(userSession.doc);
    await userSession.close();
    this.session = undefined;
    await this.replaceSubject(anonymous);
    await this.eraseRoom(userSession.room);
    await this.openSession();
    const restored = this.currentSession();
    Y.applyUpdate(restored.doc, writtenMeanwhile);
    await restored.persist();
    throw outcome.error;
  }

  private async renewToken(jwt: string): Promise<{ authenticated: boolean }> {
    const subject = this.currentRecord().current as UserSubject;
    await this.storeToken(subject, jwt);
    this.refreshedAfterRefusal = false;
    const session = this.currentSession();
    if (!this.options.connect) return { authenticated: this.authenticated };
    session.reconnect();
    const outcome = await this.waitWritable();
    this.assertAlive();
    if (outcome.kind === "refused") {
      this.authenticated = false;
      this.events.emit("identity", this.identity);
      throw outcome.error;
    }
    return { authenticated: outcome.kind === "synced" };
  }

  private async switchUser(userId: string, jwt: string, discardUnsent: boolean): Promise<{ authenticated: boolean }> {
    const previous = this.currentSession();
    if (!discardUnsent) await previous.flush(this.options.flushTimeoutMs);
    const subject: UserSubject = { kind: "user", userId, token: jwt, nonce: createSecret() };
    const room = roomOf(this.options.appId, subject);
    const thread = await this.checkWithRelay(room, jwt);
    this.assertAlive();
    const previousSubject = this.currentRecord().current;
    if (!(await previous.logoutFromRelay(LOGOUT_FRAME_TIMEOUT_MS))) await this.rememberLogout(previousSubject);
    await previous.close();
    this.session = undefined;
    await this.replaceSubject(subject);
    for (const stale of this.roomsOf(previousSubject)) await this.eraseRoom(stale);
    // The relay accepted this token a moment ago.
    this.authenticated = true;
    await this.openSession();
    const session = this.currentSession();
    Y.applyUpdate(session.doc, thread);
    await session.persist();
    return { authenticated: this.authenticated };
  }

  /** Connects to `room` with `jwt` on a scratch document; returns its state, or throws the refusal. */
  private async checkWithRelay(room: string, jwt: string): Promise<Uint8Array> {
    const WebSocket = this.options.WebSocket;
    if (!this.options.connect || WebSocket === undefined) {
      throw new RelayUnavailableError("switching users needs the relay to check the new token");
    }
    const doc = new Y.Doc();
    const clientSecret = this.currentRecord().clientSecret;
    try {
      const outcome = await new Promise<LoginOutcome>((resolve) => {
        // The probe must stop in every outcome, or it would keep reconnecting as the other user.
        const finish = (value: LoginOutcome) => {
          clearTimeout(timer);
          connection.stop();
          resolve(value);
        };
        const timer = setTimeout(() => finish({ kind: "timeout" }), this.options.loginTimeoutMs);
        const connection = new Connection({
          relayUrl: this.options.relayUrl,
          room,
          doc,
          WebSocket,
          params: () => ({ token: jwt, client: clientSecret, acks: "1", info: this.info }),
          onStatus: () => {},
          onStored: () => {},
          onSynced: () => finish({ kind: "synced" }),
          onRefused: (code, reason) => finish({ kind: "refused", error: errorForClose(code, reason) }),
        });
        connection.start();
        timer.unref?.();
      });
      if (outcome.kind === "refused") throw outcome.error;
      if (outcome.kind === "timeout") {
        throw new RelayUnavailableError(`the relay did not answer within ${this.options.loginTimeoutMs} ms`);
      }
      return Y.encodeStateAsUpdate(doc);
    } finally {
      doc.destroy();
    }
  }

  /** Another instance changed the identity record: adopt it. */
  private async follow(): Promise<void> {
    if (this.destroyed) return;
    const stored = await readIdentity(this.storage, this.options.appId);
    const current = this.record?.current;
    if (stored === undefined || current === undefined) return;
    if (sameSubject(stored.current, current)) {
      const tokenChanged =
        stored.current.kind === "user" && current.kind === "user" && stored.current.token !== current.token;
      this.record = stored;
      if (tokenChanged) {
        this.refreshedAfterRefusal = false;
        this.scheduleRefresh();
        if (this.session !== undefined && this.session.status === "offline") this.session.connect();
      }
      return;
    }
    const session = this.session;
    this.session = undefined;
    await session?.close();
    this.record = stored;
    this.authenticated = false;
    await this.openSession();
  }

  /** Another instance is about to erase `room`: let go of it. */
  private async releaseRoom(room: string): Promise<void> {
    if (this.session?.room !== room) return;
    const session = this.session;
    this.session = undefined;
    await session.close();
  }

  /** Writes a new current subject under the lock and tells the other instances. */
  private async replaceSubject(subject: Subject): Promise<void> {
    await this.notices?.forget(roomOf(this.options.appId, subject));
    const record = await withIdentityLock(this.storage, this.options.appId, async () => {
      const stored = (await readIdentity(this.storage, this.options.appId)) ?? this.currentRecord();
      const next: IdentityRecord = { clientSecret: stored.clientSecret, current: subject };
      await writeIdentity(this.storage, this.options.appId, next);
      return next;
    });
    this.record = record;
    this.authenticated = false;
    this.cancelRefresh?.();
    this.tabs?.announceIdentity();
  }

  /**
   * Keeps a notice of a logout the relay did not receive, for `subject`'s room and for an anonymous room
   * whose merge the relay never made (its secret must be revoked too); delivered when the relay is back.
   */
  private async rememberLogout(subject: Subject): Promise<void> {
    if (this.notices === undefined) return;
    const clientSecret = this.currentRecord().clientSecret;
    const token = subject.kind === "anonymous" ? anonymousToken(subject.secret) : subject.token;
    await this.notices.add({ room: roomOf(this.options.appId, subject), token, clientSecret });
    if (subject.kind === "user" && subject.pendingMerge !== undefined) {
      const anonymous: Subject = { kind: "anonymous", secret: subject.pendingMerge, nonce: "" };
      const anonymousNotice = { room: roomOf(this.options.appId, anonymous), clientSecret };
      await this.notices.add({ ...anonymousNotice, token: anonymousToken(subject.pendingMerge) });
    }
    this.notices.deliver();
  }

  /** The rooms stored for `subject`: its conversation and an anonymous one awaiting the relay's merge. */
  private roomsOf(subject: Subject): string[] {
    const rooms = [roomOf(this.options.appId, subject)];
    if (subject.kind === "user" && subject.pendingMerge !== undefined) {
      rooms.push(roomOf(this.options.appId, { kind: "anonymous", secret: subject.pendingMerge, nonce: "" }));
    }
    return rooms;
  }

  /** Has every other instance close `room`, then erases it from the store. */
  private async eraseRoom(room: string): Promise<void> {
    await this.tabs?.release(room);
    await Session.erase(this.storage, room);
  }

  /** Deletes conversations of this app the current identity no longer needs (left by a crash mid-logout). */
  private async collectGarbage(): Promise<void> {
    // Under the lock and from a fresh read, so a login or logout in another instance is never undercut.
    await withIdentityLock(this.storage, this.options.appId, async () => {
      const stored = await readIdentity(this.storage, this.options.appId);
      if (stored === undefined) return;
      const keep = new Set(this.roomsOf(stored.current));
      if (this.session !== undefined) keep.add(this.session.room);
      for (const name of await this.storage.listDocs()) {
        if (keep.has(name) || parseRoomName(name)?.appId !== this.options.appId) continue;
        // A document another instance still holds open stays until a later start.
        await Session.erase(this.storage, name).catch(() => {});
      }
    }).catch(() => {});
  }

  // ── tokens ─────────────────────────────────────────────────────────────────

  private scheduleRefresh(): void {
    this.cancelRefresh?.();
    this.cancelRefresh = undefined;
    const subject = this.record?.current;
    if (subject?.kind !== "user" || this.options.onTokenExpired === undefined || !this.options.connect) return;
    const delay = refreshDelay(subject.token, Date.now());
    if (delay === undefined) return;
    this.cancelRefresh = longTimeout(() => {
      this.cancelRefresh = undefined;
      this.refreshToken(subject).then(
        (fresh) => {
          if (fresh) this.session?.reconnect();
        },
        (error: unknown) => this.report(error),
      );
    }, delay);
  }

  /** Asks the app for a fresh token and stores it; `false` if the subject changed meanwhile. */
  private async refreshToken(subject: UserSubject): Promise<boolean> {
    const callback = this.options.onTokenExpired;
    if (callback === undefined) return false;
    let token: unknown;
    try {
      token = await callback(subject.userId);
    } catch (cause) {
      const error = new TokenExpiredError(`onTokenExpired failed: ${String(cause)}`);
      throw error;
    }
    assertTokenFor(token, subject.userId, "onTokenExpired() result");
    if (this.destroyed) return false;
    const current = this.record?.current;
    if (current === undefined || !sameSubject(current, subject)) return false;
    const previousExpiry = refreshDelay(subject.token, 0);
    await this.storeToken(subject, token);
    // A token that expires no later than the old one would make the refresh timer spin.
    if (previousExpiry !== undefined && (refreshDelay(token, 0) ?? Number.POSITIVE_INFINITY) <= previousExpiry) {
      this.cancelRefresh?.();
      this.cancelRefresh = undefined;
    }
    return true;
  }

  private async storeToken(subject: UserSubject, token: string): Promise<void> {
    const record = await withIdentityLock(this.storage, this.options.appId, async () => {
      const stored = await readIdentity(this.storage, this.options.appId);
      if (stored === undefined || stored.current.kind !== "user" || !sameSubject(stored.current, subject)) return null;
      const next: IdentityRecord = { clientSecret: stored.clientSecret, current: { ...stored.current, token } };
      await writeIdentity(this.storage, this.options.appId, next);
      return next;
    });
    if (record === null) return;
    this.record = record;
    this.scheduleRefresh();
    this.tabs?.announceIdentity();
  }

  // ── plumbing ───────────────────────────────────────────────────────────────

  private async waitWritable(): Promise<LoginOutcome> {
    this.writableWhileWaiting = true;
    try {
      return await this.waitForOutcome();
    } finally {
      this.writableWhileWaiting = false;
    }
  }

  private waitForOutcome(): Promise<LoginOutcome> {
    if (!this.options.connect) return Promise.resolve({ kind: "timeout" });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.loginWaiter === finish) this.loginWaiter = undefined;
        resolve({ kind: "timeout" });
      }, this.options.loginTimeoutMs);
      const finish = (outcome: LoginOutcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.loginWaiter = finish;
      if (this.session?.isSynced) {
        this.loginWaiter = undefined;
        finish({ kind: "synced" });
      }
    });
  }

  /**
   * Runs a write on the current conversation. Writes are ordered with identity changes (a message sent
   * after `logout()` was called goes to the identity that results), except while a login only waits for
   * the relay's answer: the merged thread is usable at once.
   */
  private write<T>(task: (session: Session) => Promise<T>): Promise<T> {
    if (this.writableWhileWaiting && this.session !== undefined) return task(this.session);
    return this.enqueue(() => task(this.currentSession()));
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.operations.then(
      () => this.guarded(task),
      () => this.guarded(task),
    );
    this.operations = run.catch(() => {});
    return run;
  }

  private async guarded<T>(task: () => Promise<T>): Promise<T> {
    if (this.destroyed) throw new ClientDestroyedError();
    return task();
  }

  private async readyAndAlive(): Promise<void> {
    await this.ready;
    this.assertAlive();
  }

  private assertAlive(): void {
    if (this.destroyed) throw new ClientDestroyedError();
  }

  private currentRecord(): IdentityRecord {
    if (this.record === undefined) throw new StorageError("the identity is not loaded");
    return this.record;
  }

  private currentSession(): Session {
    this.assertAlive();
    if (this.session === undefined) throw new StorageError("no conversation is open");
    return this.session;
  }

  private emitChange(what: "messages" | "profile" | "clients"): void {
    if (!this.events.has(what)) return;
    if (what === "messages") this.events.emit("messages", this.messages());
    else if (what === "profile") this.events.emit("profile", this.profile());
    else this.events.emit("clients", this.clients());
  }

  private emitStatus(): void {
    const status = this.status;
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.events.emit("status", status);
  }

  private report(error: unknown): void {
    if (this.destroyed) return;
    const typed =
      error instanceof Error && "code" in error
        ? (error as ParleyError)
        : new StorageError(`background task failed: ${String(error)}`, { cause: error });
    this.events.emit("error", typed);
  }
}

/**
 * Creates a Parley client. It works offline from the first call: an anonymous identity and an empty
 * conversation are created in `storage` on first use, and come back on the next start.
 *
 * @throws {@link InvalidArgumentError} if an option is missing or malformed.
 */
export function createClient(options: ClientOptions): ParleyClient {
  const resolved = resolveOptions(options);
  let storage = resolved.storage;
  if (storage === undefined) {
    if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === "undefined") {
      throw new InvalidArgumentError("options.storage", "is required where IndexedDB is unavailable");
    }
    storage = indexedDbStorage();
  }
  return new Client(resolved, storage);
}
