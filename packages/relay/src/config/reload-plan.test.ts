import { InvalidArgumentError } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { planReload } from "./reload-plan.js";

const k1 = { kid: "k1", alg: "HS256", secret: "1".repeat(32) };
const k2 = { kid: "k2", alg: "HS256", secret: "2".repeat(32) };
const base = {
  port: 9000,
  apps: [
    { id: "app1", keys: [k1] },
    { id: "app2", keys: [k1] },
  ],
};

describe("planReload", () => {
  it("applies keys, denylists, audience/issuer and the admin token, naming each change", () => {
    const running = parseConfig(base);
    const next = parseConfig({
      ...base,
      apps: [{ id: "app1", keys: [k2], denyTokenIds: ["jti-1"], audience: "shop" }, base.apps[1]],
      admin: { token: "t".repeat(32) },
    });
    const plan = planReload(running, next);
    expect(plan.changed).toEqual([
      'apps["app1"].keys',
      'apps["app1"].denyTokenIds',
      'apps["app1"].audience',
      "admin.token",
    ]);
    expect(plan.restartNeeded).toEqual([]);
    expect(plan.config.apps[0]).toMatchObject({ keys: [k2], denyTokenIds: ["jti-1"], audience: "shop" });
    expect(plan.config.apps[1]).toEqual(running.apps[1]);
    expect(plan.config.admin.token).toBe("t".repeat(32));
    // And back: a setting left out is removed, not kept.
    const back = planReload(plan.config, running);
    expect(back.config.apps[0]?.denyTokenIds).toBeUndefined();
    expect(back.config.apps[0]?.audience).toBeUndefined();
    expect(back.config.admin.token).toBeNull();
  });

  it("keeps the running value of every other setting and lists it as needing a restart", () => {
    const running = parseConfig(base);
    const webhook = { url: "http://127.0.0.1:1/hook", secret: "w".repeat(32), events: ["message.created"] };
    const next = parseConfig({
      ...base,
      port: 9001,
      limits: { maxFrameBytes: 4096 },
      apps: [{ id: "app1", keys: [k1], webhooks: [webhook] }, base.apps[1]],
    });
    const plan = planReload(running, next);
    expect(plan.changed).toEqual([]);
    expect(plan.restartNeeded).toEqual(['apps["app1"].webhooks', "port", "limits.maxFrameBytes"]);
    expect(plan.config).toEqual(running);
  });

  it("changes nothing for the same configuration", () => {
    const plan = planReload(parseConfig(base), parseConfig(base));
    expect(plan).toEqual({ config: parseConfig(base), changed: [], restartNeeded: [] });
  });

  it("refuses to add or remove an app, naming them", () => {
    const running = parseConfig(base);
    const refusal = (next: unknown) => {
      try {
        planReload(running, parseConfig(next));
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe("config.apps");
        return (error as Error).message;
      }
      throw new Error("reload was planned");
    };
    expect(refusal({ ...base, apps: [base.apps[0]] })).toContain("removed app2");
    expect(refusal({ ...base, apps: [...base.apps, { id: "app3", keys: [k1] }] })).toContain("added app3");
  });
});
