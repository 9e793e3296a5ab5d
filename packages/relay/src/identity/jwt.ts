/**
 * Verification of user tokens with jose: the `kid` header selects one configured key, each key accepts
 * exactly its own algorithm (no `alg: none`, no HS/RS confusion), and only configured keys are ever used
 * (`jku`, `x5u` and embedded `jwk` headers are ignored). `exp` and `nbf` are checked with a clock tolerance (30 s by default).
 */
import { TokenExpiredError, TokenInvalidError, TokenNotYetValidError, userIdFromClaims } from "@parley/protocol";
import { type CryptoKey, decodeProtectedHeader, errors, importJWK, importSPKI, type JWTPayload, jwtVerify } from "jose";
import type { AppConfig, KeyConfig } from "../config/config.js";

/** Default accepted clock skew between the app's backend and the relay, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_S = 30;

/** What a verified token grants. */
export interface VerifiedToken {
  /** The app of the key that signed it. */
  appId: string;
  userId: string;
  /** Expiry, seconds since the epoch, if the token has one. */
  exp?: number;
}

/** A token whose signature and times were verified, with the app of the key that signed it. */
export interface VerifiedJwt {
  appId: string;
  payload: JWTPayload;
}

interface LoadedKey {
  appId: string;
  alg: KeyConfig["alg"];
  key: CryptoKey | Uint8Array;
}

async function importKey(config: KeyConfig): Promise<CryptoKey | Uint8Array> {
  if (config.alg === "HS256") return new TextEncoder().encode(config.secret);
  if (typeof config.publicKey === "string") return importSPKI(config.publicKey, config.alg);
  const key = await importJWK(config.publicKey, config.alg);
  if (key instanceof Uint8Array) throw new TokenInvalidError("unknown-key", `key ${config.kid} is not a public key`);
  return key;
}

/** The keys of every configured app, indexed by `kid`. */
export class KeyRing {
  private constructor(
    private readonly keys: ReadonlyMap<string, LoadedKey>,
    /** Accepted clock skew in seconds, for `exp` and `nbf`. */
    readonly clockToleranceS: number,
  ) {}

  /** Imports every key; throws if a PEM or JWK cannot be read. */
  static async create(apps: readonly AppConfig[], clockToleranceS = DEFAULT_CLOCK_TOLERANCE_S): Promise<KeyRing> {
    const keys = new Map<string, LoadedKey>();
    for (const app of apps) {
      for (const config of app.keys) {
        try {
          keys.set(config.kid, { appId: app.id, alg: config.alg, key: await importKey(config) });
        } catch (error) {
          throw new Error(`config: app ${app.id} key ${config.kid}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    return new KeyRing(keys, clockToleranceS);
  }

  /**
   * Verifies a token's signature, algorithm, `exp` and `nbf` against the configured key its `kid` names,
   * and returns the key's app with the payload; what the claims grant is the caller's to decide.
   * Throws {@link TokenInvalidError}, {@link TokenExpiredError} or {@link TokenNotYetValidError}.
   */
  async verifyJwt(token: string, requiredClaims: readonly string[] = []): Promise<VerifiedJwt> {
    if (token === "") throw new TokenInvalidError("missing", "no token");
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenInvalidError("malformed", "token is not a JWT");
    }
    if (typeof kid !== "string") throw new TokenInvalidError("unknown-key", "token has no kid header");
    const entry = this.keys.get(kid);
    if (!entry) throw new TokenInvalidError("unknown-key", "unknown kid");
    try {
      const { payload } = await jwtVerify(token, entry.key, {
        algorithms: [entry.alg],
        clockTolerance: this.clockToleranceS,
        requiredClaims: [...requiredClaims],
      });
      return { appId: entry.appId, payload };
    } catch (error) {
      throw describeFailure(error);
    }
  }

  /** Verifies a user token: {@link verifyJwt}, and the claims must name a user. */
  async verify(token: string): Promise<VerifiedToken> {
    const { appId, payload } = await this.verifyJwt(token);
    const userId = userIdFromClaims(payload);
    if (userId === null) throw new TokenInvalidError("claims", "token names no user (sub, or scope appUser + userId)");
    const exp = typeof payload.exp === "number" ? payload.exp : undefined;
    return exp === undefined ? { appId, userId } : { appId, userId, exp };
  }
}

function describeFailure(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new TokenExpiredError();
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return new TokenNotYetValidError();
    return new TokenInvalidError("claims", `bad ${error.claim} claim`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenInvalidError("algorithm", "algorithm not allowed");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenInvalidError("signature", "bad signature");
  return new TokenInvalidError("malformed", "token cannot be verified");
}
