/**
 * Benchmarks for the QuickJS sandbox: per-call start-up cost and moving data in and out, on the
 * internal sandbox and through the public `javascript` tool (which also finds and loads the
 * handles the code mentions).
 *
 * Run alone with `npx tsx bench/sandbox.ts`, or through the bench runner via `benchSandbox`.
 */
import { Effect, Exit, Scope } from "effect"
import * as Data from "../src/data/Data.js"
import * as Sandbox from "../src/sandbox/sandbox.js"
import * as JavaScript from "../src/tools/JavaScript.js"
import type * as Tool from "../src/tools/Tool.js"

/** One measured figure. */
export interface Measurement {
  readonly name: string
  readonly value: number
  readonly unit: string
}

const median = (samples: ReadonlyArray<number>): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const round = (value: number): number => Math.round(value * 1000) / 1000

/** Milliseconds taken by one sandbox call; fails loudly if the call fails. */
const timeCall = async (code: string, globals: Readonly<Record<string, unknown>>): Promise<number> => {
  const started = performance.now()
  await Effect.runPromise(Sandbox.run(code, globals))
  return performance.now() - started
}

/** Median duration of `runs` calls after `warmup` untimed ones. */
const medianCall = async (
  code: string,
  globals: Readonly<Record<string, unknown>>,
  runs: number,
  warmup: number
): Promise<number> => {
  for (let i = 0; i < warmup; i++) await timeCall(code, globals)
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) samples.push(await timeCall(code, globals))
  return median(samples)
}

/** Median duration of `runs` calls of the `javascript` tool on `store`, after `warmup` untimed ones. */
const medianToolCall = async (store: Data.Store, code: string, runs: number, warmup: number): Promise<number> => {
  const context: Tool.Context = {
    toolUseId: "toolu_bench",
    data: store,
    reveal: () => Effect.void,
    setAnswer: () => Effect.void
  }
  const call = async () => {
    const started = performance.now()
    const outcome = await Effect.runPromise(JavaScript.javascript.call({ code }, context))
    if (outcome.isError) throw new Error(outcome.content)
    return performance.now() - started
  }
  for (let i = 0; i < warmup; i++) await call()
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) samples.push(await call())
  return median(samples)
}

/**
 * Measure the sandbox: the first call in the process (it loads the WebAssembly engine), the
 * median start-up cost of a trivial call, and calls that move 100,000 values in or out.
 *
 * @example
 * ```ts
 * for (const { name, value, unit } of await benchSandbox()) console.log(name, value, unit)
 * ```
 */
export const benchSandbox = async (): Promise<ReadonlyArray<Measurement>> => {
  const numbers = Array.from({ length: 100_000 }, (_, i) => i % 1_000)
  const records = Array.from({ length: 100_000 }, (_, i) => ({
    id: i,
    region: i % 2 === 0 ? "north" : "south",
    amount: (i % 1_000) / 10
  }))

  const firstCall = await timeCall("1 + 1", {})
  const trivial = await medianCall("1 + 1", {}, 50, 10)
  const reduceNumbers = await medianCall("numbers.reduce((sum, n) => sum + n, 0)", { numbers }, 10, 2)
  const reduceRecords = await medianCall("records.reduce((sum, r) => sum + r.amount, 0)", { records }, 10, 2)
  const returnArray = await medianCall("Array.from({ length: 100000 }, (_, i) => i)", {}, 10, 2)

  // Data.makeStore is scoped: the store (and its database, if anything opened one) is released here
  const scope = await Effect.runPromise(Scope.make())
  const store = await Effect.runPromise(Scope.provide(Data.makeStore, scope))
  await Effect.runPromise(store.put("records", records))
  const toolTrivial = await medianToolCall(store, "1 + 1", 50, 10)
  const toolReduce = await medianToolCall(store, "records.reduce((sum, r) => sum + r.amount, 0)", 10, 2)
  await Effect.runPromise(Scope.close(scope, Exit.void))

  return [
    { name: "first call in the process (loads the WASM engine)", value: round(firstCall), unit: "ms" },
    { name: "start-up per call, `1 + 1` (median of 50)", value: round(trivial), unit: "ms" },
    { name: "reduce over a 100,000-number global (median of 10)", value: round(reduceNumbers), unit: "ms" },
    { name: "reduce over a 100,000-record global (median of 10)", value: round(reduceRecords), unit: "ms" },
    { name: "return a 100,000-element array (median of 10)", value: round(returnArray), unit: "ms" },
    { name: "javascript tool: start-up per call, `1 + 1` (median of 50)", value: round(toolTrivial), unit: "ms" },
    {
      name: "javascript tool: reduce over a 100,000-row handle (median of 10)",
      value: round(toolReduce),
      unit: "ms"
    }
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchSandbox()
  const width = Math.max(...results.map((result) => result.name.length))
  console.log(`${"benchmark".padEnd(width)}  ${"value".padStart(10)}  unit`)
  for (const { name, value, unit } of results)
    console.log(`${name.padEnd(width)}  ${value.toFixed(3).padStart(10)}  ${unit}`)
}
