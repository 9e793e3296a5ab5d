/**
 * A TCP proxy in front of a server (a relay, Redis, PostgreSQL) whose link can be cut and healed, or paused and
 * resumed: the network of one client, so a test can take that client offline (cut: every open socket is reset,
 * new ones are refused) or stall it (paused: connections stay open, no byte goes through either way, as behind a
 * stopped server or a congested link), while the server and its other clients carry on. The server's port is
 * read at every connection, so a restarted server is reached.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** A running proxy. */
export interface CuttableProxy {
  /** `ws://127.0.0.1:<port>/v1`: the relay URL to give a client. */
  readonly url: string;
  /** The proxy's own port, for a URL of another scheme. */
  readonly port: number;
  /** Whether the link is cut. */
  readonly isCut: boolean;
  /** Bytes received while paused and not forwarded yet (both directions). */
  readonly heldBytes: number;
  /** Resets every open connection and refuses new ones until {@link CuttableProxy.heal}. */
  cut(): void;
  /** Lets connections through again. */
  heal(): void;
  /**
   * Stops forwarding: connections stay open (new ones are accepted too) and what arrives is held, in order,
   * until {@link CuttableProxy.resume}.
   */
  pause(): void;
  /** Forwards what was held, then everything again. */
  resume(): void;
  close(): Promise<void>;
}

/** One direction of a proxied connection: forwards unless paused, keeping the order of what it held. */
class Forwarder {
  private readonly held: Buffer[] = [];

  constructor(
    from: Socket,
    private readonly to: Socket,
    private readonly link: { paused: boolean; heldBytes: number },
  ) {
    from.on("data", (chunk: Buffer) => {
      if (this.link.paused || this.held.length > 0) {
        this.held.push(chunk);
        this.link.heldBytes += chunk.length;
      } else if (!to.write(chunk)) {
        from.pause();
      }
    });
    to.on("drain", () => {
      if (!this.link.paused) from.resume();
    });
  }

  flush(): void {
    for (const chunk of this.held.splice(0)) {
      this.link.heldBytes -= chunk.length;
      if (!this.to.destroyed) this.to.write(chunk);
    }
  }

  forget(): void {
    for (const chunk of this.held.splice(0)) this.link.heldBytes -= chunk.length;
  }
}

/** Starts a proxy on a free loopback port forwarding to `127.0.0.1:<targetPort()>`. */
export async function startCuttableProxy(targetPort: () => number): Promise<CuttableProxy> {
  const open = new Set<Socket>();
  const forwarders = new Set<Forwarder>();
  let isCut = false;
  const link = { paused: false, heldBytes: 0 };
  const server: Server = createServer((downstream) => {
    if (isCut) {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(targetPort(), "127.0.0.1");
    const pair = [new Forwarder(downstream, upstream, link), new Forwarder(upstream, downstream, link)];
    for (const forwarder of pair) forwarders.add(forwarder);
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        open.delete(socket);
        for (const forwarder of pair) {
          forwarder.forget();
          forwarders.delete(forwarder);
        }
        downstream.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url: `ws://127.0.0.1:${address.port}/v1`,
    port: address.port,
    get isCut() {
      return isCut;
    },
    get heldBytes() {
      return link.heldBytes;
    },
    cut() {
      isCut = true;
      for (const socket of [...open]) socket.resetAndDestroy();
    },
    heal() {
      isCut = false;
    },
    pause() {
      link.paused = true;
    },
    resume() {
      link.paused = false;
      for (const forwarder of forwarders) forwarder.flush();
      for (const socket of open) socket.resume();
    },
    async close() {
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
