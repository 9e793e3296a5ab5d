import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

const key = { kid: "k1", alg: "HS256", secret: "s".repeat(32) };

function problem(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).argument;
  }
  throw new Error("config was accepted");
}

describe("parseConfig", () => {
  it("refuses unknown keys at every level, naming their path and the key probably meant", () => {
    const app = { id: "app1", keys: [key] };
    expect(problem({ apps: [app], prot: 9200 })).toBe("config.prot");
    expect(problem({ apps: [{ ...app, key: [] }] })).toBe("config.apps[0].key");
    expect(problem({ apps: [{ id: "app1", keys: [{ ...key, secrett: "x" }] }] })).toBe(
      "config.apps[0].keys[0].secrett",
    );
    const webhook = { url: "http://127.0.0.1:1/hook", secret: "w".repeat(32), events: ["message.created"] };
    expect(problem({ apps: [{ ...app, webhooks: [{ ...webhook, event: [] }] }] })).toBe(
      "config.apps[0].webhooks[0].event",
    );
    expect(problem({ apps: [{ ...app, webhooks: [{ ...webhook, retry: { attempts: 3 } }] }] })).toBe(
      "config.apps[0].webhooks[0].retry.attempts",
    );
    try {
      parseConfig({ apps: [app], prot: 9200 });
    } catch (error) {
      expect((error as Error).message).toContain('did you mean "port"');
    }
  });

  it("takes keys starting with // as comments", () => {
    expect(parseConfig({ "// port": "where clients connect", apps: [{ id: "app1", keys: [key] }] }).port).toBe(8080);
  });

  it("fills in the documented defaults", () => {
    expect(parseConfig({ apps: [{ id: "app1", keys: [key] }] })).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      dataDir: "./.data",
      fsync: "batch",
      roomGraceMs: 5000,
      limits: expect.objectContaining({ maxFrameBytes: 1024 * 1024, maxSyncBytes: 32 * 1024 * 1024 }),
      clockToleranceS: 30,
      logLevel: "info",
    });
  });

  it("names the bad field", () => {
    expect(problem(null)).toBe("config.");
    expect(problem({})).toBe("config.apps");
    expect(problem({ apps: [{ id: "bad id", keys: [key] }] })).toBe("config.apps[0].id");
    expect(problem({ apps: [{ id: "a", keys: [] }] })).toBe("config.apps[0].keys");
    expect(problem({ apps: [{ id: "a", keys: [{ ...key, secret: "short" }] }] })).toBe("config.apps[0].keys[0].secret");
    expect(problem({ apps: [{ id: "a", keys: [{ ...key, alg: "none" }] }] })).toBe("config.apps[0].keys[0].alg");
    expect(problem({ apps: [{ id: "a", keys: [{ kid: "k", alg: "RS256", publicKey: "nope" }] }] })).toBe(
      "config.apps[0].keys[0].publicKey",
    );
    expect(
      problem({ apps: [{ id: "a", keys: [{ kid: "k", alg: "ES256", publicKey: { kty: "EC", d: "secret" } }] }] }),
    ).toBe("config.apps[0].keys[0].publicKey");
    expect(problem({ apps: [{ id: "a", keys: [key] }], port: 70000 })).toBe("config.port");
    expect(problem({ apps: [{ id: "a", keys: [key] }], fsync: "always" })).toBe("config.fsync");
  });

  it("refuses a kid used twice within an app (kids are scoped per app), and duplicate apps", () => {
    expect(problem({ apps: [{ id: "a", keys: [key, key] }] })).toBe("config.apps[0].keys");
    const twins = parseConfig({
      apps: [
        { id: "a", keys: [key] },
        { id: "b", keys: [key] },
      ],
    });
    expect(twins.apps.map((app) => app.keys[0]?.kid)).toEqual(["k1", "k1"]);
    expect(
      problem({
        apps: [
          { id: "a", keys: [key] },
          { id: "a", keys: [{ ...key, kid: "k2" }] },
        ],
      }),
    ).toBe("config.apps[1].id");
  });

  it("reads per-app audience and issuer and the maximum token lifetime", () => {
    const config = parseConfig({
      apps: [{ id: "a", keys: [key], audience: ["relay"], issuer: "https://backend.example" }],
      maxTokenLifetimeS: 3600,
    });
    expect(config.apps[0]).toMatchObject({ audience: ["relay"], issuer: "https://backend.example" });
    expect(config.maxTokenLifetimeS).toBe(3600);
    expect(parseConfig({ apps: [{ id: "a", keys: [key] }] }).maxTokenLifetimeS).toBe(86_400);
    expect(problem({ apps: [{ id: "a", keys: [key], audience: "" }] })).toBe("config.apps[0].audience");
    expect(problem({ apps: [{ id: "a", keys: [key] }], maxTokenLifetimeS: 0 })).toBe("config.maxTokenLifetimeS");
  });
});

describe("parseConfig: token denylists and the admin token", () => {
  const app = { id: "app1", keys: [key] };

  it("takes denyTokenIds per app as a list of token ids, and refuses anything else by path", () => {
    expect(parseConfig({ apps: [{ ...app, denyTokenIds: ["jti-1", "jti-2"] }] }).apps[0]?.denyTokenIds).toEqual([
      "jti-1",
      "jti-2",
    ]);
    expect(parseConfig({ apps: [app] }).apps[0]?.denyTokenIds).toBeUndefined();
    expect(problem({ apps: [{ ...app, denyTokenIds: "jti-1" }] })).toBe("config.apps[0].denyTokenIds");
    expect(problem({ apps: [{ ...app, denyTokenIds: ["ok", ""] }] })).toBe("config.apps[0].denyTokenIds[1]");
    expect(problem({ apps: [{ ...app, denyTokenIds: [42] }] })).toBe("config.apps[0].denyTokenIds[0]");
    expect(problem({ apps: [{ ...app, denyTokenIds: ["x".repeat(257)] }] })).toBe("config.apps[0].denyTokenIds[0]");
  });

  it("has no admin token by default, and refuses a short or misspelt one", () => {
    expect(parseConfig({ apps: [app] }).admin).toEqual({ token: null });
    const token = "a".repeat(32);
    expect(parseConfig({ apps: [app], admin: { token } }).admin).toEqual({ token });
    expect(problem({ apps: [app], admin: { token: "a".repeat(31) } })).toBe("config.admin.token");
    expect(problem({ apps: [app], admin: { tokn: token } })).toBe("config.admin.tokn");
    expect(problem({ apps: [app], admin: token })).toBe("config.admin");
  });
});
