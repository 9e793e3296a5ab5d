/**
 * `ParleyProvider` puts one {@link ParleyClient} into the React tree. Two ways, as in other sync
 * libraries' React bindings:
 *
 * - `client`: a client created outside render (at module level in a client-only module, or in the app's
 *   own effect). The provider never creates or destroys it.
 * - `create`: a factory the provider calls in an effect, i.e. only in the browser and never during
 *   server rendering, so IndexedDB is not touched on the server. The provider destroys that client when
 *   it unmounts. Until the client exists (and, with `fallback`, until it is ready) the provider renders
 *   `fallback`, or the children with hooks answering their empty snapshots.
 */
import type { ParleyClient } from "@parley/client";
import { createContext, type ReactNode, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ParleyStore } from "./store.js";

const ParleyContext = createContext<ParleyStore | null | undefined>(undefined);

/** Props of {@link ParleyProvider}: exactly one of `client` and `create`. */
export type ParleyProviderProps = {
  children?: ReactNode;
  /**
   * Shown instead of the children until the client is ready (its identity and local conversation are
   * loaded), and on the server. Without it the children render at once, their hooks showing empty state.
   */
  fallback?: ReactNode;
} & ({ client: ParleyClient | null; create?: never } | { create: () => ParleyClient; client?: never });

const storesByClient = new WeakMap<ParleyClient, ParleyStore>();

/** One store per client, shared by every provider that is given the same client. */
function storeOf(client: ParleyClient): ParleyStore {
  let store = storesByClient.get(client);
  if (store === undefined) {
    store = new ParleyStore(client);
    storesByClient.set(client, store);
  }
  return store;
}

const noSubscription = () => () => {};

/** Makes a Parley client available to the hooks below it. */
export function ParleyProvider(props: ParleyProviderProps): ReactNode {
  const { children, fallback } = props;
  const create = useRef(props.create);
  const [created, setCreated] = useState<ParleyClient | null>(null);

  useEffect(() => {
    const factory = create.current;
    if (factory === undefined) return;
    const client = factory();
    setCreated(client);
    return () => {
      setCreated(null);
      void client.destroy();
    };
  }, []);

  const client = props.create === undefined ? (props.client ?? null) : created;
  const store = client === null ? null : storeOf(client);
  const ready = useSyncExternalStore(
    store?.subscribe ?? noSubscription,
    () => store?.identity() !== undefined,
    () => false,
  );
  const showFallback = fallback !== undefined && !ready;
  return <ParleyContext.Provider value={store}>{showFallback ? fallback : children}</ParleyContext.Provider>;
}

/** The store of the nearest provider (`null` while it has no client); throws outside a provider. */
export function useParleyStore(): ParleyStore | null {
  const store = useContext(ParleyContext);
  if (store === undefined) {
    throw new Error("Parley hooks must be used inside <ParleyProvider>: wrap your app (or the chat) in it");
  }
  return store;
}

/**
 * The Parley client of the nearest {@link ParleyProvider}, for calls the hooks do not cover. `null` on the
 * server and before a provider's `create` has run.
 */
export function useParley(): ParleyClient | null {
  return useParleyStore()?.client ?? null;
}
