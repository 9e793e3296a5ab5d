/**
 * What one connection's frames may cost: a size bound and a rate budget per kind of frame. Sync steps
 * (whole-document work for the relay) have a large size bound and a small per-minute budget; awareness has
 * its own small budget; updates and everything else share a message and a byte budget. New Yjs clientIDs
 * (each a lasting entry of the document's `owners` map) have a per-minute budget too.
 */
import { CloseCode, MessageType } from "@parley/protocol";
import * as decoding from "lib0/decoding";
import * as syncProtocol from "y-protocols/sync";
import { Refusal } from "../core/refusal.js";
import type { Limits } from "./limits.js";
import { TokenBucket } from "./token-bucket.js";

/** How a frame is budgeted. Undecodable headers count as `other`; the handler refuses them later. */
export type FrameKind = "sync" | "awareness" | "other";

/** Reads the frame's message type (and sync type) without judging the rest. */
export function frameKind(frame: Uint8Array): FrameKind {
  try {
    const decoder = decoding.createDecoder(frame);
    const type = decoding.readVarUint(decoder);
    if (type === MessageType.awareness) return "awareness";
    if (type !== MessageType.sync) return "other";
    const syncType = decoding.readVarUint(decoder);
    return syncType === syncProtocol.messageYjsSyncStep1 || syncType === syncProtocol.messageYjsSyncStep2
      ? "sync"
      : "other";
  } catch {
    return "other";
  }
}

/** The budgets of one connection. */
export class FrameBudget {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly awareness: TokenBucket;
  private readonly syncs: TokenBucket;
  private readonly clientIds: TokenBucket;

  constructor(
    private readonly limits: Limits,
    now?: () => number,
  ) {
    this.messages = new TokenBucket(limits.messageBurst, limits.messagesPerSecond, now);
    this.bytes = new TokenBucket(limits.byteBurst, limits.bytesPerSecond, now);
    this.awareness = new TokenBucket(limits.awarenessBurst, limits.awarenessPerSecond, now);
    this.syncs = new TokenBucket(limits.syncBurst, limits.syncsPerMinute / 60, now);
    this.clientIds = new TokenBucket(limits.newClientIdsPerMinute, limits.newClientIdsPerMinute / 60, now);
  }

  /** Charges a frame to its budget; throws a {@link Refusal} (4413 or 4529) if it is over one. */
  charge(frame: Uint8Array): void {
    const kind = frameKind(frame);
    const size = frame.length;
    if (kind === "sync") {
      if (size > this.limits.maxSyncBytes) throw new Refusal(CloseCode.TooLarge, "sync-size", "sync frame too large");
      if (!this.syncs.take()) throw new Refusal(CloseCode.RateLimited, "sync-rate", "too many sync requests");
    } else if (kind === "awareness") {
      if (size > this.limits.maxAwarenessBytes)
        throw new Refusal(CloseCode.TooLarge, "awareness-size", "awareness frame too large");
      if (!this.awareness.take())
        throw new Refusal(CloseCode.RateLimited, "awareness-rate", "too many awareness updates");
    } else {
      if (size > this.limits.maxFrameBytes) throw new Refusal(CloseCode.TooLarge, "frame-size", "frame too large");
      if (!this.messages.take()) throw new Refusal(CloseCode.RateLimited, "message-rate", "too many messages");
      if (!this.bytes.take(size)) throw new Refusal(CloseCode.RateLimited, "byte-rate", "too many bytes");
    }
  }

  /** Charges `count` new Yjs clientIDs; throws a {@link Refusal} (4529) if that is over the budget. */
  chargeNewClientIds(count: number): void {
    if (count > 0 && !this.clientIds.take(count))
      throw new Refusal(CloseCode.RateLimited, "client-id-rate", "too many new Yjs clientIDs");
  }
}
