/**
 * Structured logs: one JSON object per line (`{"time":…,"level":…,"msg":…, …fields}`), so that a log
 * shipper or a test harness can read them without parsing prose.
 */

/** Log levels, from most to least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Where the relay writes its logs. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /**
   * Whether lines of `level` are written at all. Optional: a wrapper that does work per line (log-privacy.ts
   * hashes room names) asks first and skips it for lines that would be dropped; absent means "maybe".
   */
  enabled?(level: LogLevel): boolean;
}

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function serializable(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * A logger writing JSON lines to `write` (stdout by default), dropping lines below `level` (default `info`).
 */
export function createJsonLogger(options: { level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const minimum = rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] < minimum) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
    if (fields) for (const [key, value] of Object.entries(fields)) entry[key] = serializable(value);
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
    enabled: (level) => rank[level] >= minimum,
  };
}

/** A logger that drops everything (the default for embedded use in tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false };
