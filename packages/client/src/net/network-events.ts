/**
 * The browser's `online` / `offline` events, where there are any (`globalThis.addEventListener`): a socket
 * may look alive long after the network went away, and after a reconnect backoff has grown the client
 * should not wait it out once the network is back.
 */

type Listen = (type: string, listener: () => void) => void;

/** Calls `online` / `offline` on those events; returns the function that stops listening. */
export function followNetwork(handlers: { online: () => void; offline: () => void }): () => void {
  const scope = globalThis as { addEventListener?: Listen; removeEventListener?: Listen };
  if (typeof scope.addEventListener !== "function") return () => {};
  const { online, offline } = handlers;
  scope.addEventListener("online", online);
  scope.addEventListener("offline", offline);
  return () => {
    scope.removeEventListener?.("online", online);
    scope.removeEventListener?.("offline", offline);
  };
}
