/**
 * The HTTP side of the business API: reading a bounded JSON body, writing JSON answers, and turning typed
 * errors into `{ error: { code, message } }` with the HTTP status that matches their code.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, InvalidArgumentError, ParleyError } from "@parley/protocol";

/** Largest accepted request body, in bytes (an import batch of 1,000 long messages fits). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

const statusByCode: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.TokenInvalid]: 401,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.TokenNotYetValid]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.UnknownApp]: 404,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.TooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Storage]: 503,
  // Another relay node serves the room, and did not give it up in time: retry.
  [ErrorCode.Fenced]: 503,
  // A room that closed under the request (a storage failure, a shutdown): retry.
  [ErrorCode.InvalidState]: 503,
};

/** Sends `body` as JSON with `status`. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  response.end(text);
}

/** Sends the error answer for `error`: its code and status if it is a {@link ParleyError}, a 500 otherwise. */
export function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof ParleyError) {
    sendJson(response, statusByCode[error.code] ?? 500, { error: { code: error.code, message: error.message } });
    return;
  }
  sendJson(response, 500, { error: { code: ErrorCode.RelayUnavailable, message: "internal error; retry later" } });
}

/** Reads the request body as a JSON object; `{}` for an empty body. Throws {@link ParleyError} (400/413). */
export async function readJsonObject(request: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new ParleyError(ErrorCode.TooLarge, `body exceeds ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ParleyError(ErrorCode.TooLarge, `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)));
  } catch {
    throw new InvalidArgumentError("body", "is not valid UTF-8 JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError("body", "must be a JSON object");
  }
  return value as Record<string, unknown>;
}
