/**
 * @parley/relay-postgres: the Parley relay's storage on PostgreSQL (fenced appends with a per-room
 * sequence, group commit across rooms, snapshots and compaction in one transaction) and room ownership
 * leases on the same fence. See the README for the schema, the configuration and the measurements.
 */
export { PostgresConversationIndex } from "./conversation-index.js";
export { SCHEMA_VERSION } from "./migrations.js";
export { createPostgresStorage, PostgresStorage, type PostgresStorageOptions } from "./postgres-storage.js";
export { PostgresRevocations } from "./revocations.js";
export { type Lease, RoomOwnership } from "./room-ownership.js";
export { PostgresWebhookOutbox } from "./webhook-outbox.js";
export type { WriteQueueStats } from "./write-queue.js";
