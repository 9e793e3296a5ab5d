/**
 * The conformance suite of {@link ClientStorage}: what every adapter must do, as cases that run against
 * a medium the adapter's author provides. Exported from `@parley/client/testing`.
 *
 * It depends on no test framework: each case is an async function that throws on the first broken
 * promise (with a message saying which), so it runs under vitest, jest, mocha or `node:test` through
 * {@link describeClientStorage}, and inside a browser page through {@link runClientStorageCase} (that is
 * how the IndexedDB adapter is held to it in real Chromium).
 */
import { clientStorageCases } from "./conformance-cases.js";
import type { ClientStorage } from "./storage.js";

/**
 * What one case runs on: a fresh, empty medium (a new directory, a new IndexedDB prefix, a new
 * `memoryStorage()`), on which the case opens store instances.
 */
export interface StorageMedium {
  /**
   * Opens a store instance on the medium, as a restarted process or another tab of the origin would.
   * A case calls it several times; every instance must see what the others made durable. An adapter
   * whose instance is its medium (`memoryStorage`) returns that one instance each time.
   */
  open(): ClientStorage;
  /** Releases the medium after the case (removes the directory, deletes the databases). Optional. */
  dispose?(): void | Promise<void>;
}

/** Makes a fresh medium for one case. */
export type NewStorageMedium = () => StorageMedium | Promise<StorageMedium>;

/** One promise of the contract, checked against a medium. */
export interface StorageConformanceCase {
  /** What the case proves, as a sentence (used as the test name). */
  readonly name: string;
  /** Throws an `Error` naming the broken promise if the adapter does not keep it. */
  run(medium: StorageMedium): Promise<void>;
}

/** The test functions {@link describeClientStorage} registers cases with (vitest's, jest's, mocha's...). */
export interface TestFunctions {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

/** Names of every case, in the order they run. */
export const clientStorageCaseNames: readonly string[] = clientStorageCases.map((c) => c.name);

export { clientStorageCases };

/**
 * Runs the case called `name` on a fresh medium from `newMedium`, then disposes of the medium
 * (whether the case passed or not). Rejects with the case's failure.
 */
export async function runClientStorageCase(name: string, newMedium: NewStorageMedium): Promise<void> {
  const found = clientStorageCases.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no client storage conformance case is called "${name}"`);
  const medium = await newMedium();
  try {
    await found.run(medium);
  } finally {
    await medium.dispose?.();
  }
}

/**
 * Registers the whole suite as one `describe` block with one `it` per case.
 *
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * import { describeClientStorage } from "@parley/client/testing";
 *
 * describeClientStorage({ describe, it }, "sqliteStorage", async () => {
 *   const file = await makeTempFile();
 *   return { open: () => sqliteStorage(file), dispose: () => rm(file) };
 * });
 * ```
 */
export function describeClientStorage(test: TestFunctions, adapterName: string, newMedium: NewStorageMedium): void {
  test.describe(`${adapterName} keeps the ClientStorage contract`, () => {
    for (const name of clientStorageCaseNames) {
      test.it(name, () => runClientStorageCase(name, newMedium));
    }
  });
}
