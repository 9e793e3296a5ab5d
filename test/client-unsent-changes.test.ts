/**
 * A refused logout or switch names exactly what is unsent (messages, profile fields, read position), and
 * refuses only for the user's own content: what the relay wrote (client records) never holds a logout back,
 * while what a login merged from the anonymous room does until the relay has merged it into the user's room.
 */
import { UnsentChangesError } from "@parley/client";
import { describe, expect, it } from "vitest";
import { useClientFixture } from "./support/client.js";
import { signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

async function refusal(run: Promise<unknown>): Promise<UnsentChangesError> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof UnsentChangesError)) throw new Error(`expected an UnsentChangesError, got ${String(error)}`);
  return error;
}

describe("unsent changes on logout and switch", () => {
  const fixture = useClientFixture({ flushTimeoutMs: 1_000, loginTimeoutMs: 300 });

  it("refuses a logout after an offline login until the relay has merged the anonymous thread", async () => {
    const relay = await fixture.startRelay();
    const client = fixture.client();
    await client.ready;
    const first = await client.send("sent while anonymous");
    const second = await client.send("also sent while anonymous");
    await client.flush();
    expect(client.messages().map((m) => m.status)).toEqual(["sent", "sent"]);
    await relay.stop();
    await waitFor(() => client.status === "offline", { what: "the client notices the relay is gone" });

    const userId = "unsent-offline-login";
    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: false });
    // Stored in the anonymous room only: the relay has not merged them into the user's room yet.
    expect(client.messages().map((m) => [m.text, m.status])).toEqual([
      ["sent while anonymous", "pending"],
      ["also sent while anonymous", "pending"],
    ]);
    const logoutError = await refusal(client.logout());
    expect([...logoutError.messageIds].sort()).toEqual([first.id, second.id].sort());
    const switchError = await refusal(client.login("unsent-other", await signUserToken("unsent-other")));
    expect([...switchError.messageIds].sort()).toEqual([first.id, second.id].sort());
    expect(client.identity).toMatchObject({ kind: "user", userId });

    await relay.restart();
    await waitFor(() => client.messages().every((m) => m.status === "sent"), { what: "the relay merged" });
    await client.logout();
    expect(client.identity.kind).toBe("anonymous");
    expect(client.messages()).toEqual([]);

    const other = fixture.client();
    expect(await other.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    await waitFor(() => other.messages().length === 2, { what: "the merged messages on another client of the user" });
    expect(other.messages().map((m) => [m.id, m.text])).toEqual([
      [first.id, "sent while anonymous"],
      [second.id, "also sent while anonymous"],
    ]);
  });

  it("holds a switch after an offline login only for the token check", async () => {
    const relay = await fixture.startRelay();
    const client = fixture.client();
    await client.ready;
    // Synced with the relay (which stores nothing for an anonymous room nobody wrote to, not even a client record).
    await waitFor(() => client.status === "online", { what: "the first sync" });
    await relay.stop();
    await waitFor(() => client.status === "offline", { what: "the client notices the relay is gone" });
    expect(await client.login("unsent-a", await signUserToken("unsent-a"))).toEqual({ authenticated: false });
    // The flush must not wait for the relay (nothing of the user's is unsent): the switch fails only
    // because the relay cannot check the new token.
    const error = await client.login("unsent-b", await signUserToken("unsent-b")).catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(UnsentChangesError);
    expect((error as { code?: string }).code).toBe("ERR_RELAY_UNAVAILABLE");
  });

  it("names the unsent messages, profile fields and read position, and only the user's own", async () => {
    const relay = await fixture.startRelay();
    const client = fixture.client();
    const userId = "unsent-named";
    await client.login(userId, await signUserToken(userId));
    await client.send("stored already");
    await client.flush();
    await relay.stop();
    await waitFor(() => client.status === "offline", { what: "the client notices the relay is gone" });
    const pending = await client.send("not stored yet");
    await client.setProfile({ givenName: "Grace", properties: { plan: "pro" } });
    await client.markRead();

    const logoutError = await refusal(client.logout());
    expect(logoutError.messageIds).toEqual([pending.id]);
    expect([...logoutError.profileFields].sort()).toEqual(["givenName", "properties.plan"]);
    expect(logoutError.readPosition).toBe(true);
    expect(logoutError.message).toContain("1 message(s)");
    expect(logoutError.message).toContain("givenName");

    const switchError = await refusal(client.login("unsent-other", await signUserToken("unsent-other")));
    expect(switchError.messageIds).toEqual([pending.id]);
    expect(client.identity).toMatchObject({ kind: "user", userId });

    await relay.restart();
    await waitFor(() => client.status === "online", { what: "reconnected" });
    await client.logout();
    expect(client.identity.kind).toBe("anonymous");
  });

  it("refuses a logout after an offline login for what the anonymous user wrote offline", async () => {
    const relay = await fixture.startRelay();
    const client = fixture.client();
    await client.ready;
    await relay.stop();
    const unsent = await client.send("written offline as anonymous");
    const userId = "unsent-anonymous-offline";
    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: false });
    const error = await refusal(client.logout());
    expect(error.messageIds).toEqual([unsent.id]);
    expect(error.profileFields).toEqual([]);
    expect(error.readPosition).toBe(false);
    expect(client.identity).toMatchObject({ kind: "user", userId });
  });
});
