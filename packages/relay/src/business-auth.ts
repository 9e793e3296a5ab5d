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
import {
  ForbiddenError,
  type ParleyError,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
} from "@parley/protocol";
import { type CryptoKey, decodeProtectedHeader, errors, importJWK, importSPKI, jwtVerify } from "jose";
import type { AppConfig, KeyConfig } from "./config.js";

interface AppKey {
  appId: string;
  alg: KeyConfig["alg"];
  key: CryptoKey | Uint8Array;
}

async function importKey(config: KeyConfig): Promise<CryptoKey | Uint8Array> {
  if (config.alg === "HS256") return new TextEncoder().encode(config.secret);
  if (typeof config.publicKey === "string") return importSPKI(config.publicKey, config.alg);
  return importJWK(config.publicKey, config.alg);
}

function describeFailure(error: unknown): ParleyError {
  if (error instanceof errors.JWTExpired) return new TokenExpiredError("app token expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return new TokenNotYetValidError("app token not yet valid");
    return new TokenInvalidError("claims", `bad ${error.claim} claim`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenInvalidError("algorithm", "algorithm not allowed");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenInvalidError("signature", "bad signature");
  return new TokenInvalidError("malformed", "token cannot be verified");
}

/** Verifies app tokens against the configured app keys. */
export class AppAuthenticator {
  private constructor(
    private readonly keys: ReadonlyMap<string, AppKey>,
    private readonly clockToleranceS: number,
  ) {}

  /** Imports every key of every app. */
  static async create(apps: readonly AppConfig[], clockToleranceS: number): Promise<AppAuthenticator> {
    const keys = new Map<string, AppKey>();
    for (const app of apps) {
      for (const config of app.keys)
        keys.set(config.kid, { appId: app.id, alg: config.alg, key: await importKey(config) });
    }
    return new AppAuthenticator(keys, clockToleranceS);
  }

  /**
   * Checks the `Authorization` header of a request for `appId`. Throws {@link TokenInvalidError},
   * {@link TokenExpiredError}, {@link TokenNotYetValidError} (all 401) or {@link ForbiddenError} (403).
   */
  async authenticate(authorization: string | undefined, appId: string): Promise<void> {
    const match = /^Bearer ([^\s]+)$/.exec(authorization ?? "");
    if (match?.[1] === undefined) throw new TokenInvalidError("missing", "send Authorization: Bearer <app token>");
    const token = match[1];
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenInvalidError("malformed", "token is not a JWT");
    }
    const entry = typeof kid === "string" ? this.keys.get(kid) : undefined;
    if (entry === undefined) throw new TokenInvalidError("unknown-key", "unknown kid");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, entry.key, {
        algorithms: [entry.alg],
        clockTolerance: this.clockToleranceS,
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      throw describeFailure(error);
    }
    const namesUser = payload.sub !== undefined || payload.userId !== undefined || payload.external_id !== undefined;
    if (payload.scope !== "app" || namesUser) {
      throw new ForbiddenError('the business API takes app tokens ({ scope: "app" }, no subject), not user tokens');
    }
    if (entry.appId !== appId) throw new ForbiddenError("this key belongs to another app");
  }
}
