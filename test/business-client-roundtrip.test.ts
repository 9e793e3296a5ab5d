/**
 * The business side and the real client together: @parley/business against a real relay process, and
 * two devices of one user running @parley/client (separate stores, `ws`), so everything crosses the relay.
 * Replies, read receipts and typing, both ways.
 */
import { type BusinessClient, createBusinessClient, type SubjectRef } from "@parley/business";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startBusinessRelay } from "./business-support.js";
import { type RelayHandle, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
const clients: ParleyClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await relay?.stop();
  relay = undefined;
});

async function device(handle: RelayHandle, userId: string): Promise<ParleyClient> {
  const client = createClient({ appId: TEST_APP.id, relayUrl: handle.url, storage: memoryStorage(), WebSocket });
  clients.push(client);
  await client.ready;
  expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
  return client;
}

describe("business and client round trip", () => {
  it("answers a user on two devices, with read receipts and typing both ways", async () => {
    relay = await startBusinessRelay();
    const sdk: BusinessClient = createBusinessClient({
      baseUrl: relay.httpUrl,
      appId: TEST_APP.id,
      keyId: TEST_APP.kid,
      secret: TEST_APP.secret,
    });
    const phone = await device(relay, "pia");
    const laptop = await device(relay, "pia");
    const subject: SubjectRef = { kind: "user", id: "pia" };

    // The user asks from the phone and types on the laptop; the business sees both.
    await phone.send("can I change my delivery address?");
    await phone.flush();
    expect((await sdk.getSubject(subject)).unread.business).toBe(1);
    laptop.setTyping(true);
    await waitFor(async () => (await sdk.getSubject(subject)).userTyping, { what: "business sees the user typing" });
    laptop.setTyping(false);
    await waitFor(async () => !(await sdk.getSubject(subject)).userTyping, { what: "user stopped typing" });

    // The business reads, types and answers; both devices see each step.
    const read = await sdk.markRead(subject);
    expect(read.unread.business).toBe(0);
    await waitFor(() => phone.readBy().business === read.reads.business, { what: "phone sees the business read" });
    expect(phone.messages()[0]?.readByBusiness).toBe(true);
    await sdk.setTyping(subject);
    await waitFor(() => phone.businessTyping() && laptop.businessTyping(), { what: "devices see the business typing" });
    const { message } = await sdk.postMessage(subject, { text: "Yes, until it ships.", author: { name: "Dana" } });
    for (const client of [phone, laptop]) {
      // The relay's stored ack follows the update frame, so "sent" may come a moment after the message.
      await waitFor(() => client.messages().some((m) => m.id === message.id && m.status === "sent"), {
        what: "reply on a device",
      });
      const shown = client.messages().find((m) => m.id === message.id);
      expect(shown).toMatchObject({
        role: "business",
        text: "Yes, until it ships.",
        author: { name: "Dana" },
        status: "sent",
      });
      expect(client.unreadCount()).toBe(1);
    }
    await sdk.setTyping(subject, false);
    await waitFor(() => !phone.businessTyping() && !laptop.businessTyping(), { what: "typing cleared" });

    // Reading on one device clears the count on the other and shows the business the user's position.
    expect((await sdk.getSubject(subject)).unread.user).toBe(1);
    laptop.markRead();
    await waitFor(() => phone.unreadCount() === 0, { what: "phone follows the laptop's read" });
    await waitFor(async () => (await sdk.getSubject(subject)).unread.user === 0, {
      what: "business sees the user read",
    });
    expect((await sdk.getSubject(subject)).reads.user).toBe(message.ts);
  });
});
