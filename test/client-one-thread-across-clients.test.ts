import { memoryStorage, type ParleyClient, SDK_VERSION } from "@parley/client";
import { describe, expect, it } from "vitest";
import { useClientFixture } from "./support/client.js";
import { signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const ids = (client: ParleyClient) => client.messages().map((m) => m.id);

describe("one thread across the clients of a userId", () => {
  const fixture = useClientFixture();

  async function loggedIn(userId: string, count: number): Promise<ParleyClient[]> {
    const made: ParleyClient[] = [];
    for (let i = 0; i < count; i++) {
      // Separate stores: these are separate devices, syncing only through the relay.
      const client = fixture.client({
        storage: memoryStorage(),
        clientInfo: { platform: `device-${i}`, appVersion: "1.2.3" },
      });
      expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
      made.push(client);
    }
    return made;
  }

  it("shows every client's messages live on the others", async () => {
    await fixture.startRelay();
    const [a, b, c] = await loggedIn("b3-live", 3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three clients");
    const seenOnC: string[] = [];
    c.on("messages", (messages) => {
      for (const m of messages) if (!seenOnC.includes(m.text)) seenOnC.push(m.text);
    });
    await a.send("hello from a");
    await waitFor(() => b.messages().length === 1 && c.messages().length === 1, { what: "a's message everywhere" });
    await b.send("hello from b");
    await waitFor(() => a.messages().length === 2 && c.messages().length === 2, { what: "b's message everywhere" });
    expect(ids(a)).toEqual(ids(b));
    expect(ids(b)).toEqual(ids(c));
    expect(seenOnC).toEqual(["hello from a", "hello from b"]);
    expect(c.messages().map((m) => m.mine)).toEqual([false, false]);
    expect(b.messages().map((m) => m.mine)).toEqual([false, true]);
    expect(new Set(a.messages().map((m) => m.clientId))).toEqual(new Set([a.clientId, b.clientId]));
    // Each client's context, as the relay recorded it, is visible to the user's other clients.
    await waitFor(() => c.clients().length === 3, { what: "three client records" });
    const records = c.clients().sort((x, y) => x.platform.localeCompare(y.platform));
    expect(records.map((r) => [r.id, r.platform, r.appVersion, r.active])).toEqual([
      [a.clientId, "device-0", "1.2.3", true],
      [b.clientId, "device-1", "1.2.3", true],
      [c.clientId, "device-2", "1.2.3", true],
    ]);
    expect(records.every((r) => r.sdkVersion === SDK_VERSION && r.firstSeen <= r.lastSeen)).toBe(true);
  });

  it("converges messages written offline on two clients at once to one order on all three", async () => {
    const relay = await fixture.startRelay();
    const [a, b, c] = await loggedIn("b3-offline", 3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three clients");
    await a.send("online first");
    await waitFor(() => b.messages().length === 1 && c.messages().length === 1, { what: "first message" });

    await relay.stop();
    await waitFor(() => a.status === "offline" && b.status === "offline", { what: "offline" });
    for (let i = 0; i < 5; i++) {
      await a.send(`a offline ${i}`);
      await b.send(`b offline ${i}`);
    }
    expect(a.messages()).toHaveLength(6);
    expect(b.messages()).toHaveLength(6);
    expect(c.messages()).toHaveLength(1);

    await relay.restart();
    await waitFor(
      () =>
        [a, b, c].every(
          (client) => client.messages().length === 11 && client.messages().every((m) => m.status === "sent"),
        ),
      { what: "converged and stored" },
    );
    expect(ids(a)).toEqual(ids(b));
    expect(ids(b)).toEqual(ids(c));
    expect(new Set(ids(c)).size).toBe(11);
    // Each client's own messages keep the order in which that client wrote them.
    const aTexts = c
      .messages()
      .map((m) => m.text)
      .filter((t) => t.startsWith("a offline"));
    expect(aTexts).toEqual([0, 1, 2, 3, 4].map((i) => `a offline ${i}`));
  });
});
