import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Presence, type PresencePeer } from "./presence.js";

function update(entries: Array<[number, number, unknown]>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const [id, clock, state] of entries) {
    encoding.writeVarUint(encoder, id);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, JSON.stringify(state));
  }
  return encoding.toUint8Array(encoder);
}

describe("Presence", () => {
  it("keeps no meta for removals of ids nobody introduced, and prunes a leaving peer's meta", () => {
    const peer: PresencePeer = { clientId: "peerClientId0000000000", send: () => {} };
    const presence = new Presence(new Y.Doc(), () => [peer]);
    presence.join(peer);
    const baseline = presence.awareness.meta.size; // the relay's own (null) local state
    expect(presence.apply(update(Array.from({ length: 500 }, (_, i) => [100 + i, 5, null])), peer)).toBeNull();
    expect(presence.awareness.meta.size).toBe(baseline);
    expect(presence.apply(update([[7, 1, { name: "me" }]]), peer)).toBeNull();
    expect(presence.awareness.meta.size).toBe(baseline + 1);
    presence.leave(peer);
    expect(presence.awareness.getStates().has(7)).toBe(false);
    expect(presence.awareness.meta.size).toBe(baseline);
    presence.destroy();
  });

  it("makes the awareness (and its timer) only once presence is used, and relays as before", () => {
    const frames: Uint8Array[] = [];
    const peer: PresencePeer = { clientId: "peerClientId0000000000", send: (frame) => frames.push(frame) };
    const presence = new Presence(new Y.Doc(), () => [peer]);
    const made = () => (presence as unknown as { made: unknown }).made !== null;
    presence.join(peer);
    expect(presence.presentFrame()).toBeNull();
    presence.leave(peer);
    presence.join(peer);
    expect(made()).toBe(false);
    expect(presence.apply(update([[7, 1, { name: "me" }]]), peer)).toBeNull();
    expect(made()).toBe(true);
    expect(frames).toHaveLength(1);
    expect(presence.presentFrame()).not.toBeNull();
    presence.leave(peer);
    expect(presence.presentFrame()).toBeNull();
    presence.destroy();
  });

  it("destroys cleanly when the awareness was never made", () => {
    const presence = new Presence(new Y.Doc(), () => []);
    presence.destroy();
    expect((presence as unknown as { made: unknown }).made).toBeNull();
  });
});
