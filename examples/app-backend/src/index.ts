export { DEMO_AGENT } from "./inbox-api.js";
export { type AppBackend, type AppBackendOptions, createAppBackend } from "./server.js";
export { type AppKey, DEFAULT_TOKEN_TTL_SECONDS, signUserToken } from "./tokens.js";
