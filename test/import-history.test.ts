/**
 * Issue 9, "the business creates a user before that user's first login": the app's backend creates a
 * user and imports its history through the business API of a real relay process; the user's first
 * login (with @parley/client over `ws`) shows it, merged with any anonymous history under the usual
 * rules; re-imports change nothing; a webhook reports each import.
 */
import {
  BusinessApiError,
  type BusinessClient,
  createBusinessClient,
  type ImportedMessage,
  type WebhookEvent,
} from "@parley/business";
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { listMessageEntries, ownersOf, RELAY_OWNER, roomName } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startBusinessRelay, startReceiver, type WebhookReceiver, webhookConfig } from "./business-support.js";
import { readRelayDoc } from "./support/client.js";
import { type RelayHandle, signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
let receiver: WebhookReceiver | undefined;
const clients: ParleyClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.destroy().catch(() => {});
  await relay?.stop();
  await receiver?.stop();
  relay = undefined;
  receiver = undefined;
});

function business(handle: RelayHandle): BusinessClient {
  return createBusinessClient({
    baseUrl: handle.httpUrl,
    appId: TEST_APP.id,
    keyId: TEST_APP.kid,
    secret: TEST_APP.secret,
  });
}

function client(handle: RelayHandle): ParleyClient {
  const made = createClient({ appId: TEST_APP.id, relayUrl: handle.url, storage: memoryStorage(), WebSocket });
  clients.push(made);
  return made;
}

const DAY = 24 * 3600_000;

/** Old support tickets, deliberately not in time order. */
function history(prefix: string, base: number): ImportedMessage[] {
  return [
    { id: `${prefix}-0003`, role: "user", text: "still broken", ts: base + 3_000, metadata: { ticket: "T-9" } },
    { id: `${prefix}-0001`, role: "user", text: "my printer is broken", ts: base + 1_000 },
    {
      id: `${prefix}-0002`,
      role: "business",
      text: "have you tried turning it off and on?",
      ts: base + 2_000,
      author: { id: "agent-1", name: "Roy" },
    },
    { id: `${prefix}-0004`, role: "business", text: "sending a new one", ts: base + 4_000, author: { name: "Moss" } },
  ];
}

describe("import before the first login", () => {
  it("keeps timestamps and authors, sorts by them, is idempotent, refuses bad batches, and reports each import", async () => {
    receiver = await startReceiver();
    relay = await startBusinessRelay({ webhooks: [webhookConfig(receiver.url, ["conversation.imported"])] });
    const sdk = business(relay);
    const created = await sdk.upsertUser("lena", { givenName: "Lena", email: "lena@example.com" });
    expect(created.created).toBe(true);
    const base = Date.now() - 30 * DAY;
    const batch = history("lena", base);

    expect(await sdk.importMessages("lena", batch)).toEqual({ imported: 4, skipped: 0 });
    const page = await sdk.listMessages({ kind: "user", id: "lena" });
    expect(page.messages.map((m) => m.id)).toEqual(["lena-0001", "lena-0002", "lena-0003", "lena-0004"]);
    expect(page.messages.map((m) => m.ts)).toEqual([base + 1_000, base + 2_000, base + 3_000, base + 4_000]);
    expect(page.messages[0]).toEqual({
      id: "lena-0001",
      role: "user",
      text: "my printer is broken",
      ts: base + 1_000,
      clientId: "imported",
    });
    expect(page.messages[1]?.author).toEqual({ id: "agent-1", name: "Roy" });
    expect(page.messages[2]?.metadata).toEqual({ ticket: "T-9" });
    const lena = await sdk.getSubject({ kind: "user", id: "lena" });
    expect(lena.clients).toEqual([expect.objectContaining({ id: "imported", platform: "import", active: false })]);
    expect(lena.profile).toEqual({ givenName: "Lena", email: "lena@example.com", properties: {} });

    // The same batch again changes nothing; a batch overlapping it adds only what is new.
    expect(await sdk.importMessages("lena", batch)).toEqual({ imported: 0, skipped: 4 });
    const more: ImportedMessage = { id: "lena-0005", role: "user", text: "thanks!", ts: base + 5_000 };
    expect(await sdk.importMessages("lena", [batch[0] as ImportedMessage, more])).toEqual({ imported: 1, skipped: 1 });
    expect((await sdk.listMessages({ kind: "user", id: "lena" })).messages).toHaveLength(5);

    // Bad batches are refused whole, with the offending field named, and store nothing.
    const refusals: unknown[][] = [
      [{ ...more, id: "lena-0006", role: "bot" }],
      [{ ...more, id: "lena-0007", ts: Date.now() + DAY }],
      [{ ...more, id: "lena-0008", author: { name: "not for users" } }],
      [
        { ...more, id: "lena-0009" },
        { ...more, id: "lena-0009" },
      ],
      [{ ...more, id: "short" }],
      [],
    ];
    for (const messages of refusals) {
      const error = await sdk.importMessages("lena", messages as ImportedMessage[]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BusinessApiError);
      expect((error as BusinessApiError).code).toBe("ERR_INVALID_ARGUMENT");
    }
    expect((await sdk.listMessages({ kind: "user", id: "lena" })).messages).toHaveLength(5);

    const target = receiver;
    await waitFor(() => target.received.filter((d) => d.answered === 200).length === 3, { what: "import events" });
    const events = target.received.map((d) => JSON.parse(d.rawBody) as WebhookEvent);
    expect(events.map((e) => e.type)).toEqual(Array(3).fill("conversation.imported"));
    expect(events.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: { kind: "user", id: "lena" }, imported: 4, skipped: 0 }),
        expect.objectContaining({ imported: 0, skipped: 4 }),
        expect.objectContaining({ imported: 1, skipped: 1, messageIds: ["lena-0003", "lena-0005"] }),
      ]),
    );
  });

  it("shows the imported thread on the user's first login, written by the relay's own Yjs client", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const base = Date.now() - 7 * DAY;
    expect(await sdk.importMessages("mia", history("mia", base))).toEqual({ imported: 4, skipped: 0 });

    const phone = client(relay);
    await phone.ready;
    expect(await phone.login("mia", await signUserToken("mia"))).toEqual({ authenticated: true });
    await waitFor(() => phone.messages().length === 4, { what: "imported thread on first login" });
    const shown = phone.messages();
    expect(shown.map((m) => m.text)).toEqual([
      "my printer is broken",
      "have you tried turning it off and on?",
      "still broken",
      "sending a new one",
    ]);
    expect(shown.map((m) => m.role)).toEqual(["user", "business", "user", "business"]);
    expect(shown[1]?.author).toEqual({ id: "agent-1", name: "Roy" });
    expect(shown.every((m) => !m.mine)).toBe(true);

    // The user carries on after the history; the business sees it in order.
    await phone.send("got the new printer, works");
    await phone.flush();
    const page = await sdk.listMessages({ kind: "user", id: "mia" });
    expect(page.messages.map((m) => m.text).at(-1)).toBe("got the new printer, works");
    expect(page.messages).toHaveLength(5);

    // Authorship holds: every imported struct belongs to the relay's own Yjs clientID.
    const stored = await readRelayDoc(
      relay,
      roomName({ appId: TEST_APP.id, kind: "user", subject: "mia" }),
      await signUserToken("mia"),
    );
    const owners = ownersOf(stored);
    for (const entry of listMessageEntries(stored)) {
      const owner = owners.get(String(entry.client));
      if (entry.record.id.startsWith("mia-")) expect(owner).toBe(RELAY_OWNER);
      else expect(owner).toBe(phone.clientId);
    }
  });

  it("merges an anonymous history with the imported one: nothing lost, nothing duplicated, one order", async () => {
    relay = await startBusinessRelay();
    const sdk = business(relay);
    const base = Date.now() - 3 * DAY;
    const imported = history("noa", base);
    await sdk.importMessages("noa", imported);

    const laptop = client(relay);
    await laptop.ready;
    await laptop.send("anonymous: hello?");
    await laptop.send("anonymous: anyone there?");
    await laptop.flush();
    expect(await laptop.login("noa", await signUserToken("noa"))).toEqual({ authenticated: true });
    await waitFor(() => laptop.messages().length === 6, { what: "merged thread" });

    const phone = client(relay);
    await phone.ready;
    await phone.login("noa", await signUserToken("noa"));
    await waitFor(() => phone.messages().length === 6, { what: "second device" });

    const ids = laptop.messages().map((m) => m.id);
    expect(new Set(ids).size).toBe(6);
    expect(ids.slice(0, 4)).toEqual(["noa-0001", "noa-0002", "noa-0003", "noa-0004"]);
    expect(
      laptop
        .messages()
        .slice(4)
        .map((m) => m.text),
    ).toEqual(["anonymous: hello?", "anonymous: anyone there?"]);
    expect(phone.messages().map((m) => m.id)).toEqual(ids);
    const page = await sdk.listMessages({ kind: "user", id: "noa" });
    expect(page.messages.map((m) => m.id)).toEqual(ids);

    // Importing the batch again after the merge still changes nothing anywhere.
    expect(await sdk.importMessages("noa", imported)).toEqual({ imported: 0, skipped: 4 });
    await laptop.send("after the re-import");
    await waitFor(() => phone.messages().length === 7, { what: "live after re-import" });
    expect(phone.messages().map((m) => m.id)).toEqual(laptop.messages().map((m) => m.id));
    const user = await sdk.getSubject({ kind: "user", id: "noa" });
    // Both devices started anonymous (every fresh client does), and both anonymous ids were merged.
    expect(user.merged).toHaveLength(2);
    expect(user.messageCount).toBe(7);
  });
});
