/**
 * Verification of user tokens with jose. The policy, explicit:
 *
 * - Keys: the `kid` header selects one configured key of the room's app (kids are scoped per app: two apps may
 *   both call their key `k1`); each key accepts exactly its own algorithm (no `alg: none`, no HS/RS confusion);
 *   only configured keys are ever used (`jku`, `x5u` and embedded `jwk` headers are ignored).
 * - Times, with a clock tolerance (30 s by default): `nbf` honoured; a user token must carry `exp`; its lifetime
 *   (`exp − iat`, and `exp − now`) may not exceed `maxTokenLifetimeS` (default 24 h); an `iat` in the future is
 *   refused.
 * - Per app, when configured: `audience` and `issuer` must match (`aud`, `iss`).
 * - Claims: only `scope: "appUser"` or no scope opens a user room; `sub`, `userId` and `external_id`, where more
 *   than one is present, must agree (a token is never resolved by precedence).
 * - Denylist: a token whose `jti` is in its app's `denyTokenIds` is refused (`token-denied`).
 *
 * The keys and denylists are replaced at a config reload ({@link KeyRing.adopt}); every holder of the ring
 * (admission, refresh, the business API) sees the new ones at once. {@link KeyRing.problem} tells whether an open
 * connection's {@link Credential} still stands afterwards.
 */
import { createHash } from "node:crypto";
import { TokenExpiredError, TokenInvalidError, TokenNotYetValidError, userIdFromClaims } from "@parley/protocol";
import { type CryptoKey, decodeProtectedHeader, errors, importJWK, importSPKI, type JWTPayload, jwtVerify } from "jose";
import type { AppConfig, KeyConfig } from "../config/config.js";
import { type Credential, type CredentialProblem, PROBLEM_TEXT } from "./credential.js";

/** Default accepted clock skew between the app's backend and the relay, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_S = 30;

/** What a verified token grants. */
export interface VerifiedToken {
  /** The app of the key that signed it. */
  appId: string;
  userId: string;
  /** Expiry, seconds since the epoch, if the token has one. */
  exp?: number;
  /** The key and token id that vouched for it, checked again at a config reload. */
  credential: Credential;
}

/** A token whose signature and times were verified, with the app of the key that signed it. */
export interface VerifiedJwt {
  appId: string;
  payload: JWTPayload;
  credential: Credential;
}

interface LoadedKey {
  appId: string;
  kid: string;
  /** Digest of the key material: a kid whose key was replaced in place is another key. */
  fingerprint: string;
  alg: KeyConfig["alg"];
  key: CryptoKey | Uint8Array;
  audience?: string | string[];
  issuer?: string | string[];
}

/** Default longest accepted user-token lifetime, in seconds (24 hours). */
export const DEFAULT_MAX_TOKEN_LIFETIME_S = 24 * 3600;

/** The claims that may name a user; where several are present they must agree. */
const USER_ID_CLAIMS = ["sub", "userId", "external_id"] as const;

async function importKey(config: KeyConfig): Promise<CryptoKey | Uint8Array> {
  // Imported once here: given the raw secret, jose imports it into WebCrypto again on every verification
  // (about a third of what verifying a token costs).
  if (config.alg === "HS256") {
    const secret = new TextEncoder().encode(config.secret);
    return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  }
  if (typeof config.publicKey === "string") return importSPKI(config.publicKey, config.alg);
  const key = await importJWK(config.publicKey, config.alg);
  if (key instanceof Uint8Array) throw new TokenInvalidError("unknown-key", `key ${config.kid} is not a public key`);
  return key;
}

function fingerprint(config: KeyConfig): string {
  const material = config.alg === "HS256" ? config.secret : config.publicKey;
  return createHash("sha256")
    .update(JSON.stringify([config.alg, material]))
    .digest("hex");
}

/** The keys of every configured app, indexed by app and `kid`, and each app's denied token ids. */
export class KeyRing {
  private constructor(
    private keys: ReadonlyMap<string, ReadonlyMap<string, LoadedKey>>,
    private denied: ReadonlyMap<string, ReadonlySet<string>>,
    /** Accepted clock skew in seconds, for `exp`, `nbf` and `iat`. */
    readonly clockToleranceS: number,
    /** Longest accepted user-token lifetime in seconds. */
    readonly maxTokenLifetimeS: number,
  ) {}

  /** Imports every key; throws if a PEM or JWK cannot be read. */
  static async create(
    apps: readonly AppConfig[],
    clockToleranceS = DEFAULT_CLOCK_TOLERANCE_S,
    maxTokenLifetimeS = DEFAULT_MAX_TOKEN_LIFETIME_S,
  ): Promise<KeyRing> {
    const keys = new Map<string, Map<string, LoadedKey>>();
    const denied = new Map<string, ReadonlySet<string>>();
    for (const app of apps) {
      const own = new Map<string, LoadedKey>();
      for (const config of app.keys) {
        try {
          const loaded: LoadedKey = {
            appId: app.id,
            kid: config.kid,
            fingerprint: fingerprint(config),
            alg: config.alg,
            key: await importKey(config),
          };
          if (app.audience !== undefined) loaded.audience = app.audience;
          if (app.issuer !== undefined) loaded.issuer = app.issuer;
          own.set(config.kid, loaded);
        } catch (error) {
          throw new Error(`config: app ${app.id} key ${config.kid}: ${(error as Error).message}`, { cause: error });
        }
      }
      keys.set(app.id, own);
      if (app.denyTokenIds !== undefined && app.denyTokenIds.length > 0) denied.set(app.id, new Set(app.denyTokenIds));
    }
    return new KeyRing(keys, denied, clockToleranceS, maxTokenLifetimeS);
  }

  /**
   * Takes `next`'s keys and denylists (a config reload): tokens verified from now on use them. The clock
   * tolerance and the longest lifetime stay (they need a restart). Synchronous, so no verification sees half of
   * each; connections already open are checked with {@link problem}.
   */
  adopt(next: KeyRing): void {
    this.keys = next.keys;
    this.denied = next.denied;
  }

  /**
   * Whether an open connection's credential still stands: `key-removed` if its app no longer has that key (same
   * `kid` and key material), `token-denied` if its `jti` is now denied, `null` if it stands.
   */
  problem(credential: Credential): CredentialProblem | null {
    if (this.keys.get(credential.appId)?.get(credential.kid)?.fingerprint !== credential.key) return "key-removed";
    if (credential.jti !== undefined && this.denied.get(credential.appId)?.has(credential.jti)) return "token-denied";
    return null;
  }

  /**
   * The key `kid` names: the one of `appId` when given and it has it; otherwise the one app that has it (so a
   * token of another app is still recognized as such, and refused as another app's), or none.
   */
  private find(kid: string, appId: string | undefined): LoadedKey | undefined {
    const own = appId === undefined ? undefined : this.keys.get(appId)?.get(kid);
    if (own !== undefined) return own;
    const matches = [...this.keys.values()].flatMap((app) => app.get(kid) ?? []);
    return matches.length === 1 ? matches[0] : undefined;
  }

  /**
   * Verifies a token's signature, algorithm, `exp`, `nbf`, and the app's `aud`/`iss` when configured,
   * against the configured key its `kid` names (of `appId`, the app the request is for, when given), and
   * returns the key's app with the payload; what the claims grant is the caller's to decide.
   * Throws {@link TokenInvalidError} (`token-denied` for a denied `jti`), {@link TokenExpiredError} or
   * {@link TokenNotYetValidError}.
   */
  async verifyJwt(token: string, requiredClaims: readonly string[] = [], appId?: string): Promise<VerifiedJwt> {
    if (token === "") throw new TokenInvalidError("missing", "no token");
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenInvalidError("malformed", "token is not a JWT");
    }
    if (typeof kid !== "string") throw new TokenInvalidError("unknown-key", "token has no kid header");
    const entry = this.find(kid, appId);
    if (!entry) throw new TokenInvalidError("unknown-key", "unknown kid");
    try {
      const { payload } = await jwtVerify(token, entry.key, {
        algorithms: [entry.alg],
        clockTolerance: this.clockToleranceS,
        requiredClaims: [...requiredClaims],
        ...(entry.audience === undefined ? {} : { audience: entry.audience }),
        ...(entry.issuer === undefined ? {} : { issuer: entry.issuer }),
      });
      const credential: Credential = { appId: entry.appId, kid: entry.kid, key: entry.fingerprint };
      if (typeof payload.jti === "string") credential.jti = payload.jti;
      // Denied ids are refused; a key removed by a reload while this token was verified is refused as well.
      const problem = this.problem(credential);
      if (problem !== null) throw new TokenInvalidError(problem, PROBLEM_TEXT[problem]);
      return { appId: entry.appId, payload, credential };
    } catch (error) {
      throw describeFailure(error);
    }
  }

  /**
   * Verifies a user token for a room of `appId` (when given): {@link verifyJwt} with `exp` required, the
   * lifetime and `iat` rules, and the claims must name one user with `scope: "appUser"` or no scope.
   */
  async verify(token: string, appId?: string): Promise<VerifiedToken> {
    const { appId: keyAppId, payload, credential } = await this.verifyJwt(token, ["exp"], appId);
    const exp = payload.exp as number;
    const now = Math.floor(Date.now() / 1000);
    const tolerance = this.clockToleranceS;
    if (payload.iat !== undefined) {
      if (typeof payload.iat !== "number" || !Number.isFinite(payload.iat)) {
        throw new TokenInvalidError("claims", "bad iat claim");
      }
      if (payload.iat > now + tolerance) throw new TokenInvalidError("claims", "iat is in the future");
      if (exp - payload.iat > this.maxTokenLifetimeS) {
        throw new TokenInvalidError("claims", "token lifetime is over the relay's maximum");
      }
    }
    if (exp - now > this.maxTokenLifetimeS + tolerance) {
      throw new TokenInvalidError("claims", "token lifetime is over the relay's maximum");
    }
    if (payload.scope !== undefined && payload.scope !== "appUser") {
      throw new TokenInvalidError("claims", 'only scope "appUser" (or none) opens a user room');
    }
    const named = USER_ID_CLAIMS.map((claim) => payload[claim]).filter((value) => value !== undefined);
    if (new Set(named).size > 1) throw new TokenInvalidError("claims", "conflicting user id claims");
    const userId = userIdFromClaims(payload);
    if (userId === null) throw new TokenInvalidError("claims", "token names no user (sub, or scope appUser + userId)");
    return { appId: keyAppId, userId, exp, credential };
  }
}

function describeFailure(error: unknown): Error {
  if (error instanceof TokenInvalidError) return error;
  if (error instanceof errors.JWTExpired) return new TokenExpiredError();
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return new TokenNotYetValidError();
    if (error.reason === "missing") return new TokenInvalidError("claims", `no ${error.claim} claim`);
    return new TokenInvalidError("claims", `bad ${error.claim} claim`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenInvalidError("algorithm", "algorithm not allowed");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenInvalidError("signature", "bad signature");
  return new TokenInvalidError("malformed", "token cannot be verified");
}
