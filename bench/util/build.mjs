/**
 * Makes the benchmarks run the published build: every import of `src/<path>` resolves to
 * `dist/<path>.js`, which `npm run bench` builds first (`npm run build`). Users run the build;
 * tsx's transform of the TypeScript sources (esbuild with `keepNames`) adds a `__name` call and
 * a property store to every named closure, several KB per ask that the build does not have.
 *
 * Loaded with `node --import` after tsx (`npm run bench` does both); `BENCH_SOURCE=1` measures
 * the sources instead. Child processes (the memory benchmark, the bench server) inherit it.
 */
import { existsSync } from "node:fs"
import { register } from "node:module"

if (process.env.BENCH_SOURCE !== "1") {
  const root = new URL("../../", import.meta.url)
  const source = new URL("src/", root).href
  const build = new URL("dist/", root).href
  if (!existsSync(new URL("index.js", build))) {
    throw new Error("bench: dist/ is missing; run `npm run build` first (npm run bench does), or set BENCH_SOURCE=1")
  }
  const hooks = `
    export async function resolve(specifier, context, nextResolve) {
      const resolved = await nextResolve(specifier, context)
      if (!resolved.url.startsWith(${JSON.stringify(source)})) return resolved
      const url = ${JSON.stringify(build)} + resolved.url.slice(${source.length}).replace(/\\.ts$/, ".js")
      return { ...resolved, url, format: "module" }
    }`
  register(`data:text/javascript,${encodeURIComponent(hooks)}`)
}
