/**
 * Logs name rooms by their app and a hash, never in clear: a room name carries its subject, and userIds are
 * often e-mail addresses. The hash is stable (the same room always logs the same value), so an operator can
 * follow one conversation through the logs, and find it from a userId they already know with {@link roomHash}.
 */
import { createHash } from "node:crypto";
import { parseRoomName } from "@parley/protocol";
import type { LogFields, Logger, LogLevel } from "./logger.js";

/** The hash a room is logged as: the first 16 hex digits of SHA-256 of its name. */
export function roomHash(room: string): string {
  return createHash("sha256").update(room).digest("hex").slice(0, 16);
}

function redact(fields: LogFields | undefined): LogFields | undefined {
  const room = fields?.room;
  if (typeof room !== "string") return fields;
  const ref = parseRoomName(room);
  const { room: _clear, ...rest } = fields as LogFields;
  return ref === null
    ? { ...rest, room: roomHash(room) }
    : { ...rest, app: ref.appId, kind: ref.kind, room: roomHash(room) };
}

/**
 * A logger that replaces every `room` field by `app`, `kind` and the room's hash before writing. Lines the
 * wrapped logger would drop (its {@link Logger.enabled} says so) are dropped here, unhashed: the relay logs a
 * debug line per connection, and hashing it at the default level `info` was a SHA-256 per join for nothing.
 */
export function privateRooms(logger: Logger): Logger {
  const log = (level: LogLevel, fields: LogFields | undefined, write: (fields: LogFields | undefined) => void) => {
    if (logger.enabled?.(level) === false) return;
    write(redact(fields));
  };
  return {
    debug: (msg, fields) => log("debug", fields, (redacted) => logger.debug(msg, redacted)),
    info: (msg, fields) => log("info", fields, (redacted) => logger.info(msg, redacted)),
    warn: (msg, fields) => log("warn", fields, (redacted) => logger.warn(msg, redacted)),
    error: (msg, fields) => log("error", fields, (redacted) => logger.error(msg, redacted)),
    enabled: (level) => logger.enabled?.(level) ?? true,
  };
}

/** The room a WebSocket URL asks for (`/v1/<room>?…`), for the context of a refusal logged before admission. */
export function roomInUrl(url: string | undefined, prefix: string): string | undefined {
  const path = (url ?? "").split("?")[0] ?? "";
  return path.startsWith(prefix) && path.length > prefix.length ? path.slice(prefix.length) : undefined;
}
