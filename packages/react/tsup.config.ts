import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  external: ["react", "@parley/client", "use-sync-external-store"],
  // Bundlers drop module-level directives; the banner puts it back so Next.js treats the hooks as client code.
  banner: { js: '"use client";' },
});
