/**
 * Configuration reload without a restart: validates the new configuration whole, plans what changes
 * (config/reload-plan.ts), imports the new keys, then swaps them into the relay's `KeyRing` and closes the open
 * connections whose key was removed or whose token id is now denied — all in one synchronous step after the
 * last await, so no connection is admitted or refreshed against half of the change. A reload that fails at any
 * step before the swap changes nothing: the running configuration stays, and the error is logged and thrown.
 * Reloads run one at a time, in the order asked.
 */
import { InvalidArgumentError, InvalidStateError, ParleyError } from "@parley/protocol";
import { parseConfig, type RelayConfig } from "../config/config.js";
import { planReload } from "../config/reload-plan.js";
import { type CredentialHolder, closeStale } from "../identity/credential.js";
import { KeyRing } from "../identity/jwt.js";
import type { Logger } from "./logger.js";

/**
 * Options as `createRelay` takes them carry embeddings (a storage adapter, a logger, extensions, the source):
 * those are not configuration, and are fixed for the relay's life.
 */
function withoutEmbeddings(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const {
    storage: _storage,
    logger: _logger,
    extensions: _extensions,
    configSource: _source,
    ...rest
  } = raw as Record<string, unknown>;
  return rest;
}

/** What a reload did. */
export interface ReloadResult {
  /** Reloadable settings that changed and now apply, by path (`apps["my-app"].keys`, `admin.token`). */
  changed: string[];
  /** Settings that differ in the new configuration but need a restart; they keep their running values. */
  restartNeeded: string[];
  /** Open connections closed with 4401: their token's key was removed, or its `jti` is now denied. */
  closed: { keyRemoved: number; tokenDenied: number };
}

/** What the reloader works on. */
export interface ReloaderContext {
  /** The relay's ring: {@link KeyRing.adopt} swaps the new keys into it. */
  keys: Promise<KeyRing>;
  /** The open connections. */
  connections: Iterable<CredentialHolder>;
  logger: Logger;
  /** Where a reload without a given configuration reads one (the CLI: the config file and environment). */
  source?: () => unknown;
}

/** Runs reloads for one relay; {@link running} is the configuration in force. */
export class Reloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** The configuration in force: the start configuration with the reloaded settings applied. */
    public running: RelayConfig,
    private readonly context: ReloaderContext,
  ) {}

  /**
   * Reloads from `raw` (options as `createRelay` takes them, without embeddings), or from the context's source.
   * Throws {@link InvalidArgumentError} for a configuration that does not validate, and `InvalidStateError` when
   * there is neither a configuration nor a source; the running configuration then stays.
   */
  reload(raw?: unknown): Promise<ReloadResult> {
    const run = this.queue.then(() => this.run(raw));
    this.queue = run.catch(() => {});
    return run;
  }

  private async run(given: unknown): Promise<ReloadResult> {
    const { logger } = this.context;
    try {
      const raw = await this.read(given);
      const plan = planReload(this.running, parseConfig(withoutEmbeddings(raw)));
      let fresh: KeyRing;
      try {
        fresh = await KeyRing.create(plan.config.apps, this.running.clockToleranceS, this.running.maxTokenLifetimeS);
      } catch (error) {
        throw new InvalidArgumentError("config.apps", (error as Error).message.replace(/^config: /, ""));
      }
      const ring = await this.context.keys;
      // From here on, synchronous: the swap and the closes happen together.
      ring.adopt(fresh);
      this.running = plan.config;
      const closed = closeStale(this.context.connections, ring);
      const result: ReloadResult = {
        changed: plan.changed,
        restartNeeded: plan.restartNeeded,
        closed: { keyRemoved: closed["key-removed"], tokenDenied: closed["token-denied"] },
      };
      logger.info("config reloaded", { ...result });
      if (plan.restartNeeded.length > 0) {
        logger.warn("config reload: settings that need a restart kept their running values", {
          restartNeeded: plan.restartNeeded,
        });
      }
      return result;
    } catch (error) {
      const code = error instanceof ParleyError ? error.code : "internal";
      logger.error("config reload refused; the running config stays", { code, error });
      throw error;
    }
  }

  private async read(given: unknown): Promise<unknown> {
    if (given !== undefined) return given;
    const source = this.context.source;
    if (source === undefined) {
      throw new InvalidStateError("this relay has no configuration source: pass the new configuration to reload()");
    }
    return await source();
  }
}
