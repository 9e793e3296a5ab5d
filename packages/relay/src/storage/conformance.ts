/**
 * The conformance suite of {@link RelayStorage}: the contract written on the interface (storage.ts), as
 * cases that run against a medium the adapter's author provides. Exported from `@parley/relay/testing`.
 *
 * It depends on no test framework: each case is an async function that throws (node:assert) on the first
 * broken promise, so it runs under vitest, jest, mocha or `node:test` through {@link describeRelayStorage}.
 */
import { relayStorageCases } from "./conformance-cases.js";
import type { RelayStorage } from "./storage.js";

/**
 * Cuts writers down mid-compaction, for the crash-safety cases. An adapter whose data lives in the
 * process (MemoryStorage) has no crash to survive and leaves it out.
 */
export interface CompactionCrasher {
  /** Named points a compaction can be interrupted at, in order. */
  readonly points: readonly string[];
  /**
   * In a writer that then dies at `point` (for FileStorage: a child process, SIGKILLed there): claim
   * `name`, load it, and compact it to `snapshot`. Resolves once the writer is dead.
   */
  compactAndCrash(name: string, snapshot: Uint8Array, point: string): Promise<void>;
}

/**
 * What one case runs on: a fresh, empty backing store (a new directory, a new database schema), on which
 * the case opens storage instances.
 */
export interface RelayStorageMedium {
  /**
   * Opens a storage instance on the medium, as a restarted relay or a second relay node would. A case
   * calls it several times; every instance must see what the others made durable, and fences are shared
   * between them. An adapter whose instance is its medium (MemoryStorage) returns that one each time.
   */
  open(): RelayStorage | Promise<RelayStorage>;
  /** Present if the adapter can be crashed mid-compaction; see {@link CompactionCrasher}. */
  crasher?: CompactionCrasher;
  /** Releases the medium after the case (closes instances, removes the directory). Optional. */
  dispose?(): void | Promise<void>;
}

/** Makes a fresh medium for one case. */
export type NewRelayStorageMedium = () => RelayStorageMedium | Promise<RelayStorageMedium>;

/** One promise of the contract, checked against a medium. */
export interface RelayStorageCase {
  /** What the case proves, as a sentence (used as the test name). */
  readonly name: string;
  /** Whether the case needs {@link RelayStorageMedium.crasher}. */
  readonly needsCrasher?: boolean;
  /** Throws an `Error` naming the broken promise if the adapter does not keep it. */
  run(medium: RelayStorageMedium): Promise<void>;
}

/** The test functions {@link describeRelayStorage} registers cases with (vitest's, jest's, mocha's...). */
export interface TestFunctions {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
}

export { relayStorageCases };

/**
 * Runs the case called `name` on a fresh medium from `newMedium`, then disposes of the medium (whether
 * the case passed or not). Rejects with the case's failure.
 */
export async function runRelayStorageCase(name: string, newMedium: NewRelayStorageMedium): Promise<void> {
  const found = relayStorageCases.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no relay storage conformance case is called "${name}"`);
  const medium = await newMedium();
  try {
    await found.run(medium);
  } finally {
    await medium.dispose?.();
  }
}

/**
 * Registers the suite as one `describe` block with one `it` per case. The crash-safety cases are
 * registered only if `crashes` is true (the medium must then have a {@link CompactionCrasher}).
 *
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * import { describeRelayStorage } from "@parley/relay/testing";
 *
 * describeRelayStorage({ describe, it }, "PostgresStorage", async () => {
 *   const schema = await createSchema();
 *   return { open: () => new PostgresStorage({ schema }), dispose: () => dropSchema(schema) };
 * });
 * ```
 */
export function describeRelayStorage(
  test: TestFunctions,
  adapterName: string,
  newMedium: NewRelayStorageMedium,
  options: { crashes?: boolean } = {},
): void {
  test.describe(`${adapterName} keeps the RelayStorage contract`, () => {
    for (const conformanceCase of relayStorageCases) {
      if (conformanceCase.needsCrasher && !options.crashes) continue;
      test.it(conformanceCase.name, () => runRelayStorageCase(conformanceCase.name, newMedium));
    }
  });
}
