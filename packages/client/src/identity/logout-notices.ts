/**
 * Logouts the relay has not heard of yet. A logout (or a user switch) while the relay is unreachable
 * cannot send the `logout` frame, so the client's record would stay active and an anonymous secret would
 * never be revoked. The client keeps a small durable list of such notices — the room, the credential that
 * opens it and the client secret; nothing of the conversation — and delivers each one (connect, send
 * `logout`, wait for the relay's ack: close 1000 `logged-out`, sent once the logout is durable) once the
 * relay is reachable again, also after a restart. A logout whose frame went out but whose ack never came
 * (the relay died) is kept as a notice too.
 */
import { ConnectParam, credentialSubprotocols, isLogoutAck, isTransientClose, MessageType } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import type { WebSocketConstructor } from "../net/connection.js";
import type { ClientStorage, StoredValue } from "../storage/storage.js";
import { withIdentityLock } from "./identity-record.js";

/** One undelivered logout. */
export interface LogoutNotice {
  room: string;
  /** A user JWT or `anon.<secret>`. */
  token: string;
  clientSecret: string;
}

export interface LogoutNoticesOptions {
  storage: ClientStorage;
  appId: string;
  relayUrl: string;
  WebSocket: WebSocketConstructor;
  /** The `info` parameter, so the relay keeps the client's record as it was. */
  info: string;
}

/** How long one delivery attempt may take before it counts as failed. */
const ATTEMPT_TIMEOUT_MS = 5_000;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

function noticesKey(appId: string): string {
  return `logout-notices/${appId}`;
}

function isNotice(value: unknown): value is LogoutNotice {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.room === "string" && typeof v.token === "string" && typeof v.clientSecret === "string";
}

async function readNotices(storage: ClientStorage, appId: string): Promise<LogoutNotice[]> {
  const stored = await storage.get(noticesKey(appId));
  if (!Array.isArray(stored)) return [];
  const notices: LogoutNotice[] = [];
  for (const value of stored as unknown[]) if (isNotice(value)) notices.push(value);
  return notices;
}

/** Changes the stored list under the identity lock (tabs share it). */
async function updateNotices(
  storage: ClientStorage,
  appId: string,
  change: (notices: LogoutNotice[]) => LogoutNotice[],
): Promise<void> {
  await withIdentityLock(storage, appId, async () => {
    const next = change(await readNotices(storage, appId));
    if (next.length === 0) await storage.delete(noticesKey(appId));
    else await storage.set(noticesKey(appId), next as unknown as StoredValue);
  });
}

const same = (a: LogoutNotice, b: LogoutNotice) =>
  a.room === b.room && a.token === b.token && a.clientSecret === b.clientSecret;

/** Delivers stored logout notices whenever {@link LogoutNotices.deliver} is called, retrying with backoff. */
export class LogoutNotices {
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay = FIRST_RETRY_MS;
  private closed = false;

  constructor(private readonly options: LogoutNoticesOptions) {}

  /** Stores a notice durably (before the data it concerns is erased). */
  async add(notice: LogoutNotice): Promise<void> {
    await updateNotices(this.options.storage, this.options.appId, (notices) =>
      notices.some((n) => same(n, notice)) ? notices : [...notices, notice],
    );
  }

  /**
   * Drops the notices for `room`: the device opens it again (the same user logged back in), and a late
   * logout would mark the client inactive while it is active.
   */
  async forget(room: string): Promise<void> {
    await updateNotices(this.options.storage, this.options.appId, (notices) => notices.filter((n) => n.room !== room));
  }

  /** The notices still to deliver. */
  pending(): Promise<LogoutNotice[]> {
    return readNotices(this.options.storage, this.options.appId);
  }

  /** Tries to deliver every stored notice now (the relay may be reachable). */
  deliver(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.deliverAll()
      .catch(() => false)
      .then((done) => {
        this.running = undefined;
        if (this.closed) return;
        if (this.again) {
          this.again = false;
          this.deliver();
        } else if (!done) {
          this.retryTimer = setTimeout(() => this.deliver(), this.retryDelay);
          (this.retryTimer as { unref?: () => void }).unref?.();
          this.retryDelay = Math.min(MAX_RETRY_MS, this.retryDelay * 2);
        } else {
          this.retryDelay = FIRST_RETRY_MS;
        }
      });
  }

  /** Stops retrying (stored notices stay for the next start). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  /** Resolves `true` if nothing is left to deliver. */
  private async deliverAll(): Promise<boolean> {
    let done = true;
    for (const notice of await this.pending()) {
      if (this.closed) return false;
      const outcome = await this.send(notice);
      if (outcome === "retry") {
        done = false;
        continue;
      }
      // Delivered, or refused for good (an expired token, an anonymous user already revoked): nothing more
      // can be done with it.
      await updateNotices(this.options.storage, this.options.appId, (notices) =>
        notices.filter((n) => !same(n, notice)),
      );
    }
    return done;
  }

  /** One attempt: connect, send `logout`, and wait for the relay's close. */
  private send(notice: LogoutNotice): Promise<"done" | "retry"> {
    // Credentials in the handshake, not the URL (see `credentialSubprotocols`).
    const params = new URLSearchParams({ [ConnectParam.info]: this.options.info });
    const protocols = credentialSubprotocols({ token: notice.token, client: notice.clientSecret });
    return new Promise((resolve) => {
      let socket: InstanceType<WebSocketConstructor>;
      try {
        socket = new this.options.WebSocket(`${this.options.relayUrl}/${notice.room}?${params}`, protocols);
      } catch {
        resolve("retry");
        return;
      }
      const timer = setTimeout(() => {
        socket.close(1000, "logout notice timed out");
        resolve("retry");
      }, ATTEMPT_TIMEOUT_MS);
      (timer as { unref?: () => void }).unref?.();
      socket.binaryType = "arraybuffer";
      socket.onopen = (() => {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MessageType.logout);
        socket.send(encoding.toUint8Array(encoder));
      }) as (event: never) => void;
      socket.onmessage = null;
      socket.onerror = (() => {}) as (event: never) => void;
      socket.onclose = ((event: { code: number; reason: string }) => {
        clearTimeout(timer);
        // Delivered only on the relay's ack; a permanent refusal (an expired JWT, an anonymous subject already
        // revoked) ends the notice too. Anything else (a relay that died after the frame) is tried again.
        const reason = String(event.reason ?? "");
        resolve(isLogoutAck(event.code, reason) || !isTransientClose(event.code) ? "done" : "retry");
      }) as (event: never) => void;
    });
  }
}
