import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import { Presence } from "./presence.js";

/** An awareness update with one entry, as the relay sends it. */
function update(clientID: number, clock: number, state: unknown): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint(encoder, clientID);
  encoding.writeVarUint(encoder, clock);
  encoding.writeVarString(encoder, JSON.stringify(state));
  return encoding.toUint8Array(encoder);
}

describe("Presence", () => {
  const now = 1_000_000;
  const business = (until: number) => ({ typing: { role: "business", until } });

  it("shows the business typing until its state is cleared, ignoring older clocks", () => {
    const presence = new Presence(() => 7);
    presence.apply(update(99, 2, business(now + 5_000)));
    expect(presence.businessTyping(now)).toEqual({ role: "business", until: now + 5_000 });
    presence.apply(update(99, 1, null));
    expect(presence.businessTyping(now)).not.toBeNull();
    presence.apply(update(99, 3, null));
    expect(presence.businessTyping(now)).toBeNull();
  });

  it("ends a business indicator at its until even if the clearing update is lost, and on clearRemote", () => {
    const presence = new Presence(() => 7);
    presence.apply(update(99, 1, business(now + 5_000)));
    expect(presence.businessTyping(now + 5_001)).toBeNull();
    presence.clearRemote();
    expect(presence.businessTyping(now)).toBeNull();
  });

  it("does not take a user's typing, or its own echoed state, for the business", () => {
    const presence = new Presence(() => 7);
    presence.apply(update(42, 1, { typing: { role: "user", until: now + 5_000 } }));
    presence.apply(update(7, 9, business(now + 5_000)));
    expect(presence.businessTyping(now)).toBeNull();
  });

  it("encodes its own typing state with a clock that grows", () => {
    const presence = new Presence(() => 7);
    const read = (bytes: Uint8Array) => {
      const decoder = decoding.createDecoder(bytes);
      decoding.readVarUint(decoder);
      return [
        decoding.readVarUint(decoder),
        decoding.readVarUint(decoder),
        JSON.parse(decoding.readVarString(decoder)),
      ];
    };
    expect(read(presence.setTyping({ role: "user", until: now }))).toEqual([
      7,
      1,
      { typing: { role: "user", until: now } },
    ]);
    expect(presence.typing).toEqual({ role: "user", until: now });
    expect(read(presence.setTyping(null))).toEqual([7, 2, null]);
    expect(presence.typing).toBeNull();
  });
});
