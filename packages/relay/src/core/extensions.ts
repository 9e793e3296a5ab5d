/**
 * Calls the extensions' hooks in order, each isolated: an extension that throws is logged and never breaks
 * the room, connection or request it was told about (see the contract in extension.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type {
  Authenticated,
  AuthenticateRequest,
  ChangeEvent,
  ConnectionEvent,
  DisconnectEvent,
  ExtensionContext,
  RefusalEvent,
  RelayExtension,
  RoomHandle,
  StorageWriteEvent,
  StoredEvent,
  UpgradeDecision,
} from "./extension.js";
import type { Logger } from "./logger.js";

type Notification =
  | "onRoomLoaded"
  | "onRoomUnloaded"
  | "onChange"
  | "onStored"
  | "onConnect"
  | "onDisconnect"
  | "onRefusal"
  | "onStorageWrite";

/** The relay's extensions, called in order. */
export class Extensions {
  constructor(
    private readonly list: readonly RelayExtension[],
    private readonly logger: Logger,
  ) {
    const names = new Set<string>();
    for (const extension of list) {
      if (names.has(extension.name)) throw new Error(`two extensions are named "${extension.name}"`);
      names.add(extension.name);
    }
  }

  async start(context: ExtensionContext): Promise<void> {
    for (const extension of this.list) await extension.onStart?.(context);
  }

  /** Stops every extension, in reverse order; failures are logged. */
  async stop(): Promise<void> {
    for (const extension of [...this.list].reverse()) {
      try {
        await extension.onStop?.();
      } catch (error) {
        this.logger.error("extension failed to stop", { extension: extension.name, error });
      }
    }
  }

  /** The first answer of an `onAuthenticate` hook, or `undefined` if none decides. Errors propagate. */
  async authenticate(request: AuthenticateRequest): Promise<Authenticated | undefined> {
    for (const extension of this.list) {
      const result = await extension.onAuthenticate?.(request);
      if (result !== undefined) return result;
    }
    return undefined;
  }

  /** Offers a request to each extension until one answers it; `false` if none did. */
  async request(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    for (const extension of this.list) {
      if (extension.onRequest === undefined) continue;
      try {
        if (await extension.onRequest(request, response)) return true;
      } catch (error) {
        this.logger.error("extension failed a request", { extension: extension.name, error });
        if (!response.headersSent) {
          response.writeHead(500, { "content-type": "application/json" });
          response.end('{"error":{"code":"ERR_INTERNAL","message":"internal error"}}');
        }
        return true;
      }
    }
    return false;
  }

  /** The first `onUpgrade` decision, or `undefined` if no extension decides; a hook that throws is logged. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<UpgradeDecision | undefined> {
    for (const extension of this.list) {
      if (extension.onUpgrade === undefined) continue;
      try {
        const decision = await extension.onUpgrade(request, socket, head);
        if (decision !== undefined) return decision;
      } catch (error) {
        this.logger.error("extension failed an upgrade", { extension: extension.name, error });
      }
    }
    return undefined;
  }

  /** Whether any extension has an `onUpgrade` hook (so the relay can skip the await on the hot path). */
  get routesUpgrades(): boolean {
    return this.list.some((extension) => extension.onUpgrade !== undefined);
  }

  roomLoaded(room: RoomHandle): void {
    this.notify("onRoomLoaded", room);
  }

  roomUnloaded(room: RoomHandle): void {
    this.notify("onRoomUnloaded", room);
  }

  changed(event: ChangeEvent): void {
    this.notify("onChange", event);
  }

  stored(event: StoredEvent): void {
    this.notify("onStored", event);
  }

  connected(event: ConnectionEvent): void {
    this.notify("onConnect", event);
  }

  disconnected(event: DisconnectEvent): void {
    this.notify("onDisconnect", event);
  }

  refused(event: RefusalEvent): void {
    this.notify("onRefusal", event);
  }

  storageWrote(event: StorageWriteEvent): void {
    this.notify("onStorageWrite", event);
  }

  /** Whether any extension has `hook` (so the caller can skip building its event). */
  has(hook: Notification): boolean {
    return this.list.some((extension) => extension[hook] !== undefined);
  }

  private notify<H extends Notification>(hook: H, event: Parameters<NonNullable<RelayExtension[H]>>[0]): void {
    for (const extension of this.list) {
      const handler = extension[hook] as ((event: unknown) => void) | undefined;
      if (handler === undefined) continue;
      try {
        handler.call(extension, event);
      } catch (error) {
        this.logger.error("extension hook failed", { extension: extension.name, hook, error });
      }
    }
  }
}
