/**
 * `createClient`: the facade of a Parley client. It checks arguments and hands each call to the module
 * that implements it: state.ts (what an instance holds, opening a conversation), queue.ts, identity/ (one
 * file per lifecycle step: start, login, switch-user, logout, token-refresh, authentication, follow-tabs,
 * garbage-collection), conversation/ and net/. The README's "Source layout" maps behaviours to files.
 */
import {
  assertUserId,
  ClientNotReadyError,
  type ClientRecord,
  InvalidArgumentError,
  type JsonValue,
  type Profile,
} from "@parley/protocol";
import type { ClientEvents, Identity, ParleyClient, ReadPositions } from "./api.js";
import {
  appendMessage,
  appendProfileEntries,
  type ConversationMessage,
  checkSendArguments,
  markReadUpTo,
  type ProfilePatch,
  profileEntries,
  toMessage,
} from "./conversation/conversation.js";
import { previewMaxTimestamp } from "./conversation/preview.js";
import { clientRecordsOf, messagesOf, profileOf, readPositionsOf, unreadCountOf } from "./conversation/reading.js";
import { accepted, refused } from "./identity/authentication.js";
import { Login } from "./identity/login.js";
import { logout } from "./identity/logout.js";
import { start } from "./identity/start.js";
import { switchUser } from "./identity/switch-user.js";
import { TokenRefresh } from "./identity/token-refresh.js";
import { assertTokenFor } from "./identity/token-timer.js";
import type { ConnectionStatus } from "./net/connection.js";
import { followNetwork } from "./net/network-events.js";
import { type ClientOptions, resolveOptions } from "./options.js";
import { ClientState } from "./state.js";
import { indexedDbStorage } from "./storage/indexeddb-storage.js";
import type { ClientStorage } from "./storage/storage.js";

const EVENTS: ReadonlyArray<keyof ClientEvents> = [
  "messages",
  "profile",
  "clients",
  "status",
  "identity",
  "typing",
  "error",
];

function checkOptionsObject(options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new InvalidArgumentError("options", "must be an object");
  }
}

function checkDiscardOption(options: unknown): boolean {
  checkOptionsObject(options);
  const discard = (options as { discardUnsent?: unknown } | undefined)?.discardUnsent;
  if (discard !== undefined && typeof discard !== "boolean") {
    throw new InvalidArgumentError("options.discardUnsent", "must be a boolean");
  }
  return discard === true;
}

class Client implements ParleyClient {
  readonly ready: Promise<void>;
  private readonly state: ClientState;
  private readonly tokens: TokenRefresh;
  private readonly logins: Login;
  private readonly stopFollowingNetwork: () => void;
  private destroying: Promise<void> | undefined;

  constructor(state: ClientState) {
    this.state = state;
    this.tokens = new TokenRefresh(state);
    this.logins = new Login(state);
    state.hooks = {
      merge: (session, secret) => this.logins.mergeLocally(session, secret),
      synced: () => accepted(state, this.tokens, this.logins),
      refused: (code, reason) => refused(state, this.tokens, this.logins, code, reason),
      opened: () => this.tokens.schedule(),
      replaced: () => this.tokens.cancel(),
    };
    this.stopFollowingNetwork = followNetwork({
      online: () => {
        state.session?.retryNow();
        if (state.connectionWanted) state.notices?.deliver();
      },
      offline: () => state.session?.dropSocket(),
    });
    this.ready = state.queue.enqueue(() => start(state, this.tokens));
    // `ready` is also awaited by every method; an unobserved rejection here would crash Node.
    this.ready.catch(() => {});
  }

  get identity(): Identity {
    const identity = this.state.identity;
    if (identity === undefined) throw new ClientNotReadyError("the identity");
    return identity;
  }

  get clientId(): string {
    const clientId = this.state.clientId;
    if (clientId === undefined) throw new ClientNotReadyError("the client id");
    return clientId;
  }

  get status(): ConnectionStatus {
    return this.state.status;
  }

  messages(): ConversationMessage[] {
    this.state.assertAlive();
    return messagesOf(this.state.session, this.state.clientId ?? "");
  }

  readBy(): ReadPositions {
    this.state.assertAlive();
    return readPositionsOf(this.state.session);
  }

  async send(text: string, options?: { metadata?: Record<string, JsonValue> }): Promise<ConversationMessage> {
    this.state.assertAlive();
    checkOptionsObject(options);
    checkSendArguments(text, options?.metadata);
    await this.readyAndAlive();
    return this.state.write(async (session) => {
      const clientId = this.state.clientId ?? "";
      const lastSeen = Math.max(session.index.maxTimestamp(), previewMaxTimestamp(session.preview));
      const entry = appendMessage(session.doc, lastSeen, clientId, text, options?.metadata);
      await session.persist();
      if (session.typing !== null) this.state.typing.setOwn(session, false);
      return toMessage(entry, session.stored, clientId, readPositionsOf(session).business);
    });
  }

  profile(): Profile {
    this.state.assertAlive();
    return profileOf(this.state.session);
  }

  async setProfile(patch: ProfilePatch): Promise<void> {
    this.state.assertAlive();
    await this.readyAndAlive();
    await this.state.write(async (session) => {
      appendProfileEntries(session.doc, profileEntries(session.index, this.state.clientId ?? "", patch));
      await session.persist();
    });
  }

  clients(): ClientRecord[] {
    this.state.assertAlive();
    return clientRecordsOf(this.state.session);
  }

  async markRead(): Promise<void> {
    this.state.assertAlive();
    // Applied at once when a conversation is open (the unread count drops before the next render).
    let session = this.state.session;
    if (session === undefined) {
      await this.readyAndAlive();
      session = this.state.currentSession();
    }
    const newest = Math.max(session.index.all.at(-1)?.record.ts ?? 0, previewMaxTimestamp(session.preview));
    markReadUpTo(session.doc, newest, this.state.clientId ?? "");
    await session.persist();
  }

  unreadCount(): number {
    this.state.assertAlive();
    return unreadCountOf(this.state.session, this.state.clientId ?? "");
  }

  async login(userId: string, jwt: string, options?: { discardUnsent?: boolean }): Promise<{ authenticated: boolean }> {
    this.state.assertAlive();
    assertUserId(userId);
    assertTokenFor(jwt, userId);
    const discardUnsent = checkDiscardOption(options);
    await this.readyAndAlive();
    return this.state.queue.enqueue(async () => {
      const current = this.state.currentRecord().current;
      // An anonymous thread the relay refused to merge is left behind, as a switch leaves a user's.
      if (current.kind === "anonymous" && !current.mergeRefused) return this.logins.fromAnonymous(current, userId, jwt);
      if (current.kind === "user" && current.userId === userId) return this.tokens.renew(jwt);
      return switchUser(this.state, this.tokens, userId, jwt, discardUnsent);
    });
  }

  async logout(options?: { discardUnsent?: boolean }): Promise<void> {
    this.state.assertAlive();
    const discardUnsent = checkDiscardOption(options);
    await this.readyAndAlive();
    await this.state.queue.enqueue(() => logout(this.state, this.tokens, discardUnsent));
  }

  async flush(options?: { timeoutMs?: number }): Promise<void> {
    this.state.assertAlive();
    checkOptionsObject(options);
    const timeoutMs = options?.timeoutMs ?? this.state.options.flushTimeoutMs;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new InvalidArgumentError("options.timeoutMs", "must be a non-negative number of milliseconds");
    }
    await this.readyAndAlive();
    await this.state.currentSession().flush(timeoutMs);
  }

  setTyping(typing: boolean): void {
    this.state.assertAlive();
    if (typeof typing !== "boolean") throw new InvalidArgumentError("typing", "must be a boolean");
    if (this.state.session !== undefined) this.state.typing.setOwn(this.state.session, typing);
  }

  businessTyping(): boolean {
    this.state.assertAlive();
    return this.state.session?.businessTyping(Date.now()) != null;
  }

  connect(): void {
    const state = this.state;
    state.assertAlive();
    if (state.options.WebSocket === undefined) {
      throw new InvalidArgumentError("options.WebSocket", "is required to connect to the relay");
    }
    if (state.connectionWanted) return;
    state.connectionWanted = true;
    state.session?.connect();
    this.tokens.schedule();
    state.notices?.deliver();
  }

  disconnect(): void {
    const state = this.state;
    state.assertAlive();
    if (!state.connectionWanted) return;
    state.connectionWanted = false;
    this.tokens.cancel();
    state.session?.disconnect();
    // A login waiting for the relay resolves `{ authenticated: false }` now rather than at its timeout.
    state.answer.settle({ kind: "timeout" });
  }

  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    this.checkListener(event, listener);
    return this.state.events.on(event, listener);
  }

  once<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    this.checkListener(event, listener);
    return this.state.events.once(event, listener);
  }

  destroy(): Promise<void> {
    this.destroying ??= this.release();
    return this.destroying;
  }

  private async release(): Promise<void> {
    const state = this.state;
    state.phase = "destroyed";
    this.stopFollowingNetwork();
    state.notices?.close();
    state.typing.close();
    this.tokens.cancel();
    state.answer.settle({ kind: "timeout" });
    state.tabs?.close();
    await state.dropSession();
    state.events.clear();
  }

  private checkListener(event: unknown, listener: unknown): void {
    this.state.assertAlive();
    if (!EVENTS.includes(event as keyof ClientEvents)) {
      throw new InvalidArgumentError("event", `must be one of ${EVENTS.join(", ")}`);
    }
    if (typeof listener !== "function") throw new InvalidArgumentError("listener", "must be a function");
  }

  private async readyAndAlive(): Promise<void> {
    await this.ready;
    this.state.assertAlive();
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
  let storage: ClientStorage | undefined = resolved.storage;
  if (storage === undefined) {
    if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === "undefined") {
      throw new InvalidArgumentError("options.storage", "is required where IndexedDB is unavailable");
    }
    storage = indexedDbStorage();
  }
  return new Client(new ClientState(resolved, storage));
}
