/**
 * The typed error a relay close stands for. The mapping (close code → class, reason token → `reason`) is a
 * wire fact and lives in `@parley/protocol`; the client re-exports it so its modules import it from here.
 */
export { errorForClose } from "@parley/protocol";
