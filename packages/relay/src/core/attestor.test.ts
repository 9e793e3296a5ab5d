import { describe, expect, it } from "vitest";
import { Attestor } from "./attestor.js";

const key = new Uint8Array(32).fill(7);
const update = new Uint8Array([1, 2, 3, 4]);

describe("Attestor", () => {
  it("verifies its own tag of an update in a room", () => {
    const attestor = new Attestor(key);
    expect(attestor.verify("app/u/a", update, attestor.tag("app/u/a", update))).toBe(true);
  });

  it("refuses the tag for another room, another update, another key or a tampered tag", () => {
    const attestor = new Attestor(key);
    const tag = attestor.tag("app/u/a", update);
    expect(attestor.verify("app/u/b", update, tag)).toBe(false);
    expect(attestor.verify("app/u/a", new Uint8Array([1, 2, 3, 5]), tag)).toBe(false);
    expect(new Attestor(new Uint8Array(32).fill(8)).verify("app/u/a", update, tag)).toBe(false);
    const tampered = tag.slice();
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(attestor.verify("app/u/a", update, tampered)).toBe(false);
    expect(attestor.verify("app/u/a", update, tag.slice(0, 8))).toBe(false);
  });

  it("keeps (room, update) pairs apart whose plain concatenations are equal", () => {
    const attestor = new Attestor(key);
    const tag = attestor.tag("app/u/a1", new Uint8Array([2]));
    expect(attestor.verify("app/u/a", new Uint8Array([0x31, 2]), tag)).toBe(false);
  });
});
