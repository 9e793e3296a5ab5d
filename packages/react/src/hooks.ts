/**
 * The read hooks: each subscribes to the provider's store with `useSyncExternalStore`, and answers the
 * same frozen empty value on the server and before the client is ready, so server rendering and
 * hydration never touch the client or its storage.
 */
import type { ClientRecord, ConversationMessage, Identity, JsonValue, Profile } from "@parley/client";
import { useCallback, useSyncExternalStore } from "react";
import { useSyncExternalStoreWithSelector } from "use-sync-external-store/with-selector";
import { useParleyStore } from "./provider.js";
import { type ConnectionState, EMPTY, type ParleyStore, type ReadState } from "./store.js";

const noSubscription = () => () => {};

/** `useSyncExternalStore` on the provider's store; `empty` on the server and without a client. */
function useStoreValue<T>(read: (store: ParleyStore) => T, empty: T): T {
  const store = useParleyStore();
  return useSyncExternalStore(
    store?.subscribe ?? noSubscription,
    () => (store === null ? empty : read(store)),
    () => empty,
  );
}

function requireClient(store: ParleyStore | null, what: string) {
  if (store === null) throw new Error(`${what}: the ParleyProvider has no client yet (it is created in an effect)`);
  return store.client;
}

/** Who the client speaks for; `undefined` on the server and until the client is ready. */
export function useIdentity(): Identity | undefined {
  return useStoreValue((store) => store.identity(), undefined);
}

/** The conversation in display order. */
export function useMessages(): readonly ConversationMessage[];
/**
 * A value derived from the conversation. The component re-renders only when `selector`'s result changes
 * by `isEqual` (default `Object.is`), e.g. `useMessages((m) => m.length)`.
 */
export function useMessages<T>(
  selector: (messages: readonly ConversationMessage[]) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;
export function useMessages<T>(
  selector?: (messages: readonly ConversationMessage[]) => T,
  isEqual?: (a: T, b: T) => boolean,
): T | readonly ConversationMessage[] {
  const store = useParleyStore();
  return useSyncExternalStoreWithSelector(
    store?.subscribe ?? noSubscription,
    () => (store === null ? EMPTY.messages : store.messages()),
    () => EMPTY.messages,
    (selector ?? asIs) as (messages: readonly ConversationMessage[]) => T | readonly ConversationMessage[],
    isEqual as ((a: T | readonly ConversationMessage[], b: T | readonly ConversationMessage[]) => boolean) | undefined,
  );
}

function asIs<T>(value: T): T {
  return value;
}

/** Options of a sent message. */
export interface SendOptions {
  metadata?: Record<string, JsonValue>;
}

/**
 * A stable `send(text, options?)`: resolves with the message once it is stored on this device (it is
 * `pending` until the relay stores it), rejects with the client's typed errors.
 */
export function useSend(): (text: string, options?: SendOptions) => Promise<ConversationMessage> {
  const store = useParleyStore();
  return useCallback(
    async (text: string, options?: SendOptions) => requireClient(store, "send").send(text, options),
    [store],
  );
}

/** The connection as a person would name it (see {@link ConnectionState}); `connecting` on the server. */
export function useConnectionStatus(): ConnectionState {
  return useStoreValue((store) => store.connection(), "connecting");
}

/** Messages not yet durably stored by the relay, and a way to wait for them. */
export interface Unsent {
  /** How many messages are `pending`. */
  count: number;
  /** Resolves once the relay has stored everything local; rejects with `UnsentChangesError`. */
  flush: (options?: { timeoutMs?: number }) => Promise<void>;
}

/** What has not reached the relay yet. */
export function useUnsent(): Unsent {
  const store = useParleyStore();
  const count = useStoreValue((s) => s.pendingCount(), 0);
  const flush = useCallback(
    async (options?: { timeoutMs?: number }) => requireClient(store, "flush").flush(options),
    [store],
  );
  return { count, flush };
}

/** Typing indicators: whether the business is typing, and the user's own. */
export interface Typing {
  /** The business is typing (ends by itself a few seconds after its last signal). */
  businessTyping: boolean;
  /** Shows the user typing to the business; call it on input, it ends by itself, and on send. */
  setTyping: (typing: boolean) => void;
}

/** Typing in both directions. */
export function useTyping(): Typing {
  const store = useParleyStore();
  const businessTyping = useStoreValue((s) => s.businessTyping(), false);
  const setTyping = useCallback(
    (typing: boolean) => {
      if (store !== null && store.identity() !== undefined) store.client.setTyping(typing);
    },
    [store],
  );
  return { businessTyping, setTyping };
}

/** Read positions, the unread count, and marking read. */
export interface ReadStateResult extends Readonly<ReadState> {
  /** Marks every message so far as read for the user (on all their clients). */
  markRead: () => Promise<void>;
}

/** How far the user and the business have read. */
export function useReadState(): ReadStateResult {
  const store = useParleyStore();
  const reads = useStoreValue((s) => s.reads(), EMPTY.reads);
  const markRead = useCallback(async () => {
    if (store !== null && store.identity() !== undefined) await store.client.markRead();
  }, [store]);
  return { ...reads, markRead };
}

/** The user's profile (empty on the server and until ready). */
export function useProfile(): Readonly<Profile> {
  return useStoreValue((store) => store.profile(), EMPTY.profile);
}

/** The user's clients (devices, browsers, processes) as the relay recorded them. */
export function useClients(): readonly ClientRecord[] {
  return useStoreValue((store) => store.clients(), EMPTY.clients);
}
