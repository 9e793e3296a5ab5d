/**
 * @parley/client/node — what only Node offers: the directory store (it needs `fs`). Kept out of the main
 * entry so a browser bundle of `@parley/client` never pulls Node built-ins.
 */
export { directoryStorage } from "./storage/directory-storage.js";
