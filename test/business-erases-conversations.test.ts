/**
 * Erasure through the business API, against a real relay process on its file store: `DELETE users/<id>`
 * erases the user's conversation and the anonymous ones merged into it; `DELETE anonymous/<id>` erases an
 * anonymous conversation; an erased anonymous subject stays refused, also after a restart.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  anonymousIdFromSecret,
  anonymousToken,
  type ClientRecord,
  CloseCode,
  createSecret,
  type MessageRecord,
  MessageType,
  messagesOf,
  roomName,
} from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { api, startBusinessRelay } from "./business-support.js";
import {
  connectRaw,
  openProvider,
  type RelayHandle,
  signUserToken,
  TEST_APP,
  type TestProvider,
} from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
const providers: TestProvider[] = [];

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.destroy();
  await relay?.stop();
  relay = undefined;
});

const anonymousRoom = (secret: string) =>
  roomName({ appId: TEST_APP.id, kind: "anonymous", subject: anonymousIdFromSecret(secret) });
const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

function write(provider: TestProvider, text: string): void {
  const record: MessageRecord = {
    id: `erase-${createSecret().slice(0, 12)}`,
    role: "user",
    client: provider.clientId,
    text,
    ts: Date.now(),
  };
  messagesOf(provider.doc).push([record]);
}

/** Every name file's content under the relay's data directory: the room names storage lists. */
function storedNames(handle: RelayHandle): string[] {
  const docs = join(handle.dataDir, "docs");
  return readdirSync(docs, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith(".name"))
    .map((file) => readFileSync(join(docs, file), "utf8"));
}

/** The close code the relay answers an anonymous secret's connection with (none: it was admitted). */
async function anonymousAdmission(handle: RelayHandle, secret: string): Promise<number | "admitted"> {
  const raw = connectRaw(handle, anonymousRoom(secret), { token: anonymousToken(secret), client: createSecret() });
  const outcome = await Promise.race([
    raw.closed.then((event) => event.code),
    raw.opened.then(() => new Promise<"admitted">((resolve) => setTimeout(() => resolve("admitted"), 300))),
  ]);
  raw.ws.terminate();
  return outcome;
}

describe("erasing conversations through the business API", () => {
  it("DELETE users/<id> erases the user's thread and the anonymous thread merged into it, durably", async () => {
    relay = await startBusinessRelay();
    const secret = createSecret();
    const visitor = openProvider(relay, anonymousRoom(secret), anonymousToken(secret));
    providers.push(visitor);
    await waitFor(() => visitor.provider.synced, { what: "anonymous synced" });
    write(visitor, "my address is 1 Main St");
    const anonymousId = anonymousIdFromSecret(secret);
    await waitFor(async () => (await api(relay!, "GET", `anonymous/${anonymousId}`)).body?.messageCount === 1);
    const member = openProvider(relay, userRoom("erin"), await signUserToken("erin"), {
      params: { merge: anonymousToken(secret) },
    });
    providers.push(member);
    await waitFor(() => member.provider.synced, { what: "merged login synced" });
    expect((await api(relay, "GET", "users/erin")).body.merged).toEqual([anonymousId]);
    // A provider would reconnect and send its copy back: erasure is of what the relay stores. A raw
    // connection shows what a connected client is told.
    const left = Date.now();
    member.destroy();
    // The relay stamps the member's departure (a relay write, forwarded to whoever is connected): waited for here, so
    // that no frame the watcher gets from now on can come from it.
    await waitFor(
      async () => {
        const clients = (await api(relay!, "GET", "users/erin")).body.clients as ClientRecord[];
        const record = clients.find((client) => client.id === member.clientId);
        return record !== undefined && record.lastSeen >= left && record.lastSeen > record.firstSeen;
      },
      { what: "the member's departure recorded" },
    );
    const watcher = connectRaw(relay, userRoom("erin"), {
      token: await signUserToken("erin"),
      client: createSecret(),
      acks: "1",
      attest: "1",
    });
    await watcher.opened;
    const framesBefore = watcher.frames.length;

    const erased = await api(relay, "DELETE", "users/erin");
    expect(erased.status).toBe(204);
    expect((await watcher.closed).code).toBe(CloseCode.GoingAway);
    // The erasure wrote nothing to the live room: no change reached the client that it could hand back, attested,
    // into the user's next conversation.
    expect(watcher.frames.slice(framesBefore).filter((frame) => frame[0] === MessageType.attested)).toEqual([]);
    expect((await api(relay, "GET", "users/erin")).status).toBe(404);
    expect((await api(relay, "GET", `anonymous/${anonymousId}`)).status).toBe(404);
    expect((await api(relay, "GET", "users")).body.users).toEqual([]);

    await relay.kill();
    await relay.restart();
    expect((await api(relay, "GET", "users/erin")).status).toBe(404);
    expect((await api(relay, "GET", `anonymous/${anonymousId}`)).status).toBe(404);
    expect(await anonymousAdmission(relay, secret)).toBe(CloseCode.Forbidden);
    // The user room is gone from storage; the anonymous one is a tombstone without the text.
    expect(storedNames(relay)).toEqual([anonymousRoom(secret)]);
    expect((await api(relay, "DELETE", "users/erin")).status).toBe(404);
  });

  it("DELETE anonymous/<id> erases a live anonymous thread and refuses its secret from then on", async () => {
    relay = await startBusinessRelay();
    const secret = createSecret();
    const visitor = openProvider(relay, anonymousRoom(secret), anonymousToken(secret));
    providers.push(visitor);
    const closes: number[] = [];
    visitor.provider.on("connection-close", (event: CloseEvent | null) => {
      if (event) closes.push(event.code);
    });
    await waitFor(() => visitor.provider.synced, { what: "anonymous synced" });
    write(visitor, "call me at 555-0100");
    const anonymousId = anonymousIdFromSecret(secret);
    await waitFor(async () => (await api(relay!, "GET", `anonymous/${anonymousId}`)).body?.messageCount === 1);
    const other = createSecret();
    const bystander = openProvider(relay, anonymousRoom(other), anonymousToken(other));
    providers.push(bystander);
    await waitFor(() => bystander.provider.synced, { what: "bystander synced" });
    write(bystander, "just looking");

    expect((await api(relay, "DELETE", `anonymous/${anonymousId}`)).status).toBe(204);
    await waitFor(() => closes.includes(CloseCode.GoingAway), { what: "visitor closed with 1001" });
    // Its reconnection is refused: the tombstone keeps the revocation.
    await waitFor(() => closes.includes(CloseCode.Forbidden), { what: "visitor refused with 4403" });
    expect((await api(relay, "GET", `anonymous/${anonymousId}`)).status).toBe(404);
    expect(await anonymousAdmission(relay, secret)).toBe(CloseCode.Forbidden);
    expect(await anonymousAdmission(relay, other)).toBe("admitted");
    const listed = (await api(relay, "GET", "users")).body.users.map((user: { id: string }) => user.id);
    expect(listed).toEqual([anonymousIdFromSecret(other)]);
    expect((await api(relay, "DELETE", `anonymous/${anonymousId}`)).status).toBe(404);
  });
});
