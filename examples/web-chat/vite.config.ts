import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// Two pages: the shop page with the support widget, and the agent inbox (`/inbox`). `pnpm dev` serves
// them with hot reload; the API (config, login, inbox) comes from the app backend.
export default defineConfig({
  server: {
    proxy: { "/api": process.env.APP_BACKEND_URL ?? "http://127.0.0.1:3000" },
  },
  build: {
    target: "es2022",
    rollupOptions: {
      input: { widget: page("index.html"), inbox: page("inbox.html") },
      onwarn(warning, warn) {
        // @parley/react starts with "use client" for server-rendering frameworks; a browser bundle has no use for it.
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
