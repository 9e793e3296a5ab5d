import { describe, expect, it } from "vitest";
import { LocalAdmission } from "./admission-backend.js";
import { AdmissionRates } from "./admission-rates.js";
import { KeyedRate } from "./keyed-rate.js";
import { DEFAULT_LIMITS } from "./limits.js";
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

describe("AdmissionRates.newAnonymousFrom", () => {
  it("counts an anonymous id once per address and hour, and refuses new ids beyond the limit", async () => {
    let now = 0;
    const clock = () => now;
    const rates = new AdmissionRates(
      { ...DEFAULT_LIMITS, newAnonymousPerHourPerIp: 2 },
      new LocalAdmission(clock),
      clock,
    );
    for (let i = 0; i < 5; i++) await rates.newAnonymousFrom("10.0.0.1", "a");
    await rates.newAnonymousFrom("10.0.0.1", "b");
    await expect(rates.newAnonymousFrom("10.0.0.1", "c")).rejects.toThrow(/anonymous-rate/);
    await rates.newAnonymousFrom("10.0.0.2", "c");
    await rates.newAnonymousFrom("10.0.0.1", "a");
    // An hour later "a" counts again, as a new identity would (and the bucket has refilled).
    now = 3_600_000;
    await rates.newAnonymousFrom("10.0.0.1", "a");
    await rates.newAnonymousFrom("10.0.0.1", "c");
    await expect(rates.newAnonymousFrom("10.0.0.1", "d")).rejects.toThrow(/anonymous-rate/);
  });
});

describe("LocalAdmission slots", () => {
  it("holds at most the limit per kind and key, and gives a slot back once", async () => {
    const backend = new LocalAdmission();
    const first = await backend.takeSlot("per-user", "u", 2);
    const second = await backend.takeSlot("per-user", "u", 2);
    expect(await backend.takeSlot("per-user", "u", 2)).toBeNull();
    expect(await backend.takeSlot("per-address", "u", 2)).not.toBeNull();
    first?.();
    first?.();
    expect(await backend.takeSlot("per-user", "u", 2)).not.toBeNull();
    expect(await backend.takeSlot("per-user", "u", 2)).toBeNull();
    expect(second).not.toBeNull();
  });
});
