/**
 * A login merge the relay refuses (4409 `merge`) is never asked for again, against a real relay process: the
 * client puts the anonymous identity back with its thread, surfaces the typed error once (the login rejects
 * with it, or an `error` event when the login had timed out offline), and a later login from that identity
 * goes through without a merge. The relay logs every refusal, so its log counts the merges asked for.
 */
import { AuthorshipError, type ParleyClient, type ParleyError } from "@parley/client";
import { describe, expect, it } from "vitest";
import { api } from "./business-support.js";
import { useClientFixture } from "./support/client.js";
import { type RelayHandle, signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** How many connections the relay refused because of their merge. */
function mergeRefusals(relay: RelayHandle): number {
  return relay.logs.filter((line) => line.includes('"connection refused"') && line.includes('"reason":"merge"')).length;
}

describe("a login merge the relay refuses", () => {
  const fixture = useClientFixture();

  /**
   * An anonymous client whose message id the business already used in `userId`'s thread: the relay refuses
   * that merge (it would hide the business's message).
   */
  async function collidingAnonymous(userId: string, extra: { loginTimeoutMs?: number } = {}): Promise<ParleyClient> {
    const existing = fixture.client();
    await existing.login(userId, await signUserToken(userId));
    const anonymous = fixture.client(extra);
    await anonymous.send("anonymous words");
    await anonymous.flush();
    const id = anonymous.messages()[0]?.id;
    const posted = await api(fixture.relay, "POST", `users/${userId}/messages`, { body: { id, text: "welcome" } });
    expect(posted.status).toBeLessThan(300);
    return anonymous;
  }

  it("rejects the login once with AuthorshipError (merge), keeps the anonymous thread, and never asks again", async () => {
    const relay = await fixture.startRelay();
    const userId = "merge-refused-online";
    const client = await collidingAnonymous(userId);

    const refused = await client.login(userId, await signUserToken(userId)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AuthorshipError);
    expect((refused as AuthorshipError).reason).toBe("merge");
    expect(client.identity.kind).toBe("anonymous");
    expect(client.messages().map((m) => m.text)).toEqual(["anonymous words"]);
    expect(mergeRefusals(relay)).toBe(1);

    // The next login asks for no merge: it goes through, as a switch to the user's own thread.
    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    expect(client.identity).toEqual({ kind: "user", userId, authenticated: true });
    expect(client.messages().map((m) => m.text)).toEqual(["welcome"]);
    await client.send("logged in after all");
    await client.flush();
    expect(mergeRefusals(relay)).toBe(1);
  });

  it("reports it once as an error event when the login had timed out offline, and never asks again", async () => {
    const relay = await fixture.startRelay();
    const userId = "merge-refused-offline";
    const client = await collidingAnonymous(userId, { loginTimeoutMs: 1_000 });
    const errors: ParleyError[] = [];
    client.on("error", (error) => errors.push(error));

    await relay.stop();
    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: false });
    expect(client.identity.kind).toBe("user");
    await relay.restart();

    // The relay refuses the merge on the first connection: the client is anonymous again, and online.
    await waitFor(() => client.identity.kind === "anonymous" && client.status === "online", {
      what: "the anonymous identity back online",
    });
    await client.send("still anonymous");
    await client.flush();
    expect(client.messages().map((m) => m.text)).toEqual(["anonymous words", "still anonymous"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AuthorshipError);
    expect((errors[0] as AuthorshipError).reason).toBe("merge");

    expect(await client.login(userId, await signUserToken(userId))).toEqual({ authenticated: true });
    expect(client.messages().map((m) => m.text)).toEqual(["welcome"]);
    expect(mergeRefusals(relay)).toBe(1);
    expect(errors).toHaveLength(1);
  });
});
