import { describe, expect, it } from "vitest";
import { type EndpointTurn, takeTurns } from "./webhook-turns.js";

const turns = (entries: Array<[string, string[], number, number]>) =>
  new Map<string, EndpointTurn<string>>(
    entries.map(([key, due, busy, concurrency]) => [key, { due: [...due], busy, concurrency }]),
  );
const keysOf = (started: Array<{ key: string; delivery: string }>) => started.map((entry) => entry.delivery);

describe("webhook endpoints taking turns", () => {
  it("starts one delivery per endpoint per turn, so a flooded endpoint cannot starve another", () => {
    const started = takeTurns(
      turns([
        ["flooded", ["f1", "f2", "f3", "f4"], 0, 4],
        ["quiet", ["q1"], 0, 4],
      ]),
      3,
      undefined,
    );
    expect(keysOf(started)).toEqual(["f1", "q1", "f2"]);
  });

  it("begins after the endpoint served last", () => {
    const started = takeTurns(
      turns([
        ["a", ["a1"], 0, 1],
        ["b", ["b1"], 0, 1],
        ["c", ["c1"], 0, 1],
      ]),
      2,
      "a",
    );
    expect(keysOf(started)).toEqual(["b1", "c1"]);
  });

  it("keeps each endpoint within its concurrency, counting what is in flight", () => {
    const started = takeTurns(
      turns([
        ["busy", ["b1", "b2"], 2, 2],
        ["one", ["o1", "o2", "o3"], 0, 2],
      ]),
      10,
      undefined,
    );
    expect(keysOf(started)).toEqual(["o1", "o2"]);
  });

  it("starts nothing without free slots", () => {
    expect(takeTurns(turns([["a", ["a1"], 0, 1]]), 0, undefined)).toEqual([]);
  });
});
