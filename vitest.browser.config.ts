import { defineConfig } from "vitest/config"
// the main config polyfills Node 20's missing Map.groupBy for failure reports; load it for that
import "./vitest.config"

/**
 * `npm run test:browser`: the analyst page in Chromium (test/web/*.e2e.ts), kept out of `npm test`.
 * One file at a time: each drives its own browser.
 */
export default defineConfig({
  test: {
    include: ["test/web/**/*.e2e.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false
  }
})
