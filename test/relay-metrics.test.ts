/**
 * Operators scrape `GET /metrics` (Prometheus text format) from a real relay process: connections, loaded
 * rooms, user messages, refusals by close code and process metrics move with what clients do; a token, when
 * configured, is required; no room name or user id ever appears.
 */
import { CloseCode, createSecret, messagesOf } from "@parley/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { userRoom } from "./support/honest-sync.js";
import { connectRaw, openProvider, type RelayHandle, signUserToken, startRelay } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

let relay: RelayHandle | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

async function scrape(target: RelayHandle, token?: string): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(`${target.httpUrl}/metrics`, { headers });
  return { status: response.status, body: await response.text() };
}

/** The value of a sample line, e.g. `parley_connections` or `parley_refusals_total{code="4409"}`. */
function sample(body: string, name: string): number {
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe("relay metrics", () => {
  it("count connections, rooms, user messages and refusals, and name no user", async () => {
    relay = await startRelay();
    const target = relay;
    const userId = "metrics-alice@example.com";
    const token = await signUserToken(userId);
    const writer = openProvider(target, userRoom(userId), token);
    const reader = openProvider(target, userRoom(userId), token);
    try {
      await waitFor(() => writer.provider.synced && reader.provider.synced, { what: "both synced" });
      await waitFor(async () => sample((await scrape(target)).body, "parley_connections") === 2, {
        what: "two connections counted",
      });
      for (const text of ["one", "two", "three"]) {
        messagesOf(writer.doc).push([
          { id: `m-${createSecret().slice(0, 10)}`, role: "user", client: writer.clientId, text, ts: Date.now() },
        ]);
      }
      const refused = connectRaw(target, userRoom(userId), { client: createSecret() }); // no token
      expect((await refused.closed).code).toBe(CloseCode.Unauthorized);

      const { status, body } = await waitFor(
        async () => {
          const scraped = await scrape(target);
          return sample(scraped.body, "parley_messages_total") === 3 ? scraped : null;
        },
        { what: "three messages counted" },
      );
      expect(status).toBe(200);
      expect(sample(body, "parley_rooms_loaded")).toBe(1);
      expect(sample(body, `parley_refusals_total{code="${CloseCode.Unauthorized}"}`)).toBe(1);
      expect(sample(body, 'parley_updates_total{source="client"}')).toBeGreaterThanOrEqual(3);
      expect(sample(body, "parley_stored_total")).toBeGreaterThan(0);
      expect(sample(body, 'parley_storage_write_seconds_count{op="append"}')).toBeGreaterThanOrEqual(3);
      expect(body).toContain("parley_nodejs_eventloop_lag_seconds");
      expect(body).not.toContain("metrics-alice");
      expect(body).not.toContain(userRoom(userId));
    } finally {
      writer.destroy();
      reader.destroy();
    }
    await waitFor(async () => sample((await scrape(target)).body, "parley_connections") === 0, {
      what: "connections to go back to zero",
    });
  });

  it("ask for the configured token, and can be turned off", async () => {
    const token = "metrics-token-0123456789";
    relay = await startRelay({ extraConfig: { metrics: { token } } });
    expect((await scrape(relay)).status).toBe(401);
    expect((await scrape(relay, "wrong-token-0123456789")).status).toBe(401);
    const scraped = await scrape(relay, token);
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain("parley_connections 0");
    await relay.stop();

    relay = await startRelay({ extraConfig: { metrics: { enabled: false } } });
    expect((await scrape(relay)).status).toBe(404);
  });
});
