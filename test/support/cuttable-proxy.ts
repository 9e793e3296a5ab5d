/**
 * A TCP proxy in front of a relay whose link can be cut and healed: the network of one client, so a test
 * can take that client offline (every open socket is reset, new ones are refused) while the relay and the
 * other clients carry on. The relay's port is read at every connection, so a restarted relay is reached.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** A running proxy. */
export interface CuttableProxy {
  /** `ws://127.0.0.1:<port>/v1`: the relay URL to give a client. */
  readonly url: string;
  /** Whether the link is cut. */
  readonly isCut: boolean;
  /** Resets every open connection and refuses new ones until {@link CuttableProxy.heal}. */
  cut(): void;
  /** Lets connections through again. */
  heal(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `127.0.0.1:<relayPort()>`. */
export async function startCuttableProxy(relayPort: () => number): Promise<CuttableProxy> {
  const open = new Set<Socket>();
  let isCut = false;
  const server: Server = createServer((downstream) => {
    if (isCut) {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(relayPort(), "127.0.0.1");
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        open.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url: `ws://127.0.0.1:${address.port}/v1`,
    get isCut() {
      return isCut;
    },
    cut() {
      isCut = true;
      for (const socket of [...open]) socket.resetAndDestroy();
    },
    heal() {
      isCut = false;
    },
    async close() {
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
