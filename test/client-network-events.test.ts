import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { useClientFixture } from "./support/client.js";
import { waitFor } from "./support/wait.js";

type Listen = (type: string, listener: () => void) => void;
const scope = globalThis as { addEventListener?: Listen; removeEventListener?: Listen };
const network = new EventTarget();

let sockets = 0;
/** A `ws` WebSocket that counts how many were opened. */
class CountingWebSocket extends WebSocket {
  constructor(url: string, protocols?: string[]) {
    super(url, protocols);
    sockets += 1;
  }
}

describe("online and offline events", () => {
  const fixture = useClientFixture();
  beforeAll(() => {
    scope.addEventListener = network.addEventListener.bind(network);
    scope.removeEventListener = network.removeEventListener.bind(network);
  });
  afterAll(() => {
    delete scope.addEventListener;
    delete scope.removeEventListener;
  });

  it("drops the socket on offline and reconnects at once on online, without waiting out the backoff", async () => {
    const relay = await fixture.startRelay();
    const client = fixture.client({ WebSocket: CountingWebSocket });
    await client.ready;
    await waitFor(() => client.status === "online", { what: "online" });

    network.dispatchEvent(new Event("offline"));
    expect(client.status).toBe("offline");
    await waitFor(() => client.status === "online", { what: "back online by itself (the relay never went away)" });

    // With the relay down the client backs off between attempts; an `online` event retries right away.
    await relay.stop();
    await waitFor(() => sockets >= 4 && client.status === "offline", { what: "backing off" });
    // Dispatched while it waits out its backoff (no timer can run between the check above and this): a restart of the
    // relay first would leave time for the backoff's own attempt on a loaded machine.
    const before = sockets;
    network.dispatchEvent(new Event("online"));
    expect(sockets).toBe(before + 1);
    expect(client.status).toBe("connecting");
    await relay.restart();
    await waitFor(() => client.status === "online", { what: "reconnected" });

    await client.destroy();
    const afterDestroy = sockets;
    network.dispatchEvent(new Event("online"));
    expect(sockets).toBe(afterDestroy);
  });
});
