/**
 * A read made while the relay is down reaches the user's other devices after the relay restarts, whichever
 * device reconnects first: through the sync of a device that comes back later, or forwarded live to one that
 * is already back. The relay refuses nothing on the way (a refused step 2 would strand the read mark on the
 * device that made it).
 */
import { memoryStorage, type ParleyClient } from "@parley/client";
import { describe, expect, it } from "vitest";
import { api } from "./business-support.js";
import { useClientFixture } from "./support/client.js";
import { type RelayHandle, signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** The relay's refusal log lines (frames and connections it refused), to name them when a wait fails. */
function refusals(relay: RelayHandle): string[] {
  return relay.logs.filter((line) => line.includes('"connection refused'));
}

describe("a read made offline, after a relay restart", () => {
  const fixture = useClientFixture();

  async function setUp(): Promise<{
    relay: RelayHandle;
    phone: ParleyClient;
    phoneTab: ParleyClient;
    laptop: ParleyClient;
  }> {
    const relay = await fixture.startRelay();
    const user = "restart-reads-user";
    const phoneStore = memoryStorage();
    const phone = fixture.client({ storage: phoneStore });
    const phoneTab = fixture.client({ storage: phoneStore });
    const laptop = fixture.client({ storage: memoryStorage() });
    await phone.login(user, await signUserToken(user));
    await laptop.login(user, await signUserToken(user));
    await waitFor(() => phoneTab.identity.kind === "user", { what: "the tab follows the login" });
    await phone.send("a question");
    await phone.flush();
    expect((await api(relay, "POST", `users/${user}/messages`, { body: { text: "an answer" } })).status).toBe(201);
    for (const device of [phone, phoneTab, laptop]) {
      await waitFor(() => device.unreadCount() === 1, { what: "one unread reply on every device" });
    }
    await relay.stop();
    await waitFor(() => [phone, phoneTab, laptop].every((device) => device.status === "offline"), {
      what: "every device offline",
    });
    void laptop.markRead();
    expect(laptop.unreadCount()).toBe(0);
    return { relay, phone, phoneTab, laptop };
  }

  async function expectReadEverywhere(relay: RelayHandle, devices: ParleyClient[], laptop: ParleyClient) {
    for (const device of devices) {
      try {
        await waitFor(() => device.unreadCount() === 0, { what: "the laptop's read on another device" });
      } catch (error) {
        // Name what the relay refused: that is where a stranded read mark shows.
        throw new Error(`${String(error)}; relay refusals: ${refusals(relay).join("; ") || "none"}`);
      }
      expect(device.readBy().user).toBe(laptop.readBy().user);
    }
    expect(refusals(relay)).toEqual([]);
  }

  it("reaches devices that reconnect after the laptop, through their sync", async () => {
    const { relay, phone, phoneTab, laptop } = await setUp();
    phone.disconnect();
    phoneTab.disconnect();
    await relay.restart();
    // The relay stored the read (flush waits for its acknowledgement) before the phone asks for anything.
    await laptop.flush();
    phone.connect();
    phoneTab.connect();
    await expectReadEverywhere(relay, [phone, phoneTab], laptop);
  });

  it("reaches devices that reconnected before the laptop, as a forwarded update", async () => {
    const { relay, phone, phoneTab, laptop } = await setUp();
    laptop.disconnect();
    await relay.restart();
    await waitFor(() => phone.status === "online" && phoneTab.status === "online", { what: "the phone back online" });
    expect(phone.unreadCount()).toBe(1);
    laptop.connect();
    await expectReadEverywhere(relay, [phone, phoneTab], laptop);
  });
});
