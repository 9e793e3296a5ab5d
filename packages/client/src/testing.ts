/**
 * @parley/client/testing — the conformance suite every {@link ClientStorage} adapter must pass. It has no
 * dependency on a test framework: pass it your `describe`/`it`, or run single cases yourself (in a
 * browser page, say). Kept out of the main entry so that apps never bundle it.
 */
export {
  clientStorageCaseNames,
  clientStorageCases,
  describeClientStorage,
  type NewStorageMedium,
  runClientStorageCase,
  type StorageConformanceCase,
  type StorageMedium,
  type TestFunctions,
} from "./storage/conformance.js";
export type { ClientStorage } from "./storage/storage.js";
