/**
 * The operator's HTTP endpoints under `/v1/admin/`: today `POST /v1/admin/reload`, which reloads the
 * configuration from the relay's source (the CLI: its config file and environment) as SIGHUP does.
 *
 * Authentication: `Authorization: Bearer <admin.token>`, compared in constant time (SHA-256 digests of both
 * sides, so neither the content nor the length leaks through timing). Without `admin.token` every admin path
 * answers 403: a relay exposes no operator surface unless it was given a token. Answers are JSON
 * `{ error: { code, message } }` with a stable `code`:
 *
 * | status | `code` | when |
 * |---|---|---|
 * | 401 | `ERR_TOKEN_INVALID` | no bearer token, or not the admin token (with `WWW-Authenticate: Bearer`) |
 * | 403 | `ERR_FORBIDDEN` | the relay has no `admin.token` |
 * | 404 / 405 | `ERR_NOT_FOUND` / `ERR_BAD_REQUEST` | another admin path / another method than POST |
 * | 400 | `ERR_INVALID_ARGUMENT` | the new configuration does not validate (`argument` names the field); nothing changed |
 * | 409 | `ERR_INVALID_STATE` | the relay has no configuration source (embedded without `configSource`) |
 * | 200 | | `{ ok: true, changed, restartNeeded, closed: { keyRemoved, tokenDenied } }` |
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, InvalidArgumentError, ParleyError } from "@parley/protocol";
import type { ReloadResult } from "./reloader.js";

/** Prefix of the operator's endpoints. */
export const ADMIN_PATH_PREFIX = "/v1/admin/";
/** Reloads the configuration: `POST`, empty body. */
export const ADMIN_RELOAD_PATH = "/v1/admin/reload";

/** What the admin endpoints need from the relay. */
export interface AdminContext {
  /** The admin token in force (`admin.token`; it may change at a reload), or `null` when admin is disabled. */
  token(): string | null;
  reload(): Promise<ReloadResult>;
}

const statusByCode: Partial<Record<string, number>> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.InvalidState]: 409,
};

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  response.end(text);
}

function refuse(response: ServerResponse, status: number, code: ErrorCode, message: string, headers = {}): void {
  answer(response, status, { error: { code, message } }, headers);
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Answers `request` if its path is under {@link ADMIN_PATH_PREFIX}; returns whether it did. */
export function handleAdminRequest(request: IncomingMessage, response: ServerResponse, context: AdminContext): boolean {
  const path = (request.url ?? "").split("?")[0] ?? "";
  if (!path.startsWith(ADMIN_PATH_PREFIX)) return false;
  // The body is not read: a reload takes its configuration from the relay's source, never from the request.
  request.resume();
  const token = context.token();
  if (token === null) {
    refuse(response, 403, ErrorCode.Forbidden, "the admin endpoints are disabled: set admin.token in the config");
    return true;
  }
  const given = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
  if (given === undefined || !sameSecret(given, token)) {
    const message = "send Authorization: Bearer <admin.token>";
    refuse(response, 401, ErrorCode.TokenInvalid, message, { "www-authenticate": "Bearer" });
    return true;
  }
  if (path !== ADMIN_RELOAD_PATH) {
    refuse(response, 404, ErrorCode.NotFound, `no admin endpoint ${path}`);
    return true;
  }
  if (request.method !== "POST") {
    refuse(response, 405, ErrorCode.BadRequest, "use POST", { allow: "POST" });
    return true;
  }
  context.reload().then(
    (result) => answer(response, 200, { ok: true, ...result }),
    (error: unknown) => {
      if (error instanceof ParleyError) {
        const body: Record<string, unknown> = { code: error.code, message: error.message };
        if (error instanceof InvalidArgumentError) body.argument = error.argument;
        answer(response, statusByCode[error.code] ?? 500, { error: body });
        return;
      }
      refuse(response, 500, ErrorCode.RelayUnavailable, "reload failed; see the relay's logs");
    },
  );
  return true;
}
