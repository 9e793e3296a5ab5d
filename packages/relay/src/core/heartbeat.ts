/**
 * Dead-peer and idle detection for one WebSocket: a ping every `pingIntervalMs` (a peer that has not answered
 * the previous one is dead), and an idle deadline that every received frame pushes back. Either ends the
 * connection through `onTimeout`; pongs prove the peer is alive, not that it is using the connection.
 */
import type { WebSocket } from "ws";

/** A running heartbeat; `received()` on every frame, `stop()` when the connection ends. */
export interface Heartbeat {
  received(): void;
  stop(): void;
}

/** Starts the heartbeat of `ws`. An interval of 0 turns that check off. */
export function startHeartbeat(
  ws: WebSocket,
  options: { pingIntervalMs: number; idleTimeoutMs: number },
  onTimeout: (reason: "ping" | "idle") => void,
): Heartbeat {
  let answered = true;
  const onPong = () => {
    answered = true;
  };
  let pinger: NodeJS.Timeout | undefined;
  if (options.pingIntervalMs > 0) {
    ws.on("pong", onPong);
    pinger = setInterval(() => {
      // ws.ping() throws on a socket that is already closing.
      if (ws.readyState !== ws.OPEN) return;
      if (!answered) {
        onTimeout("ping");
        return;
      }
      answered = false;
      ws.ping();
    }, options.pingIntervalMs);
    pinger.unref();
  }
  let idle: NodeJS.Timeout | undefined;
  if (options.idleTimeoutMs > 0) {
    idle = setTimeout(() => onTimeout("idle"), options.idleTimeoutMs);
    idle.unref();
  }
  return {
    received() {
      idle?.refresh();
    },
    stop() {
      clearInterval(pinger);
      clearTimeout(idle);
      ws.off("pong", onPong);
    },
  };
}
