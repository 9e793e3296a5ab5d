import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { BUSINESS_READ_KEY, clientsOf, messagesOf, ownersOf, RELAY_OWNER, readsOf } from "./layout.js";
import { encodeMergeUpdate } from "./merge-update.js";

const CLIENT = "C".repeat(22);

describe("encodeMergeUpdate", () => {
  it("carries the user's writes and the business's over, and leaves relay-only data out as placeholders", () => {
    const anonymous = new Y.Doc();
    const relay = new Y.Doc();
    const user = new Y.Doc();
    messagesOf(user).push([{ id: "user-message-01", role: "user", client: CLIENT, text: "hi", ts: 1 }]);
    readsOf(user).set(CLIENT, { ts: 1 });
    relay.transact(() => {
      ownersOf(relay).set(String(relay.clientID), RELAY_OWNER);
      ownersOf(relay).set(String(user.clientID), CLIENT);
      clientsOf(relay).set(CLIENT, { platform: "web", firstSeen: 1, lastSeen: 2, active: true } as never);
      messagesOf(relay).push([{ id: "business-msg-01", role: "business", author: {}, text: "hello", ts: 2 }]);
      readsOf(relay).set(BUSINESS_READ_KEY, { ts: 1 });
    });
    Y.applyUpdate(anonymous, Y.encodeStateAsUpdate(user));
    Y.applyUpdate(anonymous, Y.encodeStateAsUpdate(relay));

    const merged = new Y.Doc();
    Y.applyUpdate(merged, encodeMergeUpdate(anonymous));
    expect(
      messagesOf(merged)
        .toArray()
        .map((m) => m.id)
        .sort(),
    ).toEqual(["business-msg-01", "user-message-01"]);
    expect(readsOf(merged).get(CLIENT)).toEqual({ ts: 1 });
    expect(readsOf(merged).get(BUSINESS_READ_KEY)).toEqual({ ts: 1 });
    expect(clientsOf(merged).size).toBe(0);
    expect(ownersOf(merged).size).toBe(0);
    // Clocks stay contiguous: the merged document knows the relay's clock range (as placeholders).
    expect(Y.getState(merged.store, relay.clientID)).toBe(Y.getState(anonymous.store, relay.clientID));
  });
});
