/**
 * The slow cluster suite (`npm run test:cluster`): two runner processes on a real PostgreSQL, a
 * runner killed and its sessions moved. Kept out of `npm test` by its file names (`*.slow.ts`).
 */
import { defineConfig } from "vitest/config"
// the Node 20 polyfills of the main config (its reporter's Map.groupBy)
import "../../vitest.config.js"

export default defineConfig({
  test: {
    include: ["test/cluster/**/*.slow.ts"],
    testTimeout: 150_000,
    hookTimeout: 180_000
  }
})
