import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  // Not cleaned: a relay process started by a test keeps finding dist/ while the package rebuilds.
  clean: false,
  target: "es2022",
  platform: "node",
});
