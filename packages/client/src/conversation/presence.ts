/**
 * This connection's presence (y-protocols awareness states, never stored): the user's own typing
 * indicator, which it publishes, and the states of the others in the room — the relay's among them,
 * which shows the business typing. A small codec of the awareness update format, so the client needs
 * no awareness timers of its own: Parley's indicators carry their own end (`until`).
 */
import { type TypingIndicator, typingOf } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

interface RemoteState {
  clock: number;
  state: unknown;
}

export class Presence {
  private clock = 0;
  private local: { typing: TypingIndicator } | null = null;
  private readonly remote = new Map<number, RemoteState>();

  /** `clientID` is the Yjs clientID of the document, as y-websocket providers use it. */
  constructor(private readonly clientID: () => number) {}

  /** The local typing indicator, or `null`. */
  get typing(): TypingIndicator | null {
    return this.local?.typing ?? null;
  }

  /** Sets (or clears, with `null`) the local typing indicator; returns the awareness update to send. */
  setTyping(typing: TypingIndicator | null): Uint8Array {
    this.clock += 1;
    this.local = typing === null ? null : { typing };
    return this.encodeLocal();
  }

  /** The local state as an awareness update (to announce it on a new connection). */
  encodeLocal(): Uint8Array {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarUint(encoder, this.clientID());
    encoding.writeVarUint(encoder, this.clock);
    encoding.writeVarString(encoder, JSON.stringify(this.local));
    return encoding.toUint8Array(encoder);
  }

  /** Applies an awareness update from the relay (newer clocks win, as in y-protocols). Throws if undecodable. */
  apply(update: Uint8Array): void {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const id = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state: unknown = JSON.parse(decoding.readVarString(decoder));
      if (id === this.clientID()) continue;
      const current = this.remote.get(id);
      if (current !== undefined && (current.clock > clock || (current.clock === clock && state !== null))) continue;
      this.remote.set(id, { clock, state });
    }
  }

  /** Forgets the others' states (the connection ended; the relay will send them again). */
  clearRemote(): void {
    this.remote.clear();
  }

  /** The business's typing indicator at `now`, or `null`. */
  businessTyping(now: number): TypingIndicator | null {
    for (const { state } of this.remote.values()) {
      if (typingOf(state, now) !== "business") continue;
      return (state as { typing: TypingIndicator }).typing;
    }
    return null;
  }
}
