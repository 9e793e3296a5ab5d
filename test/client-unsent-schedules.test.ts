/**
 * Randomized schedules of writes, logins, logouts and relay outages (seeded, so a failure can be replayed):
 * whenever a logout is refused, the refusal names at least one thing the user wrote on this device that
 * the relay has not stored — never an empty list — and a logout with nothing of the user's unsent succeeds.
 */
import { type ParleyClient, UnsentChangesError } from "@parley/client";
import { describe, expect, it } from "vitest";
import { useClientFixture } from "./support/client.js";
import { type RelayHandle, signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** mulberry32: a small seeded generator, so each schedule is reproducible from its seed. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Step = "send" | "profile" | "read" | "login" | "logout" | "outage" | "back";
const STEPS: Step[] = ["send", "profile", "read", "login", "logout", "outage", "back"];

async function runStep(step: Step, client: ParleyClient, relay: RelayHandle, up: { value: boolean }, n: number) {
  switch (step) {
    case "send":
      await client.send(`message ${n}`);
      return;
    case "profile":
      await client.setProfile({ givenName: `name ${n}` });
      return;
    case "read":
      await client.markRead();
      return;
    case "login": {
      const userId = `schedule-user-${n % 2}`;
      await client.login(userId, await signUserToken(userId)).catch((error: unknown) => {
        // A switch may be refused for unsent content or because the relay cannot check the token.
        if (!(error instanceof Error && "code" in error)) throw error;
      });
      return;
    }
    case "logout": {
      const error = await client.logout().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      if (error === undefined) {
        expect(client.identity.kind).toBe("anonymous");
        return;
      }
      expect(error).toBeInstanceOf(UnsentChangesError);
      const unsent = error as UnsentChangesError;
      expect(unsent.messageIds.length + unsent.profileFields.length + (unsent.readPosition ? 1 : 0)).toBeGreaterThan(0);
      const pending = client
        .messages()
        .filter((m) => m.mine && m.status === "pending")
        .map((m) => m.id);
      for (const id of unsent.messageIds) expect(pending).toContain(id);
      return;
    }
    case "outage":
      if (!up.value) return;
      await relay.stop();
      up.value = false;
      await waitFor(() => client.status === "offline", { what: "offline" });
      return;
    case "back":
      if (up.value) return;
      await relay.restart();
      up.value = true;
      return;
  }
}

describe("unsent changes under randomized schedules", () => {
  const fixture = useClientFixture({ flushTimeoutMs: 400, loginTimeoutMs: 300 });

  for (const seed of [7, 19, 42]) {
    it(`refuses a logout only with something of the user's to name (seed ${seed})`, async () => {
      const relay = await fixture.startRelay();
      const random = generator(seed);
      const client = fixture.client();
      await client.ready;
      const up = { value: true };
      for (let n = 0; n < 12; n++) {
        const step = STEPS[Math.floor(random() * STEPS.length)] as Step;
        await runStep(step, client, relay, up, n);
      }
      // With the relay back, nothing stays unsent: the last logout succeeds.
      await runStep("back", client, relay, up, 99);
      await waitFor(() => client.status === "online", { what: "online again" });
      await client.logout();
      expect(client.identity.kind).toBe("anonymous");
    });
  }
});
