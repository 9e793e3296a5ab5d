import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, parseLimits } from "./limits.js";

function problem(raw: unknown, legacy?: unknown): string {
  try {
    parseLimits(raw, legacy);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).argument;
  }
  throw new Error("limits were accepted");
}

describe("parseLimits", () => {
  it("fills in the defaults", () => {
    expect(parseLimits(undefined)).toEqual(DEFAULT_LIMITS);
    expect(parseLimits({ messagesPerSecond: 5 })).toEqual({ ...DEFAULT_LIMITS, messagesPerSecond: 5 });
  });

  it("takes a top-level maxFrameBytes, and raises the sync and byte bounds that were not given with it", () => {
    const big = 64 * 1024 * 1024;
    expect(parseLimits(undefined, big)).toMatchObject({ maxFrameBytes: big, maxSyncBytes: big, byteBurst: big });
    expect(parseLimits({ maxFrameBytes: 2048 }, big).maxFrameBytes).toBe(2048);
  });

  it("names the bad field", () => {
    expect(problem([])).toBe("config.limits");
    expect(problem({ maxFrameBytes: 10 })).toBe("config.limits.maxFrameBytes");
    expect(problem({ messagesPerSecond: 1.5 })).toBe("config.limits.messagesPerSecond");
    expect(problem({ pingIntervalMs: -1 })).toBe("config.limits.pingIntervalMs");
    expect(problem({ maxFrameBytes: 4096, maxSyncBytes: 2048 })).toBe("config.limits.maxSyncBytes");
    expect(problem({ trustProxy: "yes" })).toBe("config.limits.trustProxy");
    expect(problem({ allowedOrigins: ["example.com"] })).toBe("config.limits.allowedOrigins");
    expect(problem({ maxFramBytes: 4096 })).toBe("config.limits.maxFramBytes");
    expect(problem(undefined, "1 MiB")).toBe("config.limits.maxFrameBytes");
  });

  it("accepts an Origin allow-list and trustProxy", () => {
    expect(parseLimits({ allowedOrigins: ["https://app.example.com"], trustProxy: true })).toMatchObject({
      allowedOrigins: ["https://app.example.com"],
      trustProxy: true,
    });
  });
});
