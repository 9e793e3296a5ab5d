/**
 * Credentials never travel in URLs from Parley's client: the JWT (or anonymous token), the client secret and a
 * login merge's secret go as `Sec-WebSocket-Protocol` entries next to `parley.v1`, and the relay only ever
 * selects `parley.v1` in its 101 answer. Stock providers keep the query-parameter path (see relay-sync tests).
 */
import { createSecret, PARLEY_SUBPROTOCOL } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { useClientFixture } from "./support/client.js";
import { userRoom } from "./support/honest-sync.js";
import { signUserToken } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

/** The `ws` constructor, recording what each connect attempt put in the URL and the subprotocols. */
function recordingWebSocket(seen: Array<{ url: string; protocols: string[] }>): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      seen.push({ url, protocols: protocols ?? [] });
      super(url, protocols);
    }
  } as typeof WebSocket;
}

/** Opens a raw socket with `protocols`; resolves with the 101's selected subprotocol header and the close. */
const reasons: string[] = [];

function handshake(url: string, protocols: string[]) {
  const ws = new WebSocket(url, protocols);
  ws.on("error", () => {});
  const answered = new Promise<string | undefined>((resolve) =>
    ws.once("upgrade", (response) => resolve(response.headers["sec-websocket-protocol"] as string | undefined)),
  );
  const opened = new Promise<void>((resolve) => ws.once("open", () => resolve()));
  const closed = new Promise<number>((resolve) =>
    ws.once("close", (code, reason) => {
      reasons.push(reason.toString());
      resolve(code);
    }),
  );
  return { ws, answered, opened, closed };
}

describe("credentials out of URLs", () => {
  const fixture = useClientFixture();

  it("a Parley client logs in and sends with no credential in any URL", async () => {
    await fixture.startRelay();
    const seen: Array<{ url: string; protocols: string[] }> = [];
    const client = fixture.client({ WebSocket: recordingWebSocket(seen) });
    await client.ready;
    await client.send("anonymous hello");
    await waitFor(() => client.messages().every((message) => message.status === "sent"), { what: "sent" });
    const jwt = await signUserToken("credential-user");
    await client.login("credential-user", jwt);
    await client.send("logged-in hello");
    await waitFor(() => client.messages().every((message) => message.status === "sent"), { what: "sent again" });

    // A logout notice delivered later (here: at once) opens its own socket; it too keeps credentials out of the URL.
    await client.logout();

    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const { url, protocols } of seen) {
      expect(url).not.toMatch(/[?&](token|client|merge)=/);
      expect(url).not.toContain(jwt);
      expect(protocols[0]).toBe(PARLEY_SUBPROTOCOL);
    }
    // The login's first connection carried the anonymous secret to merge, in the handshake too.
    expect(seen.some(({ protocols }) => protocols.some((entry) => entry.startsWith("parley.merge.anon.")))).toBe(true);
    expect(seen.some(({ protocols }) => protocols.includes(`parley.token.${jwt}`))).toBe(true);
  });

  it("the relay selects parley.v1 only, never a credential entry", async () => {
    const relay = await fixture.startRelay();
    const token = await signUserToken("selector");
    const url = `${relay.url}/${userRoom("selector")}`;
    const credentials = [`parley.token.${token}`, `parley.client.${createSecret()}`];

    const honest = handshake(url, [PARLEY_SUBPROTOCOL, ...credentials]);
    expect(await honest.answered).toBe(PARLEY_SUBPROTOCOL);
    await honest.opened;
    expect(honest.ws.protocol).toBe(PARLEY_SUBPROTOCOL);
    honest.ws.close();

    // Credentials first and no parley.v1: nothing is selected (ws's default would echo the token back).
    const credentialsOnly = handshake(url, credentials);
    expect(await credentialsOnly.answered).toBeUndefined();
  });

  it("refuses a credential given twice, or both in the URL and the handshake, with 4400", async () => {
    const relay = await fixture.startRelay();
    const token = await signUserToken("twice");
    const secret = createSecret();
    const other = await signUserToken("someone-else");
    const url = `${relay.url}/${userRoom("twice")}`;
    const doubled = handshake(url, [
      PARLEY_SUBPROTOCOL,
      `parley.token.${token}`,
      `parley.token.${other}`,
      `parley.client.${secret}`,
    ]);
    expect(await doubled.closed).toBe(4400);
    const both = handshake(`${url}?token=${token}`, [
      PARLEY_SUBPROTOCOL,
      `parley.token.${token}`,
      `parley.client.${secret}`,
    ]);
    expect(await both.closed).toBe(4400);
    expect(reasons.slice(-2).map((reason) => reason.split(" ")[0])).toEqual(["bad-credentials", "bad-credentials"]);
  });
});
