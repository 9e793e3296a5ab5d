import { CloseCode } from "@parley/protocol";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import { Refusal } from "../core/refusal.js";
import { FrameBudget, frameKind } from "./frame-budget.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";

function frame(type: number, syncType: number | null, size: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, type);
  if (syncType !== null) encoding.writeVarUint(encoder, syncType);
  encoding.writeUint8Array(encoder, new Uint8Array(Math.max(0, size - encoding.length(encoder))));
  return encoding.toUint8Array(encoder);
}
const update = (size = 10) => frame(0, 2, size);
const step1 = (size = 10) => frame(0, 0, size);
const awareness = (size = 10) => frame(1, null, size);

function refusal(run: () => void): number | null {
  try {
    run();
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(Refusal);
    return (error as Refusal).code;
  }
}

function budget(limits: Partial<Limits>): { budget: FrameBudget; advance: (ms: number) => void } {
  let now = 0;
  return {
    budget: new FrameBudget({ ...DEFAULT_LIMITS, ...limits }, () => now),
    advance: (ms) => {
      now += ms;
    },
  };
}

describe("frameKind", () => {
  it("tells sync steps, awareness and the rest apart; undecodable headers are 'other'", () => {
    expect(frameKind(step1())).toBe("sync");
    expect(frameKind(frame(0, 1, 10))).toBe("sync");
    expect(frameKind(update())).toBe("other");
    expect(frameKind(awareness())).toBe("awareness");
    expect(frameKind(new Uint8Array([0xff, 0xff]))).toBe("other");
  });
});

describe("FrameBudget", () => {
  it("bounds each kind of frame by its own size", () => {
    const { budget: b } = budget({ maxFrameBytes: 1024, maxSyncBytes: 4096, maxAwarenessBytes: 256 });
    expect(refusal(() => b.charge(update(1024)))).toBeNull();
    expect(refusal(() => b.charge(update(1025)))).toBe(CloseCode.TooLarge);
    expect(refusal(() => b.charge(step1(4096)))).toBeNull();
    expect(refusal(() => b.charge(step1(4097)))).toBe(CloseCode.TooLarge);
    expect(refusal(() => b.charge(awareness(257)))).toBe(CloseCode.TooLarge);
  });

  it("refuses messages over the burst until the rate refills it", () => {
    const { budget: b, advance } = budget({ messagesPerSecond: 2, messageBurst: 3 });
    for (let i = 0; i < 3; i++) b.charge(update());
    expect(refusal(() => b.charge(update()))).toBe(CloseCode.RateLimited);
    advance(500);
    expect(refusal(() => b.charge(update()))).toBeNull();
  });

  it("counts bytes, and awareness and sync frames against their own budgets", () => {
    const { budget: b } = budget({ bytesPerSecond: 1024, byteBurst: 2048, maxFrameBytes: 1024, syncBurst: 2 });
    b.charge(update(1024));
    b.charge(update(1024));
    expect(refusal(() => b.charge(update(10)))).toBe(CloseCode.RateLimited);
    const { budget: c } = budget({ awarenessBurst: 2, syncBurst: 2 });
    c.charge(awareness());
    c.charge(awareness());
    c.charge(step1());
    c.charge(step1());
    c.charge(update());
    expect(refusal(() => c.charge(awareness()))).toBe(CloseCode.RateLimited);
    expect(refusal(() => c.charge(step1()))).toBe(CloseCode.RateLimited);
  });

  it("allows a few new Yjs clientIDs per minute", () => {
    const { budget: b, advance } = budget({ newClientIdsPerMinute: 4 });
    b.chargeNewClientIds(3);
    expect(refusal(() => b.chargeNewClientIds(2))).toBe(CloseCode.RateLimited);
    b.chargeNewClientIds(1);
    advance(15_000);
    expect(refusal(() => b.chargeNewClientIds(1))).toBeNull();
  });
});
