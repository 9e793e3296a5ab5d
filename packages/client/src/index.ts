/**
 * @parley/client — offline-first conversation sync: anonymous users on the fly, login with a JWT,
 * user switching and logout, one Yjs document per conversation kept in local storage and synced
 * through a Parley relay.
 */

export {
  AuthorshipError,
  BadFrameError,
  BadRequestError,
  ClientDestroyedError,
  ClientNotReadyError,
  type ClientRecord,
  CloseCode,
  type CloseReason,
  ConnectionTimeoutError,
  ErrorCode,
  ForbiddenError,
  InvalidArgumentError,
  InvalidStateError,
  type JsonValue,
  OriginNotAllowedError,
  ParleyError,
  type Profile,
  RateLimitedError,
  RelayError,
  RelayUnavailableError,
  ResyncError,
  StorageError,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
  type TokenProblem,
  TooLargeError,
  TooManyConnectionsError,
  UnknownAppError,
  UnsentChangesError,
} from "@parley/protocol";
export type { ClientEvents, Identity, ParleyClient, ReadPositions } from "./api.js";
export { createClient } from "./client.js";
export type { ConversationMessage, ProfilePatch } from "./conversation/conversation.js";
export { TYPING_INDICATOR_MS, type TypingState } from "./conversation/typing.js";
export type { ConnectionStatus, WebSocketConstructor, WebSocketLike } from "./net/connection.js";
export type { ClientOptions } from "./options.js";
export { type IndexedDbStorageOptions, indexedDbStorage } from "./storage/indexeddb-storage.js";
export { memoryStorage } from "./storage/memory-storage.js";
export type { ClientStorage, DocHandle, StoredValue } from "./storage/storage.js";
export { SDK_VERSION } from "./version.js";
