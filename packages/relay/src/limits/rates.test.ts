import { describe, expect, it } from "vitest";
import { KeyedRate } from "./keyed-rate.js";
import { ReplyQueue } from "./reply-queue.js";

describe("ReplyQueue", () => {
  it("caps queued reply bytes relay-wide, lets a reply alone through, and takes back released bytes once", () => {
    const queue = new ReplyQueue(100);
    const huge = queue.reserve(500);
    expect(huge).not.toBeNull();
    expect(queue.full).toBe(true);
    expect(queue.reserve(1)).toBeNull();
    huge?.();
    huge?.();
    expect(queue.queuedBytes).toBe(0);
    const a = queue.reserve(60);
    expect(queue.reserve(50)).toBeNull();
    expect(queue.reserve(40)).not.toBeNull();
    a?.();
    expect(queue.queuedBytes).toBe(40);
  });
});

describe("KeyedRate", () => {
  it("limits each key on its own and forgets keys whose bucket refilled", () => {
    let now = 0;
    const rate = new KeyedRate(2, 1, () => now);
    expect([rate.take("a"), rate.take("a"), rate.take("a")]).toEqual([true, true, false]);
    expect(rate.take("b")).toBe(true);
    now = 1_000;
    expect(rate.take("a")).toBe(true);
    now = 10_000;
    rate.take("c");
    expect(rate.size).toBe(1);
  });
});
