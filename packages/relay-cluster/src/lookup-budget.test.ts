import { describe, expect, it } from "vitest";
import { lookupBudget } from "./lookup-budget.js";

describe("lookupBudget", () => {
  it("allows the relay's connection rate per address, refills over a minute, and keeps addresses apart", () => {
    let now = 0;
    const budget = lookupBudget(3, () => now);
    expect([1, 2, 3, 4].map(() => budget.take("203.0.113.7"))).toEqual([true, true, true, false]);
    expect(budget.take("198.51.100.1")).toBe(true);
    now += 20_000; // a third of a minute: one look-up back
    expect([budget.take("203.0.113.7"), budget.take("203.0.113.7")]).toEqual([true, false]);
  });
});
