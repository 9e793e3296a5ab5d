/**
 * Typing indicators as the application sees them: the user's own (set by `setTyping`, ended by itself a
 * few seconds after the last call) and the business's (from the relay's presence, ended at its `until`
 * even if the relay's clearing update is lost). The wire side is presence.ts.
 */
import { TYPING_INDICATOR_MS } from "@parley/protocol";
import type { Session } from "./session.js";

export { TYPING_INDICATOR_MS };

/** Who is typing, as far as this client shows it. */
export interface TypingState {
  /** The business is typing (set through the business API, ends by itself after a few seconds). */
  business: boolean;
}

/** Keeps a timer from holding a Node process open (browsers' timers are numbers and need nothing). */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

export class TypingIndicators {
  private ownTimer: ReturnType<typeof setTimeout> | undefined;
  private businessTimer: ReturnType<typeof setTimeout> | undefined;
  private businessWasTyping = false;

  /** `onBusinessTyping` is called when whether the business is typing changes. */
  constructor(private readonly onBusinessTyping: (state: TypingState) => void) {}

  /** Sets or clears the user's indicator on `session`; a set one ends by itself if not renewed. */
  setOwn(session: Session, typing: boolean): void {
    clearTimeout(this.ownTimer);
    if (!typing) {
      session.setTyping(null);
      return;
    }
    session.setTyping({ role: "user", until: Date.now() + TYPING_INDICATOR_MS });
    this.ownTimer = setTimeout(() => session.setTyping(null), TYPING_INDICATOR_MS);
    unref(this.ownTimer);
  }

  /** Looks at `session`'s presence again (it changed, or another session is current); reports a change. */
  refresh(session: Session | undefined): void {
    clearTimeout(this.businessTimer);
    const indicator = session?.businessTyping(Date.now()) ?? null;
    if (indicator !== null) {
      this.businessTimer = setTimeout(() => this.refresh(session), indicator.until - Date.now() + 1);
      unref(this.businessTimer);
    }
    const typing = indicator !== null;
    if (typing === this.businessWasTyping) return;
    this.businessWasTyping = typing;
    this.onBusinessTyping({ business: typing });
  }

  /** Stops the timers. */
  close(): void {
    clearTimeout(this.ownTimer);
    clearTimeout(this.businessTimer);
  }
}
