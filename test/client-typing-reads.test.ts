/**
 * Typing indicators both ways and read receipts, between Parley clients and the business API, through a
 * real relay process.
 */
import { memoryStorage, type ParleyClient, type TypingState } from "@parley/client";
import { roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { api } from "./business-support.js";
import { readRelayDoc, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("typing indicators and read receipts", () => {
  const fixture = useClientFixture();

  function make(storage = memoryStorage()): ParleyClient {
    const client = fixture.client({ storage });
    return client;
  }

  it("shows the user typing to the business until they stop or send, and the business typing to the user", async () => {
    const relay = await fixture.startRelay();
    const user = "typing-user";
    const client = make();
    await client.login(user, await signUserToken(user));
    const userTyping = async () => (await api(relay, "GET", `users/${user}`)).body.userTyping === true;

    client.setTyping(true);
    await waitFor(userTyping, { what: "the business sees the user typing" });
    client.setTyping(false);
    await waitFor(async () => !(await userTyping()), { what: "the business sees the user stop" });
    client.setTyping(true);
    await waitFor(userTyping, { what: "typing again" });
    await client.send("here is my question");
    await waitFor(async () => !(await userTyping()), { what: "sending ends the indicator" });

    const events: TypingState[] = [];
    client.on("typing", (state) => events.push(state));
    expect(client.businessTyping()).toBe(false);
    expect((await api(relay, "POST", `users/${user}/typing`, { body: { typing: true } })).status).toBe(200);
    await waitFor(() => client.businessTyping(), { what: "the client sees the business typing" });
    expect((await api(relay, "POST", `users/${user}/typing`, { body: { typing: false } })).status).toBe(200);
    await waitFor(() => !client.businessTyping(), { what: "the client sees the business stop" });
    expect(events).toEqual([{ business: true }, { business: false }]);

    // Ephemeral: nothing of either indicator is in the stored conversation.
    const stored = await readRelayDoc(
      relay,
      roomName({ appId: TEST_APP.id, kind: "user", subject: user }),
      await signUserToken(user),
    );
    expect(Buffer.from(Y.encodeStateAsUpdate(stored)).toString("latin1")).not.toContain("typing");
    expect(JSON.stringify(stored.toJSON())).not.toContain("typing");
  });

  it("refuses a non-boolean typing argument with a typed error", async () => {
    await fixture.startRelay();
    const client = make();
    await client.ready;
    expect(() => client.setTyping("yes" as unknown as boolean)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", argument: "typing" }),
    );
  });

  it("shows what the business read, per message, and keeps unread counts right across devices, tabs and offline", async () => {
    const relay = await fixture.startRelay();
    const user = "reads-user";
    const phoneStore = memoryStorage();
    const phone = make(phoneStore);
    const phoneTab = make(phoneStore);
    const laptop = make();
    await phone.login(user, await signUserToken(user));
    await laptop.login(user, await signUserToken(user));
    await waitFor(() => phoneTab.identity.kind === "user", { what: "the tab follows the login" });

    await phone.send("first question");
    await phone.flush();
    expect(phone.readBy()).toEqual({ user: 0, business: 0 });
    expect(phone.messages()[0]?.readByBusiness).toBe(false);

    const read = await api(relay, "POST", `users/${user}/read`, { body: {} });
    expect(read.status).toBe(200);
    const questionTs = phone.messages()[0]?.ts ?? 0;
    await waitFor(() => phone.readBy().business >= questionTs, { what: "the business's read position arrives" });
    expect(phone.messages()[0]?.readByBusiness).toBe(true);
    await waitFor(() => laptop.messages()[0]?.readByBusiness === true, { what: "on the laptop too" });

    await phone.send("second question");
    await phone.flush();
    expect(phone.messages().map((m) => m.readByBusiness)).toEqual([true, false]);

    const reply = await api(relay, "POST", `users/${user}/messages`, { body: { text: "answer" } });
    expect(reply.status).toBe(201);
    for (const device of [phone, phoneTab, laptop]) {
      await waitFor(() => device.unreadCount() === 1, { what: "one unread reply everywhere" });
    }
    // The business's own message counts as read by it; its reply does not mark the user's question read.
    expect(phone.messages().map((m) => [m.role, m.readByBusiness])).toEqual([
      ["user", true],
      ["user", false],
      ["business", true],
    ]);

    // The laptop reads while the relay is down: its count drops at once, the others follow once it is back.
    await relay.stop();
    await waitFor(() => laptop.status === "offline" && phone.status === "offline", { what: "both offline" });
    laptop.markRead();
    expect(laptop.unreadCount()).toBe(0);
    expect(laptop.readBy().user).toBeGreaterThan(0);
    expect(phone.unreadCount()).toBe(1);
    await relay.restart();
    for (const device of [phone, phoneTab]) {
      try {
        await waitFor(() => device.unreadCount() === 0, { what: "read on the laptop counts everywhere" });
      } catch (error) {
        // Name what the relay refused after the restart: a refused step 2 strands the read on the laptop.
        const refused = relay.logs.filter((line) => line.includes('"connection refused'));
        throw new Error(`${String(error)}; relay refusals: ${refused.join("; ") || "none"}`);
      }
    }
    expect(phone.readBy().user).toBe(laptop.readBy().user);
  });
});
