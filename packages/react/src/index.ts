/**
 * @parley/react — React bindings for @parley/client: `ParleyProvider` and hooks built on
 * `useSyncExternalStore`, with stable server snapshots so server rendering never touches the client or
 * IndexedDB.
 */
export {
  type ReadStateResult,
  type SendOptions,
  type Typing,
  type Unsent,
  useClients,
  useConnectionStatus,
  useIdentity,
  useMessages,
  useProfile,
  useReadState,
  useSend,
  useTyping,
  useUnsent,
} from "./hooks.js";
export { ParleyProvider, type ParleyProviderProps, useParley } from "./provider.js";
export type { ConnectionState, ReadState } from "./store.js";
export { type Session, type SessionOptions, useSession } from "./use-session.js";
