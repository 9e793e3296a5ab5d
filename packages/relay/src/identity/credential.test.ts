import { CloseCode, TokenInvalidError } from "@parley/protocol";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { AppConfig } from "../config/config.js";
import { type CredentialHolder, closeStale } from "./credential.js";
import { KeyRing } from "./jwt.js";

const secret1 = "1".repeat(32);
const secret2 = "2".repeat(32);
const app = (keys: AppConfig["keys"], denyTokenIds?: string[]): AppConfig =>
  denyTokenIds === undefined ? { id: "app1", keys } : { id: "app1", keys, denyTokenIds };

async function sign(kid: string, secret: string, jti?: string): Promise<string> {
  const jwt = new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256", kid }).setIssuedAt();
  if (jti !== undefined) jwt.setJti(jti);
  return jwt.setExpirationTime("1h").sign(new TextEncoder().encode(secret));
}

function holder(credential: CredentialHolder["credential"]) {
  const closes: Array<[number, string]> = [];
  const held: CredentialHolder = { credential, close: (code, reason) => closes.push([code, reason]) };
  return { held, closes };
}

describe("KeyRing credentials and reloads", () => {
  it("names the key and token id a token stands on", async () => {
    const ring = await KeyRing.create([app([{ kid: "k1", alg: "HS256", secret: secret1 }])]);
    const verified = await ring.verify(await sign("k1", secret1, "jti-a"), "app1");
    expect(verified.credential).toMatchObject({ appId: "app1", kid: "k1", jti: "jti-a" });
    expect((await ring.verify(await sign("k1", secret1), "app1")).credential.jti).toBeUndefined();
  });

  it("refuses a denied jti with token-denied, and only in its own app", async () => {
    const ring = await KeyRing.create([
      app([{ kid: "k1", alg: "HS256", secret: secret1 }], ["stolen"]),
      { id: "app2", keys: [{ kid: "k1", alg: "HS256", secret: secret2 }] },
    ]);
    const refused = await ring.verify(await sign("k1", secret1, "stolen"), "app1").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenInvalidError);
    expect((refused as TokenInvalidError).reason).toBe("token-denied");
    expect((await ring.verify(await sign("k1", secret2, "stolen"), "app2")).appId).toBe("app2");
  });

  it("after adopt: a new key verifies at once, and problem() tells removed, replaced and denied apart", async () => {
    const ring = await KeyRing.create([app([{ kid: "k1", alg: "HS256", secret: secret1 }])]);
    const old = (await ring.verify(await sign("k1", secret1, "jti-a"), "app1")).credential;
    const other = (await ring.verify(await sign("k1", secret1, "jti-b"), "app1")).credential;
    expect(ring.problem(old)).toBeNull();

    ring.adopt(await KeyRing.create([app([{ kid: "k2", alg: "HS256", secret: secret2 }])]));
    expect(ring.problem(old)).toBe("key-removed");
    expect((await ring.verify(await sign("k2", secret2), "app1")).userId).toBe("alice");

    // The same kid with another secret is another key.
    ring.adopt(await KeyRing.create([app([{ kid: "k1", alg: "HS256", secret: secret2 }])]));
    expect(ring.problem(old)).toBe("key-removed");

    ring.adopt(await KeyRing.create([app([{ kid: "k1", alg: "HS256", secret: secret1 }], ["jti-a"])]));
    expect(ring.problem(old)).toBe("token-denied");
    expect(ring.problem(other)).toBeNull();
  });

  it("closeStale closes exactly the connections whose credential fell, with 4401 and the problem's token", async () => {
    const ring = await KeyRing.create([
      app([
        { kid: "k1", alg: "HS256", secret: secret1 },
        { kid: "k2", alg: "HS256", secret: secret2 },
      ]),
    ]);
    const byK1 = holder((await ring.verify(await sign("k1", secret1), "app1")).credential);
    const byK2 = holder((await ring.verify(await sign("k2", secret2, "jti-ok"), "app1")).credential);
    const denied = holder((await ring.verify(await sign("k2", secret2, "jti-bad"), "app1")).credential);
    const anonymous = holder(undefined);
    ring.adopt(await KeyRing.create([app([{ kid: "k2", alg: "HS256", secret: secret2 }], ["jti-bad"])]));
    const closed = closeStale([byK1.held, byK2.held, denied.held, anonymous.held], ring);
    expect(closed).toEqual({ "key-removed": 1, "token-denied": 1 });
    expect(byK1.closes).toEqual([[CloseCode.Unauthorized, "key-removed"]]);
    expect(denied.closes).toEqual([[CloseCode.Unauthorized, "token-denied"]]);
    expect(byK2.closes).toEqual([]);
    expect(anonymous.closes).toEqual([]);
  });
});
