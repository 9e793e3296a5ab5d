export * from "./claims.js";
export * from "./close-codes.js";
export * from "./credentials.js";
export * from "./errors.js";
export * from "./layout.js";
export * from "./records.js";
export * from "./rooms.js";
export * from "./wire.js";
