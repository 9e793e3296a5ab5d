/**
 * A TCP proxy in front of the relay whose connections the test can cut, as a dropped network does.
 *
 * Chromium's offline emulation (`context.setOffline`) leaves an already open WebSocket working, so on its
 * own it cannot take a connected page offline. Routing one device through this proxy and taking it down
 * while the device is emulated offline gives the page what a real outage gives it: its socket dies and
 * every reconnection fails until the network is back.
 */

import type { AddressInfo } from "node:net";
import { createConnection, createServer, type Socket } from "node:net";

/** A running proxy. */
export interface CuttableProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Destroys every proxied connection and drops new ones until {@link up}. */
  down(): void;
  /** Lets connections through again. */
  up(): void;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startCuttableProxy(targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  let isDown = false;
  const server = createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    track(client);
    track(upstream);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const down = () => {
    isDown = true;
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    down,
    up: () => {
      isDown = false;
    },
    close: () => {
      down();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
