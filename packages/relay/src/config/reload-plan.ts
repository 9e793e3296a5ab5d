/**
 * What a configuration reload (SIGHUP, `POST /v1/admin/reload`, `relay.reload()`) changes, decided before
 * anything is applied.
 *
 * Reloadable: each app's `keys`, `denyTokenIds`, `audience` and `issuer` (all read per verification through the
 * `KeyRing`), and `admin.token`. Every other setting was read once at start (a listening socket, storage, limits
 * built into connections, webhook queues...): a reload reports it in `restartNeeded` and keeps the running value,
 * so a file edited for a later restart does not block a key rotation now.
 *
 * Adding or removing an app is refused instead: a removed app that kept working (its keys still open rooms) or
 * a new app without its webhooks would each be a surprise with security weight.
 */
import { isDeepStrictEqual } from "node:util";
import { InvalidArgumentError } from "@parley/protocol";
import type { AppConfig, RelayConfig } from "./config.js";

/** What a reload does. */
export interface ReloadPlan {
  /** The configuration the relay runs afterwards: the running one with the reloadable settings of the new one. */
  config: RelayConfig;
  /** Reloadable settings that change, by path (`apps["my-app"].keys`, `admin.token`). */
  changed: string[];
  /** Settings that differ but need a restart, by path (`port`, `limits.maxFrameBytes`); they keep running values. */
  restartNeeded: string[];
}

/** Per-app settings a reload applies. */
const RELOADABLE_APP_KEYS = ["keys", "denyTokenIds", "audience", "issuer"] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The paths under `path` where `a` and `b` differ: one level into objects, so `limits.x` is named. */
function differences(path: string, a: unknown, b: unknown): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (!isPlainObject(a) || !isPlainObject(b)) return [path];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => !isDeepStrictEqual(a[key], b[key])).map((key) => `${path}.${key}`);
}

function reloadApp(running: AppConfig, next: AppConfig, changed: string[], restartNeeded: string[]): AppConfig {
  const path = `apps[${JSON.stringify(running.id)}]`;
  const app: AppConfig = { ...running };
  for (const key of RELOADABLE_APP_KEYS) {
    if (isDeepStrictEqual(running[key], next[key])) continue;
    changed.push(`${path}.${key}`);
    if (next[key] === undefined) delete app[key];
    else Object.assign(app, { [key]: next[key] });
  }
  const fixed = new Set<string>([...Object.keys(running), ...Object.keys(next)]);
  for (const key of ["id", ...RELOADABLE_APP_KEYS]) fixed.delete(key);
  for (const key of fixed) {
    const a = (running as unknown as Record<string, unknown>)[key];
    const b = (next as unknown as Record<string, unknown>)[key];
    if (!isDeepStrictEqual(a, b)) restartNeeded.push(`${path}.${key}`);
  }
  return app;
}

/**
 * Plans the reload of `running` to `next` (both validated by `parseConfig`). Throws {@link InvalidArgumentError}
 * (`config.apps`) if `next` adds or removes an app.
 */
export function planReload(running: RelayConfig, next: RelayConfig): ReloadPlan {
  const nextApps = new Map(next.apps.map((app) => [app.id, app]));
  const added = next.apps.filter((app) => !running.apps.some((old) => old.id === app.id)).map((app) => app.id);
  const removed = running.apps.filter((app) => !nextApps.has(app.id)).map((app) => app.id);
  if (added.length > 0 || removed.length > 0) {
    const said = [
      added.length > 0 ? `added ${added.join(", ")}` : "",
      removed.length > 0 ? `removed ${removed.join(", ")}` : "",
    ].filter((part) => part !== "");
    throw new InvalidArgumentError("config.apps", `apps were ${said.join(" and ")}: that needs a restart`);
  }
  const changed: string[] = [];
  const restartNeeded: string[] = [];
  const apps = running.apps.map((app) => reloadApp(app, nextApps.get(app.id) as AppConfig, changed, restartNeeded));
  const config: RelayConfig = { ...running, apps };
  if (running.admin.token !== next.admin.token) {
    changed.push("admin.token");
    config.admin = { token: next.admin.token };
  }
  for (const key of Object.keys(running) as Array<keyof RelayConfig>) {
    if (key === "apps" || key === "admin") continue;
    restartNeeded.push(...differences(key, running[key], next[key]));
  }
  return { config, changed, restartNeeded };
}
