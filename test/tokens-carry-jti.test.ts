/**
 * The tokens Parley's own signers issue can be killed one by one, against a real relay process: the example
 * backend's user tokens and the `@parley/business` SDK's app tokens each carry a random `jti`; denying one id
 * (`denyTokenIds`, reloaded by SIGHUP) closes the socket that uses it with 4401 `token-denied` and makes the
 * SDK's next call fail with 401, while the same signer's other tokens keep working.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { BusinessApiError, createBusinessClient } from "@parley/business";
import { createSecret } from "@parley/protocol";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUserToken } from "../examples/app-backend/src/index.js";
import { userRoom } from "./support/honest-sync.js";
import { connectRaw, type RawClient, type RelayHandle, startRelay, TEST_APP } from "./support/relay.js";
import { waitFor } from "./support/wait.js";

const app = (denyTokenIds: string[]) => ({
  id: TEST_APP.id,
  keys: [{ kid: TEST_APP.kid, alg: "HS256", secret: TEST_APP.secret }],
  denyTokenIds,
});
const KEY = { kid: TEST_APP.kid, secret: TEST_APP.secret };

let relay: RelayHandle;
const sockets: RawClient[] = [];

beforeAll(async () => {
  relay = await startRelay({ apps: [app([])] });
});
afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await relay?.stop();
});

/** Connects to `userId`'s room with `token`; resolves once admitted (first frame). */
async function open(userId: string, token: string): Promise<RawClient> {
  const raw = connectRaw(relay, userRoom(userId), { token, client: createSecret() });
  sockets.push(raw);
  await raw.opened;
  await waitFor(() => raw.frames.length > 0, { what: "the relay's first frame" });
  return raw;
}

/** A business SDK client that records the token of each call. */
function business() {
  const tokens: string[] = [];
  const client = createBusinessClient({
    baseUrl: relay.httpUrl,
    appId: TEST_APP.id,
    keyId: TEST_APP.kid,
    secret: TEST_APP.secret,
    fetch: (input, init) => {
      const authorization = (init?.headers as Record<string, string> | undefined)?.authorization ?? "";
      tokens.push(authorization.replace("Bearer ", ""));
      return fetch(input, init);
    },
  });
  return { client, tokens };
}

/** Rewrites the config with `denyTokenIds` and reloads it by SIGHUP; resolves once the relay logged the reload. */
async function deny(denyTokenIds: string[]): Promise<void> {
  const config = JSON.parse(readFileSync(relay.configFile, "utf8")) as Record<string, unknown>;
  writeFileSync(relay.configFile, JSON.stringify({ ...config, apps: [app(denyTokenIds)] }));
  const before = relay.logs.length;
  relay.signal("SIGHUP");
  await waitFor(() => relay.logs.slice(before).some((line) => line.includes("denyTokenIds")), {
    what: "the reload",
  });
}

describe("tokens signed by the example backend and the business SDK", () => {
  it("carry a random jti, so one of them can be denied while the others keep working", async () => {
    const leaked = await signUserToken(KEY, "jti-user");
    const kept = await signUserToken(KEY, "jti-user");
    const leakedId = decodeJwt(leaked).jti;
    expect(typeof leakedId).toBe("string");
    expect(decodeJwt(kept).jti).not.toBe(leakedId);
    const victim = await open("jti-user", leaked);
    const survivor = await open("jti-user", kept);

    const sdk = business();
    await sdk.client.upsertUser("jti-user");
    const sdkId = decodeJwt(sdk.tokens[0] ?? "").jti;
    expect(typeof sdkId).toBe("string");
    const otherSdk = business();
    await otherSdk.client.getSubject({ kind: "user", id: "jti-user" });
    expect(decodeJwt(otherSdk.tokens[0] ?? "").jti).not.toBe(sdkId);

    await deny([leakedId as string, sdkId as string]);
    expect(await victim.closed).toMatchObject({ code: 4401 });
    expect((await victim.closed).reason.split(" ")[0]).toBe("token-denied");
    const refused = await sdk.client.getSubject({ kind: "user", id: "jti-user" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BusinessApiError);
    expect((refused as BusinessApiError).status).toBe(401);

    // The same signers' other tokens are untouched.
    expect(await otherSdk.client.getSubject({ kind: "user", id: "jti-user" })).toBeDefined();
    expect(survivor.ws.readyState).toBe(survivor.ws.OPEN);
    await open("jti-user", await signUserToken(KEY, "jti-user"));
  });
});
