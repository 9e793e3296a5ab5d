/**
 * The client follows the browser's `online` / `offline` events where `globalThis.addEventListener`
 * exists. Node has no such events, so this file gives `globalThis` an EventTarget's listeners (the events
 * are what a browser would fire); the relay and the sockets are real.
 */
import { createClient, memoryStorage, type ParleyClient } from "@parley/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

type Listen = (type: string, listener: () => void) => void;
const scope = globalThis as { addEventListener?: Listen; removeEventListener?: Listen };
const network = new EventTarget();

let sockets = 0;
/** A `ws` WebSocket that counts how many were opened. */
class CountingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    sockets += 1;
  }
}

describe("online and offline events", () => {
  let relay: RelayHandle | undefined;
  const clients: ParleyClient[] = [];
  beforeAll(() => {
    scope.addEventListener = network.addEventListener.bind(network);
    scope.removeEventListener = network.removeEventListener.bind(network);
  });
  afterAll(() => {
    delete scope.addEventListener;
    delete scope.removeEventListener;
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.destroy().catch(() => {});
    await relay?.stop();
    relay = undefined;
  });

  it("drops the socket on offline and reconnects at once on online, without waiting out the backoff", async () => {
    relay = await startRelay();
    const client = createClient({
      appId: TEST_APP.id,
      relayUrl: relay.url,
      storage: memoryStorage(),
      WebSocket: CountingWebSocket,
    });
    clients.push(client);
    await client.ready;
    await waitFor(() => client.status === "online", { what: "online" });

    network.dispatchEvent(new Event("offline"));
    expect(client.status).toBe("offline");
    await waitFor(() => client.status === "online", { what: "back online by itself (the relay never went away)" });

    // With the relay down the client backs off between attempts; an `online` event retries right away.
    await relay.stop();
    await waitFor(() => sockets >= 4 && client.status === "offline", { what: "backing off" });
    await relay.restart();
    const before = sockets;
    network.dispatchEvent(new Event("online"));
    expect(sockets).toBe(before + 1);
    expect(client.status).toBe("connecting");
    await waitFor(() => client.status === "online", { what: "reconnected" });

    await client.destroy();
    clients.length = 0;
    const afterDestroy = sockets;
    network.dispatchEvent(new Event("online"));
    expect(sockets).toBe(afterDestroy);
  });
});
