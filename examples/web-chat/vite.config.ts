import { defineConfig } from "vite";

// `pnpm dev` serves the page with hot reload; the API (login, config) comes from the app backend.
export default defineConfig({
  server: {
    proxy: { "/api": process.env.APP_BACKEND_URL ?? "http://127.0.0.1:3000" },
  },
  build: { target: "es2022" },
});
