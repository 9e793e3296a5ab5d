/**
 * @parley/relay: JWT-gated y-websocket rooms on durable storage. Run it with the `parley-relay` CLI or
 * embed it with {@link createRelay}.
 */
export {
  type AppConfig,
  type FsyncPolicy,
  type KeyConfig,
  loadConfig,
  type PublicKeyConfig,
  parseConfig,
  type RelayConfig,
  type SecretKeyConfig,
} from "./config.js";
export { FileStorage, type FileStorageOptions } from "./file-store.js";
export { DEFAULT_LIMITS, type Limits } from "./limits.js";
export { createJsonLogger, type LogFields, type Logger, type LogLevel, silentLogger } from "./logger.js";
export type { Room } from "./room.js";
export type { Rooms } from "./rooms.js";
export { createRelay, type Relay, type RelayOptions } from "./server.js";
export { MemoryStorage, type RelayStorage } from "./storage.js";
export {
  WEBHOOK_EVENTS,
  type WebhookConfig,
  type WebhookEventType,
  type WebhookRetryConfig,
} from "./webhook-config.js";
export type { WebhookEvent } from "./webhook-queue.js";
export { SIGNATURE_HEADER, signWebhook } from "./webhook-signature.js";
