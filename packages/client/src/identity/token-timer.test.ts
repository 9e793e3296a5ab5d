import { afterEach, describe, expect, it, vi } from "vitest";
import { longTimeout, refreshDelay } from "./token-timer.js";

const token = (payload: Record<string, unknown>) =>
  `e30.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.sig`;

describe("token refresh timing", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("refreshes before exp: a fifth of the remaining life, at most a minute early", () => {
    const now = 1_000_000_000_000;
    expect(refreshDelay(token({ exp: now / 1000 + 10 }), now)).toBe(8_000);
    expect(refreshDelay(token({ exp: now / 1000 + 3600 }), now)).toBe(3_540_000);
    expect(refreshDelay(token({ exp: now / 1000 - 5 }), now)).toBe(0);
    expect(refreshDelay(token({ sub: "no exp" }), now)).toBeUndefined();
    expect(refreshDelay(token({ exp: "soon" }), now)).toBeUndefined();
    expect(refreshDelay("garbage", now)).toBeUndefined();
  });

  it("waits beyond the 2^31-1 ms timer limit instead of firing at once", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const thirtyDays = 30 * 24 * 3600 * 1000;
    longTimeout(fired, thirtyDays);
    vi.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(thirtyDays - 2_000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("can be cancelled", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const cancel = longTimeout(fired, 1_000);
    cancel();
    vi.advanceTimersByTime(5_000);
    expect(fired).not.toHaveBeenCalled();
  });
});
