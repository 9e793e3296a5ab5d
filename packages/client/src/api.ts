/** The public shape of a Parley client: who it speaks for, its events, and {@link ParleyClient}. */
import type { ClientRecord, JsonValue, ParleyError, Profile } from "@parley/protocol";
import type { ConversationMessage, ProfilePatch } from "./conversation/conversation.js";
import type { TYPING_INDICATOR_MS, TypingState } from "./conversation/typing.js";
import type { ConnectionStatus } from "./net/connection.js";

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
  /**
   * The conversation changed: a message arrived or was sent, a status went from `pending` to `sent`, a
   * read position moved, or another conversation opened (login, switch, logout). Carries every message in
   * display order, as {@link ParleyClient.messages} returns them.
   */
  messages: ConversationMessage[];
  /** The user's profile changed (here, on another client of the user, or by a merge). */
  profile: Profile;
  /** The user's clients as the relay records them changed (one connected, left, or was seen again). */
  clients: ClientRecord[];
  /** The relay connection changed: `connecting`, `online` (synced) or `offline`. */
  status: ConnectionStatus;
  /**
   * Who the client speaks for changed: loaded at start, a login, switch or logout here or in another tab,
   * or the relay accepting (`authenticated: true`) or refusing the user's token.
   */
  identity: Identity;
  /** Whether the business is typing changed. Ephemeral: nothing of it is stored. */
  typing: TypingState;
  /**
   * Something failed in the background, with nobody awaiting it: a token refused after a refresh, a
   * failing `onTokenExpired`, a storage failure while following another tab.
   */
  error: ParleyError;
}

/** A Parley client. See {@link createClient}. */
export interface ParleyClient {
  /** Resolves once the identity and the local conversation are loaded; works offline. */
  readonly ready: Promise<void>;
  /**
   * Who the client speaks for. There is no placeholder: reading it before the identity is loaded (at the
   * latest when `ready` resolves; the first `identity` event announces it) throws
   * {@link ClientNotReadyError}.
   */
  readonly identity: Identity;
  /**
   * This store's client id; throws {@link ClientNotReadyError} before `ready`. A logout and a switch to
   * another user replace it (unless the `stableDeviceId` option is set); a login from anonymous keeps it (the
   * merge brings the anonymous user's clients along).
   */
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
  /**
   * Marks every message so far as read (for this user, across their clients); resolves once the read
   * position is stored locally, like the other writes.
   */
  markRead(): Promise<void>;
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
   * and the relay merges them on the first connection. Until the relay has merged them, the merged messages
   * show `pending` and count as unsent changes of the user (a logout or switch refuses naming them in
   * `messageIds`, unless `discardUnsent`). Resolves `{ authenticated: true }` once the relay
   * accepted the token, `{ authenticated: false }` if it could not be reached within `loginTimeoutMs`
   * (the client keeps trying; a later refusal is an `error` event). If the relay refuses the token, the
   * anonymous identity and thread are restored untouched and the promise rejects with the typed error.
   *
   * As another user: the current user's unsent changes are flushed first ({@link UnsentChangesError}
   * naming them unless `discardUnsent`), the new token is checked with the relay (rejecting leaves
   * everything as it was), then the previous user's data is deleted from this store and the new user's
   * thread loads.
   *
   * As the same user: stores the new token.
   */
  login(userId: string, jwt: string, options?: { discardUnsent?: boolean }): Promise<{ authenticated: boolean }>;
  /**
   * Logs out: flushes the user's own unsent changes ({@link UnsentChangesError} naming the messages,
   * profile fields and read position the relay has not stored, unless `discardUnsent`), tells the relay
   * this client left (it is marked inactive; an anonymous user is revoked), deletes the conversation from
   * this store, and continues as a new anonymous user. Other instances on the store follow.
   */
  logout(options?: { discardUnsent?: boolean }): Promise<void>;
  /**
   * Resolves once the relay has durably stored everything the user wrote on this store; rejects with
   * {@link UnsentChangesError} naming what it has not.
   */
  flush(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Shows (or stops showing) the user typing to the room: the business and the user's other clients.
   * Call it again while the user keeps typing; it ends by itself {@link TYPING_INDICATOR_MS} after the last
   * call, and when the user sends. Ephemeral: never stored, not sent while offline.
   */
  setTyping(typing: boolean): void;
  /** Whether the business is typing (see the `typing` event). */
  businessTyping(): boolean;
  /**
   * Connects to the relay (again), e.g. when a backgrounded app comes back. Idempotent. The client is
   * connected from the start unless created with `connect: false`.
   */
  connect(): void;
  /**
   * Closes the relay connection and stops reconnecting until {@link ParleyClient.connect}, e.g. when an
   * app goes to the background. Everything keeps working locally; writes are `pending` meanwhile, and a
   * login resolves `{ authenticated: false }`. Idempotent.
   */
  disconnect(): void;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void;
  /** Subscribes to the next occurrence of an event only; returns the unsubscribe function. */
  once<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void;
  /**
   * Disconnects and releases the store. Every later call of another method rejects (or throws) with
   * {@link ClientDestroyedError}; calling `destroy` again returns the same promise.
   */
  destroy(): Promise<void>;
}
