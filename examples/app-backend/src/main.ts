/**
 * Runs the example app backend from environment variables:
 *
 *   PARLEY_APP_ID, PARLEY_RELAY_URL, PARLEY_KEY_ID, PARLEY_KEY_SECRET   (required)
 *   PORT (default 3000), HOST (default 127.0.0.1), STATIC_DIR (the built web chat, optional)
 */
import { createAppBackend } from "./server.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`app-backend: set ${name}`);
    process.exit(2);
  }
  return value;
}

const backend = createAppBackend({
  appId: required("PARLEY_APP_ID"),
  relayUrl: required("PARLEY_RELAY_URL"),
  key: { kid: required("PARLEY_KEY_ID"), secret: required("PARLEY_KEY_SECRET") },
  host: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3000),
  ...(process.env.STATIC_DIR ? { staticDir: process.env.STATIC_DIR } : {}),
});
const { url } = await backend.listen();
console.log(`app-backend listening on ${url}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void backend.close().then(() => process.exit(0)));
}
