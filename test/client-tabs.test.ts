import { memoryStorage } from "@parley/client";
import { roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("tabs: instances sharing one store share one identity", () => {
  const fixture = useClientFixture();

  it("shares the identity and live updates between tabs, even with no relay", async () => {
    const storage = memoryStorage();
    const open = () => {
      // No relay at all: whatever reaches the other tab went through the BroadcastChannel.
      const tab = fixture.client({ relayUrl: "ws://127.0.0.1:9/v1", storage, connect: false });
      return tab;
    };
    const [first, second] = [open(), open()];
    await Promise.all([first.ready, second.ready]);
    expect(second.identity).toEqual(first.identity);
    expect(second.clientId).toBe(first.clientId);
    await first.send("typed in the first tab");
    await waitFor(() => second.messages().length === 1, { what: "second tab sees it" });
    expect(second.messages()[0]?.text).toBe("typed in the first tab");
  });

  it("follows a login and a logout made in another tab", async () => {
    await fixture.startRelay();
    const storage = memoryStorage();
    const open = () => {
      const tab = fixture.client({ storage });
      return tab;
    };
    const [first, second, third] = [open(), open(), open()];
    await Promise.all([first.ready, second.ready, third.ready]);
    await second.send("anonymous, from tab two");
    await waitFor(() => first.messages().length === 1, { what: "shared anonymous thread" });

    const userId = "tabs-user";
    expect(await first.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    for (const tab of [second, third]) {
      await waitFor(() => tab.identity.kind === "user" && tab.identity.userId === userId, {
        what: "tab follows login",
      });
    }
    await waitFor(
      () =>
        third
          .messages()
          .map((m) => m.text)
          .join() === "anonymous, from tab two",
      {
        what: "merged thread in the third tab",
      },
    );
    await third.send("logged in, from tab three");
    await waitFor(() => first.messages().length === 2 && second.messages().length === 2, { what: "live" });

    await second.logout();
    const identity = second.identity;
    if (identity.kind !== "anonymous") throw new Error("expected anonymous after logout");
    for (const tab of [first, third]) {
      await waitFor(() => JSON.stringify(tab.identity) === JSON.stringify(identity), { what: "tab follows logout" });
      await waitFor(() => tab.messages().length === 0, { what: "empty thread" });
    }
    const anonymousRoom = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: identity.anonymousId });
    expect((await storage.listDocs()).filter((name) => name !== anonymousRoom)).toEqual([]);
    await first.send("new anonymous, tab one");
    await waitFor(() => third.messages().length === 1, { what: "new identity shared" });
    // The logout drew a new client id; every tab uses it, and a tab opened afterwards joins them.
    expect(first.clientId).toBe(second.clientId);
    expect(third.clientId).toBe(second.clientId);
    const fourth = open();
    await fourth.ready;
    expect(fourth.clientId).toBe(second.clientId);
    await fourth.logout();
    for (const tab of [first, second, third]) {
      await waitFor(() => tab.clientId === fourth.clientId, { what: "tab follows the late tab's logout" });
    }
  });

  it("follows a switch to another user made in another tab, and never shows the previous user's messages", async () => {
    await fixture.startRelay();
    const storage = memoryStorage();
    const open = () => {
      const tab = fixture.client({ storage });
      return tab;
    };
    const [first, second] = [open(), open()];
    await first.login("tabs-alice", await signUserToken("tabs-alice"));
    await waitFor(() => second.identity.kind === "user", { what: "second tab logged in" });
    await second.send("alice in tab two");
    await waitFor(() => first.messages().length === 1, { what: "shared" });
    await first.flush();
    await second.flush();

    const bobDevice = fixture.client({ storage: memoryStorage() });
    await bobDevice.login("tabs-bob", await signUserToken("tabs-bob"));
    await bobDevice.send("bob's own message");
    await bobDevice.flush();

    const viewsInSecond: string[][] = [];
    second.on("messages", (messages) => viewsInSecond.push(messages.map((m) => m.text)));
    expect(await first.login("tabs-bob", await signUserToken("tabs-bob"))).toEqual({ authenticated: true });
    await waitFor(() => second.identity.kind === "user" && second.identity.userId === "tabs-bob", {
      what: "second tab follows the switch",
    });
    await waitFor(
      () =>
        second
          .messages()
          .map((m) => m.text)
          .join() === "bob's own message",
      {
        what: "bob's thread in the second tab",
      },
    );
    // No view of the second tab ever mixed the two users' threads.
    for (const view of viewsInSecond) {
      expect(view.includes("alice in tab two") && view.includes("bob's own message")).toBe(false);
    }
    expect(await storage.listDocs()).toEqual([roomName({ appId: TEST_APP.id, kind: "user", subject: "tabs-bob" })]);
  });
});
