import { CloseCode, createSecret, MessageType, roomName } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRaw, openProvider, type RelayHandle, signUserToken, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

/** An awareness frame setting `state` for `clientID` at `clock`. */
function awarenessFrame(clientID: number, clock: number, state: unknown): Uint8Array {
  const body = encoding.createEncoder();
  encoding.writeVarUint(body, 1);
  encoding.writeVarUint(body, clientID);
  encoding.writeVarUint(body, clock);
  encoding.writeVarString(body, JSON.stringify(state));
  const frame = encoding.createEncoder();
  encoding.writeVarUint(frame, MessageType.awareness);
  encoding.writeVarUint8Array(frame, encoding.toUint8Array(body));
  return encoding.toUint8Array(frame);
}

describe("presence (awareness) through the relay", () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay.stop();
  });

  it("clients of one user see each other's presence, and it goes when a client leaves", async () => {
    const token = await signUserToken("presence-user");
    const a = openProvider(relay, userRoom("presence-user"), token);
    const b = openProvider(relay, userRoom("presence-user"), token);
    try {
      await waitFor(() => a.provider.synced && b.provider.synced);
      a.provider.awareness.setLocalStateField("typing", { role: "user", until: Date.now() + 60_000 });
      await waitFor(() => b.provider.awareness.getStates().get(a.doc.clientID)?.typing, { what: "b sees a typing" });
      a.destroy();
      await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), { what: "a's presence removed" });
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it("ignores an update to another client's presence, which stays as it was", async () => {
    const token = await signUserToken("presence-victim");
    const victim = openProvider(relay, userRoom("presence-victim"), token);
    const watcher = openProvider(relay, userRoom("presence-victim"), token);
    try {
      await waitFor(() => victim.provider.synced && watcher.provider.synced);
      victim.provider.awareness.setLocalStateField("name", "victim");
      await waitFor(() => watcher.provider.awareness.getStates().get(victim.doc.clientID)?.name === "victim");
      const attacker = connectRaw(relay, userRoom("presence-victim"), { token, client: createSecret() });
      await attacker.opened;
      await waitFor(() => attacker.frames.length > 0);
      attacker.ws.send(awarenessFrame(victim.doc.clientID, 1_000, { name: "forged" }));
      attacker.ws.send(awarenessFrame(4242, 1, { name: "attacker" }));
      // The attacker's own entry arrives, the forged one was dropped (frames are handled in order).
      await waitFor(() => watcher.provider.awareness.getStates().get(4242)?.name === "attacker");
      expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)?.name).toBe("victim");
      victim.provider.awareness.setLocalStateField("name", "victim again");
      await waitFor(() => watcher.provider.awareness.getStates().get(victim.doc.clientID)?.name === "victim again");
      attacker.ws.close();
    } finally {
      victim.destroy();
      watcher.destroy();
    }
  });

  it("refuses (4409) a user client showing the business typing", async () => {
    const token = await signUserToken("presence-business");
    const attacker = connectRaw(relay, userRoom("presence-business"), { token, client: createSecret() });
    await attacker.opened;
    await waitFor(() => attacker.frames.length > 0);
    attacker.ws.send(awarenessFrame(123_456, 1, { typing: { role: "business", until: Date.now() + 60_000 } }));
    expect((await attacker.closed).code).toBe(CloseCode.Authorship);
  });
});
