import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "@parley/client";
import { directoryStorage } from "@parley/client/node";
import { anonymousIdFromSecret, clientsOf, parseAnonymousToken, roomName } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { connectRaw, readRelayDoc, storedAnonymousToken, useClientFixture } from "./support/client.js";
import { signUserToken, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const userRoom = (userId: string) => roomName({ appId: TEST_APP.id, kind: "user", subject: userId });

describe("logout", () => {
  const fixture = useClientFixture();

  it("disconnects, deletes the user's data, marks the client inactive and continues as a new anonymous user", async () => {
    const relay = await fixture.startRelay();
    const dir = mkdtempSync(join(tmpdir(), "parley-b6-"));
    const storage = directoryStorage(dir);
    const client = fixture.client({ storage });
    const otherDevice = fixture.client({ storage: memoryStorage() });
    await client.ready;
    const firstAnonymous = client.identity;
    const userId = "b6-user";
    await client.login(userId, await signUserToken(userId));
    await otherDevice.login(userId, await signUserToken(userId));
    await waitFor(() => otherDevice.clients().find((c) => c.id === client.clientId)?.active === true, {
      what: "the other device lists this client as active",
    });
    await client.send("a private message");
    await client.setProfile({ email: "user@example.com" });
    await client.flush();
    const clientId = client.clientId;
    const oldSecret = ((await storage.get(`identity/${TEST_APP.id}`)) as { clientSecret: string }).clientSecret;
    const statuses: string[] = [];
    client.on("status", (status) => statuses.push(status));

    await client.logout();

    expect(statuses).toContain("offline");
    expect(client.identity.kind).toBe("anonymous");
    expect(client.identity).not.toEqual(firstAnonymous);
    expect(client.messages()).toEqual([]);
    expect(client.profile()).toEqual({ properties: {} });
    // A new device id: nothing links the next anonymous visitor to the user who left.
    expect(client.clientId).not.toBe(clientId);
    const identity = client.identity;
    if (identity.kind !== "anonymous") throw new Error("expected anonymous");
    const anonymousRoom = roomName({ appId: TEST_APP.id, kind: "anonymous", subject: identity.anonymousId });
    // Nothing of the user is left on disk: at most the new anonymous thread, and no record names them.
    expect((await storage.listDocs()).filter((name) => name !== anonymousRoom)).toEqual([]);
    expect(readdirSync(join(dir, "docs")).length).toBeLessThanOrEqual(1);
    for (const file of readdirSync(join(dir, "records"))) {
      const record = JSON.stringify(
        await storage.get(Buffer.from(file.replace(/\.json$/, ""), "base64url").toString()),
      );
      expect(record).not.toContain(userId);
    }
    for (const file of filesUnder(dir)) expect(readFileSync(file, "latin1")).not.toContain(oldSecret);

    const onRelay = await readRelayDoc(relay, userRoom(userId), await signUserToken(userId));
    expect(clientsOf(onRelay).get(clientId)?.active).toBe(false);
    await waitFor(() => otherDevice.clients().find((c) => c.id === clientId)?.active === false, {
      what: "the other device sees this client inactive",
    });
    expect(otherDevice.messages().map((m) => m.text)).toEqual(["a private message"]);

    // Parley stays enabled: the new anonymous thread works.
    await client.send("hello again, anonymously");
    await client.flush();
    expect(client.messages().map((m) => [m.text, m.status])).toEqual([["hello again, anonymously", "sent"]]);
    const anonymousOnRelay = await readRelayDoc(relay, anonymousRoom, await storedAnonymousToken(storage));
    expect([...clientsOf(anonymousOnRelay).keys()]).toEqual([client.clientId]);
  });

  it("keeps the client id across a logout when the app opts in with stableDeviceId", async () => {
    await fixture.startRelay();
    const client = fixture.client({ storage: memoryStorage(), stableDeviceId: true });
    await client.ready;
    const clientId = client.clientId;
    await client.login("stable-device-user", await signUserToken("stable-device-user"));
    await client.logout();
    expect(client.identity.kind).toBe("anonymous");
    expect(client.clientId).toBe(clientId);
  });

  it("logs out an anonymous user: its room is revoked on the relay and a fresh anonymous thread starts", async () => {
    const relay = await fixture.startRelay();
    const storage = memoryStorage();
    const client = fixture.client({ storage });
    await client.ready;
    await client.send("anonymous words");
    await client.flush();
    const oldToken = await storedAnonymousToken(storage);
    const oldRoom = roomName({
      appId: TEST_APP.id,
      kind: "anonymous",
      subject: anonymousIdFromSecret(parseAnonymousToken(oldToken) ?? ""),
    });

    await client.logout();

    expect(client.messages()).toEqual([]);
    expect(await storage.listDocs()).not.toContain(oldRoom);
    expect((await connectRaw(relay, oldRoom, oldToken)).closeCode).toBe(4403);
    await waitFor(() => client.status === "online", { what: "new anonymous identity online" });
  });
});
