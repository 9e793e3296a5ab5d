import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../config/config.js";

const key = { kid: "k1", alg: "HS256", secret: "s".repeat(32) };
const hook = { url: "https://backend.example.com/hooks", secret: "w".repeat(32), events: ["message.created"] };
const configWith = (webhooks: unknown) => ({ apps: [{ id: "app1", keys: [key], webhooks }] });

function refusal(raw: unknown): InvalidArgumentError {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error;
    throw error;
  }
  throw new Error("config accepted");
}

describe("webhook config", () => {
  it("fills in defaults and survives a second parse unchanged", () => {
    const parsed = parseConfig(configWith([hook]));
    expect(parsed.apps[0]?.webhooks).toEqual([
      {
        url: "https://backend.example.com/hooks",
        secret: "w".repeat(32),
        events: ["message.created"],
        timeoutMs: 10_000,
        concurrency: 2,
        retry: { initialDelayMs: 1_000, maxDelayMs: 3_600_000, maxAttempts: 20 },
      },
    ]);
    expect(parseConfig(parsed)).toEqual(parsed);
    expect(parseConfig({ apps: [{ id: "app1", keys: [key] }] }).apps[0]?.webhooks).toEqual([]);
  });

  it("refuses bad fields with the path of the field", () => {
    const cases: Array<[unknown, string]> = [
      [{}, "config.apps[0].webhooks"],
      [[{ ...hook, url: "ftp://example.com" }], "config.apps[0].webhooks[0].url"],
      [[{ ...hook, url: "not a url" }], "config.apps[0].webhooks[0].url"],
      [[{ ...hook, secret: "short" }], "config.apps[0].webhooks[0].secret"],
      [[{ ...hook, events: [] }], "config.apps[0].webhooks[0].events"],
      [[{ ...hook, events: ["message.deleted"] }], "config.apps[0].webhooks[0].events[0]"],
      [[{ ...hook, timeoutMs: 5 }], "config.apps[0].webhooks[0].timeoutMs"],
      [[{ ...hook, retry: { maxAttempts: 0 } }], "config.apps[0].webhooks[0].retry.maxAttempts"],
      [[hook, { ...hook, events: ["user.merged"] }], "config.apps[0].webhooks[1].url"],
    ];
    for (const [webhooks, argument] of cases) expect(refusal(configWith(webhooks)).argument).toBe(argument);
  });
});
