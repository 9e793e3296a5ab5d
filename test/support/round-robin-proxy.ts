/**
 * A TCP load balancer in front of several relay nodes, as an operator would put one: each new connection
 * goes to the next node in turn, skipping a node that refuses the connection (a dead one). It does not hash
 * on the room, so most connections reach a node that does not serve their room: the cluster must route them.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** A running balancer. */
export interface RoundRobinProxy {
  /** `ws://127.0.0.1:<port>/v1`: the relay URL to give a client. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a balancer on a free loopback port over `127.0.0.1:<port>` for each of `ports()`. */
export async function startRoundRobinProxy(ports: () => number[]): Promise<RoundRobinProxy> {
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((downstream) => {
    downstream.pause();
    downstream.on("error", () => {});
    open.add(downstream);
    downstream.on("close", () => open.delete(downstream));
    const candidates = ports();
    const attempt = (tries: number) => {
      if (tries >= candidates.length || downstream.destroyed) {
        downstream.destroy();
        return;
      }
      const port = candidates[next++ % candidates.length]!;
      const upstream = tcpConnect(port, "127.0.0.1");
      upstream.once("error", () => attempt(tries + 1));
      upstream.once("connect", () => {
        upstream.removeAllListeners("error");
        upstream.on("error", () => downstream.destroy());
        open.add(upstream);
        upstream.on("close", () => {
          open.delete(upstream);
          downstream.destroy();
        });
        downstream.on("close", () => upstream.destroy());
        downstream.pipe(upstream);
        upstream.pipe(downstream);
        downstream.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url: `ws://127.0.0.1:${address.port}/v1`,
    async close() {
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
