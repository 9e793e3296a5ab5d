/**
 * The store between a {@link ParleyClient} and React: one subscription to the client's events for every
 * hook, and cached snapshots so `useSyncExternalStore` sees the same object until something changed.
 *
 * The store attaches to the client only while a component is subscribed (as `useSyncExternalStore`
 * expects of a subscribe function) and reads everything afresh when it attaches, so a snapshot taken
 * before the first subscription is never stale for long.
 */
import type { ClientRecord, ConversationMessage, Identity, ParleyClient, Profile, ReadPositions } from "@parley/client";

/**
 * The connection as a person would name it:
 * - `online`: connected to the relay and in sync;
 * - `connecting`: the first attempt (after start, login or logout) is under way;
 * - `reconnecting`: the device has a network but the relay cannot be reached (an attempt failed);
 * - `offline`: the device has no network (`navigator.onLine` is false).
 */
export type ConnectionState = "online" | "connecting" | "reconnecting" | "offline";

/** Read positions with the user's unread count. */
export interface ReadState extends ReadPositions {
  /** Business messages newer than the user's read position. */
  unread: number;
}

type Slice = "identity" | "messages" | "reads" | "profile" | "clients";

/** Everything a hook may show before the client is ready, and on the server: stable, shared, frozen. */
export const EMPTY = {
  messages: Object.freeze([]) as readonly ConversationMessage[],
  clients: Object.freeze([]) as readonly ClientRecord[],
  profile: Object.freeze({ properties: Object.freeze({}) }) as Readonly<Profile>,
  reads: Object.freeze({ user: 0, business: 0, unread: 0 }) as Readonly<ReadState>,
};

type NetworkScope = {
  navigator?: { onLine?: boolean };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
};

function networkUp(): boolean {
  return (globalThis as NetworkScope).navigator?.onLine !== false;
}

/** Snapshots of one client, for the hooks. Created by {@link ParleyProvider}. */
export class ParleyStore {
  readonly client: ParleyClient;
  private ready = false;
  private readonly listeners = new Set<() => void>();
  private detach: (() => void) | undefined;
  private readonly versions: Record<Slice, number> = { identity: 0, messages: 0, reads: 0, profile: 0, clients: 0 };
  private readonly memo = new Map<Slice, { version: number; value: unknown }>();
  /** A connect attempt failed since the relay was last reached: the relay is unreachable, not just slow. */
  private relayTrouble = false;
  private lastStatus: ParleyClient["status"] = "offline";
  private network = true;
  private awaitingReady = false;

  /** Touches nothing of the client: on the server a store is created but never subscribed to. */
  constructor(client: ParleyClient) {
    this.client = client;
  }

  /** For `useSyncExternalStore`: calls `listener` after any change; returns the unsubscribe function. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.detach === undefined) this.attach();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.detach?.();
        this.detach = undefined;
      }
    };
  };

  /** Who the client speaks for; `undefined` until the client is ready. */
  identity(): Identity | undefined {
    if (!this.ready) return undefined;
    return this.read("identity", () => this.client.identity, undefined, sameIdentity);
  }

  messages(): readonly ConversationMessage[] {
    if (!this.ready) return EMPTY.messages;
    return this.read("messages", () => this.client.messages(), EMPTY.messages);
  }

  reads(): Readonly<ReadState> {
    if (!this.ready) return EMPTY.reads;
    return this.read(
      "reads",
      () => ({ ...this.client.readBy(), unread: this.client.unreadCount() }),
      EMPTY.reads,
      (a, b) => a.user === b.user && a.business === b.business && a.unread === b.unread,
    );
  }

  profile(): Readonly<Profile> {
    if (!this.ready) return EMPTY.profile;
    return this.read("profile", () => this.client.profile(), EMPTY.profile);
  }

  clients(): readonly ClientRecord[] {
    if (!this.ready) return EMPTY.clients;
    return this.read("clients", () => this.client.clients(), EMPTY.clients);
  }

  connection(): ConnectionState {
    if (this.detach === undefined) return "connecting";
    if (!this.network) return "offline";
    const status = this.client.status;
    if (status === "online") return "online";
    return this.relayTrouble ? "reconnecting" : "connecting";
  }

  businessTyping(): boolean {
    return this.ready && this.guard(() => this.client.businessTyping(), false);
  }

  /** Pending messages (written here or on another client, not yet durably stored by the relay). */
  pendingCount(): number {
    return this.messages().filter((message) => message.status === "pending").length;
  }

  private attach(): void {
    const client = this.client;
    if (!this.awaitingReady) {
      this.awaitingReady = true;
      client.ready.then(
        () => {
          this.ready = true;
          this.changed(["identity", "messages", "reads", "profile", "clients"]);
        },
        () => {},
      );
    }
    const offs: (() => void)[] = [];
    const on = (off: () => void) => offs.push(off);
    try {
      on(client.on("messages", () => this.changed(["messages", "reads"])));
      on(client.on("identity", () => this.changed(["identity", "messages", "reads", "profile", "clients"])));
      on(client.on("profile", () => this.changed(["profile"])));
      on(client.on("clients", () => this.changed(["clients"])));
      on(client.on("typing", () => this.changed([])));
      on(client.on("status", (status) => this.onStatus(status)));
    } catch {
      // A destroyed client has no events; its last snapshots stay on screen.
    }
    const scope = globalThis as NetworkScope;
    const onNetwork = () => {
      this.network = networkUp();
      this.changed([]);
    };
    scope.addEventListener?.("online", onNetwork);
    scope.addEventListener?.("offline", onNetwork);
    on(() => scope.removeEventListener?.("online", onNetwork));
    on(() => scope.removeEventListener?.("offline", onNetwork));
    this.detach = () => {
      for (const off of offs) off();
    };
    // Whatever happened while nobody listened is read afresh.
    this.network = networkUp();
    this.onStatus(client.status);
    this.changed(["identity", "messages", "reads", "profile", "clients"]);
  }

  private onStatus(status: ParleyClient["status"]): void {
    if (status === "online") this.relayTrouble = false;
    else if (status === "offline" && this.lastStatus === "connecting") this.relayTrouble = true;
    this.lastStatus = status;
    this.changed([]);
  }

  private changed(slices: Slice[]): void {
    for (const slice of slices) this.versions[slice] += 1;
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * The cached value of `slice`, recomputed once per change; the previous object is kept if `equal` says
   * nothing changed. `initial` stands in if the client is destroyed before anything was read.
   */
  private read<T>(slice: Slice, compute: () => T, initial: T, equal?: (a: T, b: T) => boolean): T {
    const version = this.versions[slice];
    const cached = this.memo.get(slice) as { version: number; value: T } | undefined;
    if (cached !== undefined && cached.version === version) return cached.value;
    const value = this.guard(compute, cached === undefined ? initial : cached.value);
    const kept = cached !== undefined && equal?.(cached.value, value) === true ? cached.value : value;
    this.memo.set(slice, { version, value: kept });
    return kept;
  }

  /** A destroyed client throws on every read; what it showed last stays. */
  private guard<T>(compute: () => T, fallback: T): T {
    try {
      return compute();
    } catch {
      return fallback;
    }
  }
}

function sameIdentity(a: Identity | undefined, b: Identity | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === "anonymous") return b.kind === "anonymous" && a.anonymousId === b.anonymousId;
  return b.kind === "user" && a.userId === b.userId && a.authenticated === b.authenticated;
}
