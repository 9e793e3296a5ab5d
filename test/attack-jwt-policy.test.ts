/**
 * The relay's JWT policy against a real relay process: a user token must carry `exp`, stay within
 * `maxTokenLifetimeS`, not be issued in the future, match its app's `audience`/`issuer` when configured, name
 * one user (conflicting `sub`/`userId`/`external_id` are refused), and carry `scope: "appUser"` or none. Key
 * ids are scoped per app. Each refusal closes with 4401 and its reason, creates no room, and honest clients of
 * this and other apps keep syncing.
 */
import { CloseCode, roomName } from "@parley/protocol";
import { FileStorage } from "@parley/relay";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectHonestSync } from "./support/honest-sync.js";
import { connectRaw, type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const STRICT = {
  id: "strictapp",
  kid: "k1",
  secret: "strict-secret-0123456789-abcdefghijklmnop",
  audience: "parley-relay",
  issuer: "https://backend.example",
};
/** Another app that also calls its key `k1`, with another secret. */
const TWIN = { id: "twinapp", kid: "k1", secret: "twin-secret-0123456789-abcdefghijklmnopq" };
const MAX_LIFETIME_S = 3600;

let relay: RelayHandle;

beforeAll(async () => {
  relay = await startRelay({
    apps: [
      { id: TEST_APP.id, keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }] },
      {
        id: STRICT.id,
        keys: [{ kid: STRICT.kid, alg: "HS256", secret: STRICT.secret }],
        audience: STRICT.audience,
        issuer: STRICT.issuer,
      },
      { id: TWIN.id, keys: [{ kid: TWIN.kid, alg: "HS256", secret: TWIN.secret }] },
    ],
    extraConfig: { fsync: "off", maxTokenLifetimeS: MAX_LIFETIME_S },
  });
});
afterAll(async () => {
  await relay?.stop();
});

const now = () => Math.floor(Date.now() / 1000);

/** Signs `payload` for `app` (HS256, its kid); `times` sets iat/exp (undefined leaves the claim out). */
function sign(
  app: { kid: string; secret: string },
  payload: Record<string, unknown>,
  times: { iat?: number; exp?: number } = { iat: now(), exp: now() + 600 },
): Promise<string> {
  const jwt = new SignJWT({ ...payload }).setProtectedHeader({ alg: "HS256", kid: app.kid });
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  if (times.exp !== undefined) jwt.setExpirationTime(times.exp);
  return jwt.sign(new TextEncoder().encode(app.secret));
}

const room = (appId: string, userId: string) => roomName({ appId, kind: "user", subject: userId });
const strictClaims = (userId: string) => ({ sub: userId, aud: STRICT.audience, iss: STRICT.issuer });

/** Opens `target` with `token`: `"open"` once the session starts, or the close code and reason. */
async function attempt(target: string, token: string) {
  const client = connectRaw(relay, target, { token, client: "c".repeat(43) });
  const outcome = await Promise.race([
    waitFor(() => client.frames.length > 0, { what: "the session" }).then(() => "open" as const),
    client.closed,
  ]);
  client.ws.close();
  return outcome;
}

async function storedRooms(): Promise<string[]> {
  return (await new FileStorage({ dataDir: relay.dataDir }).list("")).names;
}

/** The refusal every case ends with: 4401 with `<token> <reason>`, no room stored, honest clients still sync. */
async function expectRefused(target: string, token: string, reason: string, kind = "claims"): Promise<void> {
  expect(await attempt(target, token)).toEqual({ code: CloseCode.Unauthorized, reason: `${kind} ${reason}` });
  expect(await storedRooms()).not.toContain(target);
  await expectHonestSync(relay, "jwt-policy-honest");
}

describe("JWT policy", () => {
  it("opens a room with a token that follows every rule (control)", async () => {
    expect(await attempt(room(STRICT.id, "ok"), await sign(STRICT, strictClaims("ok")))).toBe("open");
    expect(
      await attempt(
        room(STRICT.id, "ok2"),
        await sign(STRICT, { ...strictClaims("ok2"), userId: "ok2", scope: "appUser" }),
      ),
    ).toBe("open");
  });

  it("refuses a user token without exp", async () => {
    await expectRefused(
      room(TEST_APP.id, "no-exp"),
      await sign(TEST_APP, { sub: "no-exp" }, { iat: now() }),
      "no exp claim",
    );
  });

  it("refuses a lifetime over maxTokenLifetimeS, by exp − iat and by exp − now", async () => {
    const long = await sign(TEST_APP, { sub: "long" }, { iat: now(), exp: now() + MAX_LIFETIME_S + 600 });
    await expectRefused(room(TEST_APP.id, "long"), long, "token lifetime is over the relay's maximum");
    const noIat = await sign(TEST_APP, { sub: "long2" }, { exp: now() + MAX_LIFETIME_S + 600 });
    await expectRefused(room(TEST_APP.id, "long2"), noIat, "token lifetime is over the relay's maximum");
  });

  it("refuses an iat in the future beyond the clock tolerance", async () => {
    const future = await sign(TEST_APP, { sub: "future" }, { iat: now() + 600, exp: now() + 1200 });
    await expectRefused(room(TEST_APP.id, "future"), future, "iat is in the future");
  });

  it("checks the app's audience and issuer", async () => {
    const target = room(STRICT.id, "aud");
    await expectRefused(target, await sign(STRICT, { sub: "aud", iss: STRICT.issuer }), "no aud claim");
    await expectRefused(target, await sign(STRICT, { ...strictClaims("aud"), aud: "another" }), "bad aud claim");
    await expectRefused(
      target,
      await sign(STRICT, { ...strictClaims("aud"), iss: "https://evil.example" }),
      "bad iss claim",
    );
  });

  it("refuses conflicting user-id claims instead of picking one", async () => {
    const conflicting = await sign(TEST_APP, { sub: "alice", scope: "appUser", userId: "mallory" });
    await expectRefused(room(TEST_APP.id, "alice"), conflicting, "conflicting user id claims");
    await expectRefused(room(TEST_APP.id, "mallory"), conflicting, "conflicting user id claims");
  });

  it('opens user rooms only with scope "appUser" or none', async () => {
    for (const scope of ["app", "account", "user", "admin"]) {
      await expectRefused(
        room(TEST_APP.id, `scoped-${scope}`),
        await sign(TEST_APP, { sub: `scoped-${scope}`, scope }),
        'only scope "appUser" (or none) opens a user room',
      );
    }
  });

  it("scopes key ids per app: two apps' k1 keys each open only their own app's rooms", async () => {
    expect(await attempt(room(TWIN.id, "twin"), await sign(TWIN, { sub: "twin" }))).toBe("open");
    // The strict app's k1 verifies strict tokens only; a twin token presented there fails its signature.
    await expectRefused(room(STRICT.id, "twin"), await sign(TWIN, strictClaims("twin")), "bad signature", "signature");
    await expectRefused(room(TWIN.id, "strict"), await sign(STRICT, { sub: "strict" }), "bad signature", "signature");
  });
});
