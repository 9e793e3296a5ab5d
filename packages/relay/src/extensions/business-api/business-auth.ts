/**
 * Authentication of the business API: `Authorization: Bearer <app token>`.
 *
 * An app token is a JWT signed with one of the app's keys (the `kid` header selects it, exactly as for
 * user tokens: one algorithm per key, only configured keys) whose claims are `{ scope: "app", exp }` and
 * nothing that names a user. A user token can never open the business API, whatever its signature: a
 * token with `sub`, `userId`, `external_id` or another scope is refused with 403. The key's app must be
 * the app in the URL, so app X's key never opens app Y. `exp` is required (the SDK signs five-minute
 * tokens), so a leaked token is not a standing credential.
 */
import { ForbiddenError, TokenInvalidError } from "@parley/protocol";
import type { KeyRing } from "../../identity/jwt.js";

/** Verifies app tokens against the configured app keys. */
export class AppAuthenticator {
  /** @param keys The relay's keys: app tokens are signed with the same app keys as user tokens. */
  constructor(private readonly keys: KeyRing) {}

  /**
   * Checks the `Authorization` header of a request for `appId`. Throws {@link TokenInvalidError},
   * `TokenExpiredError`, `TokenNotYetValidError` (all 401) or {@link ForbiddenError} (403).
   */
  async authenticate(authorization: string | undefined, appId: string): Promise<void> {
    const match = /^Bearer ([^\s]+)$/.exec(authorization ?? "");
    if (match?.[1] === undefined) throw new TokenInvalidError("missing", "send Authorization: Bearer <app token>");
    const { appId: keyAppId, payload } = await this.keys.verifyJwt(match[1], ["exp"], appId);
    const namesUser = payload.sub !== undefined || payload.userId !== undefined || payload.external_id !== undefined;
    if (payload.scope !== "app" || namesUser) {
      throw new ForbiddenError('the business API takes app tokens ({ scope: "app" }, no subject), not user tokens');
    }
    if (keyAppId !== appId) throw new ForbiddenError("this key belongs to another app");
  }
}
