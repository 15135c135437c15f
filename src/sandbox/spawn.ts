/**
 * Starting a sandbox thread: a `node:worker_threads` Worker whose entry is `thread.ts` (or the
 * built `thread.js`). Run from the TypeScript sources (tests, `npm start`), the thread first
 * registers tsx, a dev dependency, to load them.
 *
 * @internal
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"

/**
 * The thread's bootstrap. From the built package it imports `thread.js`; run from the TypeScript
 * sources, it registers tsx first. It uses only `import()`, which works whether Node evaluates it
 * as CommonJS (the default) or as a module (a process started with `--input-type=module` passes
 * that flag on to its threads).
 */
const THREAD_SOURCE = `
(async () => {
  const { workerData } = await import("node:worker_threads");
  if (workerData.tsx !== undefined) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch(async (error) => {
  const { parentPort } = await import("node:worker_threads");
  parentPort.postMessage({ _tag: "Defect", name: "Error", message: "the sandbox thread did not start: " + String(error), stack: error && error.stack });
});
`

/** The file URL of tsx's ESM API (its `import` export; the `require` one cannot register in a thread). */
const tsxApi = (): string => {
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json")
  const exports = (JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, unknown> }).exports
  const api = exports["./esm/api"] as { readonly import: { readonly default: string } }
  return new URL(api.import.default, pathToFileURL(manifest)).href
}

let threadData: { readonly entry: string; readonly tsx: string | undefined } | undefined

const dataOf = (): { readonly entry: string; readonly tsx: string | undefined } => {
  const fromSources = import.meta.url.endsWith(".ts")
  return {
    entry: new URL(fromSources ? "./thread.ts" : "./thread.js", import.meta.url).href,
    // registered in the thread itself: on Node 20 a loader given with --import does not reach threads
    tsx: fromSources ? tsxApi() : undefined
  }
}

/**
 * A new sandbox thread. The process's own node flags (preloads, loaders, conditions) apply in the
 * thread too, as they do by default.
 */
export const startThread = (): Worker => {
  threadData ??= dataOf()
  return new Worker(THREAD_SOURCE, { eval: true, workerData: threadData, stdout: false, stderr: false })
}
