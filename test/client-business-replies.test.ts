import { memoryStorage } from "@parley/client";
import { describe, expect, it } from "vitest";
import { api } from "./business-support.js";
import { useClientFixture } from "./support/client.js";
import { signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

describe("the business side of a conversation, as clients see it", () => {
  const fixture = useClientFixture();

  it("shows a business reply with its author, counts it unread until read on any of the user's clients", async () => {
    const relay = await fixture.startRelay();
    const make = () => {
      const client = fixture.client({ storage: memoryStorage() });
      return client;
    };
    const phone = make();
    const laptop = make();
    await phone.login("b2-user", await signUserToken("b2-user"));
    await laptop.login("b2-user", await signUserToken("b2-user"));
    await phone.setProfile({ givenName: "Grace", email: "grace@example.com", properties: { tier: "gold" } });
    await phone.send("is my order shipped?");
    await phone.flush();

    // The business reads the user's profile and client context from the relay, and answers.
    const user = await api(relay, "GET", "users/b2-user");
    expect(user.status).toBe(200);
    expect(JSON.stringify(user.body)).toContain("grace@example.com");
    const reply = await api(relay, "POST", "users/b2-user/messages", {
      body: { text: "yes, this morning", author: { id: "agent-7", name: "Dana" }, metadata: { ticket: 42 } },
    });
    expect(reply.status).toBe(201);

    for (const device of [phone, laptop]) {
      await waitFor(() => device.messages().length === 2, { what: "the reply reached a client" });
      expect(device.messages().map((m) => [m.role, m.text, m.mine])).toEqual([
        ["user", "is my order shipped?", device === phone],
        ["business", "yes, this morning", false],
      ]);
      const answer = device.messages()[1];
      expect(answer?.author).toEqual({ id: "agent-7", name: "Dana" });
      expect(answer?.metadata).toEqual({ ticket: 42 });
      expect(answer?.clientId).toBeUndefined();
      await waitFor(() => device.messages().every((m) => m.status === "sent"), { what: "stored" });
      expect(device.unreadCount()).toBe(1);
    }
    expect(laptop.profile()).toEqual({ givenName: "Grace", email: "grace@example.com", properties: { tier: "gold" } });

    laptop.markRead();
    expect(laptop.unreadCount()).toBe(0);
    await waitFor(() => phone.unreadCount() === 0, { what: "read on the phone too" });
  });
});
