import { defineConfig } from "vitest/config"

// Node 20 lacks `Map.groupBy` / `Object.groupBy` (added in Node 21). Vitest 5's reporter calls
// `Map.groupBy` when it prints failed tests, so on Node 20 a failing run would end in
// "Map.groupBy is not a function" instead of the failure. This config runs in the reporter's
// process, so the polyfill here keeps failures readable on Node 20; Node 22+ is untouched.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value: <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, Array<V>> => {
      const groups = new Map<K, Array<V>>()
      let index = 0
      for (const item of items) {
        const k = key(item, index++)
        const group = groups.get(k)
        if (group) group.push(item)
        else groups.set(k, [item])
      }
      return groups
    }
  })
}
if (typeof (Object as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Object, "groupBy", {
    configurable: true,
    writable: true,
    value: <V>(items: Iterable<V>, key: (item: V, index: number) => PropertyKey) => {
      const groups: Record<PropertyKey, Array<V>> = Object.create(null)
      let index = 0
      for (const item of items) (groups[key(item, index++)] ??= []).push(item)
      return groups
    }
  })
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.mjs"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
