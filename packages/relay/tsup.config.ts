import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts", "src/testing.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    // Not cleaned: tests running while the package rebuilds keep finding dist/cli.js.
    clean: false,
    target: "es2022",
    platform: "node",
  },
  {
    entry: ["src/cli.ts"],
    format: ["esm"],
    sourcemap: true,
    target: "es2022",
    platform: "node",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
