/**
 * Keeping the user's token fresh: ask the app (`onTokenExpired`) for a new one shortly before `exp` and hand
 * it to the open connection in band (the `refresh` frame: no reconnect), and
 * once after the relay refuses the current one as expired or invalid (a second refusal in a row is
 * final); store it under the identity lock so other instances use it too; and renew it on `login` with
 * the same userId.
 */
import { isAuthClose, type ParleyError, TokenExpiredError } from "@parley/protocol";
import type { ClientState } from "../state.js";
import {
  type IdentityRecord,
  readIdentity,
  sameSubject,
  type UserSubject,
  withIdentityLock,
  writeIdentity,
} from "./identity-record.js";
import { assertTokenFor, longTimeout, refreshDelay } from "./token-timer.js";

export class TokenRefresh {
  /** A fresh token was fetched after a refusal; a second refusal in a row is final. */
  private refreshedAfterRefusal = false;
  private cancelTimer: (() => void) | undefined;

  constructor(private readonly state: ClientState) {}

  /** Arms the timer that refreshes the current user's token shortly before it expires. */
  schedule(): void {
    this.cancel();
    const state = this.state;
    const subject = state.record?.current;
    if (subject?.kind !== "user" || state.options.onTokenExpired === undefined || !state.connectionWanted) return;
    const delay = refreshDelay(subject.token, Date.now());
    if (delay === undefined) return;
    this.cancelTimer = longTimeout(() => {
      this.cancelTimer = undefined;
      this.refresh(subject).then(
        (fresh) => {
          if (!fresh) return;
          // In band on the open connection (no reconnect blip); a closed one connects with the new token.
          const current = state.record?.current;
          const token = current?.kind === "user" ? current.token : undefined;
          if (token === undefined || state.session?.refreshToken(token) !== true) state.session?.reconnect();
        },
        (error: unknown) => state.report(error),
      );
    }, delay);
  }

  /** Stops the timer (the subject changed, or the client is destroyed). */
  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** The relay accepted the current token (again). */
  accepted(): void {
    this.refreshedAfterRefusal = false;
  }

  /** Another instance stored a new token for the current user: use it. */
  followed(): void {
    this.refreshedAfterRefusal = false;
    this.schedule();
  }

  /**
   * The relay refused `subject`'s token with `code`: fetches a fresh one and reconnects, once in a row.
   * Returns whether it is trying (else the refusal is the caller's to report).
   */
  retryAfterRefusal(subject: UserSubject, code: number, error: ParleyError): boolean {
    const state = this.state;
    if (!isAuthClose(code) || state.options.onTokenExpired === undefined || this.refreshedAfterRefusal) return false;
    this.refreshedAfterRefusal = true;
    this.refresh(subject).then(
      (fresh) => {
        if (fresh) state.session?.connect();
      },
      // The app could not provide a token: what the caller needs to know is why the relay refused.
      () => state.report(error),
    );
    return true;
  }

  /** `login` with the current userId: stores the new token and waits for the relay to accept it. */
  async renew(jwt: string): Promise<{ authenticated: boolean }> {
    const state = this.state;
    await this.store(state.currentRecord().current as UserSubject, jwt);
    this.refreshedAfterRefusal = false;
    const session = state.currentSession();
    if (!state.connectionWanted) return { authenticated: state.authenticated };
    session.reconnect();
    const outcome = await state.waitForRelay();
    state.assertAlive();
    if (outcome.kind === "refused") {
      state.authenticated = false;
      state.emitIdentity();
      throw outcome.error;
    }
    return { authenticated: outcome.kind === "synced" };
  }

  /** Asks the app for a fresh token and stores it; `false` if the subject changed meanwhile. */
  private async refresh(subject: UserSubject): Promise<boolean> {
    const state = this.state;
    const callback = state.options.onTokenExpired;
    if (callback === undefined) return false;
    let token: unknown;
    try {
      token = await callback(subject.userId);
    } catch (cause) {
      throw new TokenExpiredError(`onTokenExpired failed: ${String(cause)}`);
    }
    assertTokenFor(token, subject.userId, "onTokenExpired() result");
    if (state.destroyed) return false;
    const current = state.record?.current;
    if (current === undefined || !sameSubject(current, subject)) return false;
    const previousExpiry = refreshDelay(subject.token, 0);
    await this.store(subject, token);
    // A token that expires no later than the old one would make the refresh timer spin.
    if (previousExpiry !== undefined && (refreshDelay(token, 0) ?? Number.POSITIVE_INFINITY) <= previousExpiry) {
      this.cancel();
    }
    return true;
  }

  private async store(subject: UserSubject, token: string): Promise<void> {
    const state = this.state;
    const { storage, options } = state;
    const record = await withIdentityLock(storage, options.appId, async () => {
      const stored = await readIdentity(storage, options.appId);
      if (stored === undefined || stored.current.kind !== "user" || !sameSubject(stored.current, subject)) return null;
      const next: IdentityRecord = { clientSecret: stored.clientSecret, current: { ...stored.current, token } };
      await writeIdentity(storage, options.appId, next);
      return next;
    });
    if (record === null) return;
    state.record = record;
    this.schedule();
    state.tabs?.announceIdentity();
  }
}
