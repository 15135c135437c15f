/**
 * Benchmarks for the QuickJS sandbox: per-call start-up cost and moving data in and out, on the
 * internal sandbox and through the public `javascript` tool (which also finds and loads the
 * handles the code mentions); the harness's hand-written thread pool against the library version
 * (`effect/workers` + `NodeWorker` + `effect/Pool`, `util/libraryPool.ts`) on the same run; and
 * the issue-13 case of one call that saves 10,000 values.
 *
 * Run alone with `npm run build && npx tsx --import ./bench/util/build.mjs bench/sandbox.ts`, or
 * through the bench runner via `benchSandbox`.
 */
import { Effect, Exit, Fiber, Scope } from "effect"
import * as Data from "../src/data/Data.js"
import { resolveSettings } from "../src/sandbox/limits.js"
import { serializeGlobals } from "../src/sandbox/marshal.js"
import { ThreadPool } from "../src/sandbox/pool.js"
import type { Answer, Job } from "../src/sandbox/protocol.js"
import * as Sandbox from "../src/sandbox/sandbox.js"
import * as JavaScript from "../src/tools/JavaScript.js"
import type * as Tool from "../src/tools/Tool.js"
import { makeLibraryPool } from "./util/libraryPool.js"

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

const toolContext = (store: Data.Store): Tool.Context => ({
  toolUseId: "toolu_bench",
  data: store,
  reveal: () => Effect.void,
  setAnswer: () => Effect.void
})

/** Median duration of `runs` calls of the `javascript` tool on `store`, after `warmup` untimed ones. */
const medianToolCall = async (store: Data.Store, code: string, runs: number, warmup: number): Promise<number> => {
  const call = async () => {
    const started = performance.now()
    const outcome = await Effect.runPromise(JavaScript.javascript.call({ code }, toolContext(store)))
    if (outcome.isError) throw new Error(outcome.content)
    return performance.now() - started
  }
  for (let i = 0; i < warmup; i++) await call()
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) samples.push(await call())
  return median(samples)
}

// -----------------------------------------------------------------------------
// the thread pool: hand-written against the library version
// -----------------------------------------------------------------------------

/** A pool contender: runs one call of `code` with `globals`, and closes. */
interface Contender {
  readonly name: string
  readonly call: (code: string, globals: Readonly<Record<string, unknown>>) => Effect.Effect<unknown, unknown>
  readonly close: Effect.Effect<void>
}

const harnessContender = (): Contender => {
  const pool = new ThreadPool(1, 30_000)
  return {
    name: "hand-written pool",
    call: (code, globals) => Sandbox.run(code, globals, { timeoutMs: 60_000 }, pool),
    close: pool.close
  }
}

/** The same job `Sandbox.run` builds, and the same parse of the reply, around the library pool. */
const libraryContender = async (): Promise<Contender> => {
  const scope = await Effect.runPromise(Scope.make())
  const run = await Effect.runPromise(Scope.provide(makeLibraryPool(1), scope))
  const job = (code: string, globals: Readonly<Record<string, unknown>>): Job => {
    const settings = resolveSettings({ timeoutMs: 60_000 })
    return { code, globalsJson: serializeGlobals(globals), settings, budgetMs: settings.timeoutMs }
  }
  const parse = (answer: Answer) =>
    answer._tag === "Success" && answer.result.valueJson !== undefined ? JSON.parse(answer.result.valueJson) : answer
  return {
    name: "effect/workers + NodeWorker + Pool",
    call: (code, globals) => Effect.map(run(job(code, globals)), parse),
    close: Scope.close(scope, Exit.void)
  }
}

const makers: ReadonlyArray<() => Contender | Promise<Contender>> = [harnessContender, libraryContender]

const timeEffect = async (effect: Effect.Effect<unknown, unknown>): Promise<number> => {
  const started = performance.now()
  await Effect.runPromise(effect)
  return performance.now() - started
}

/** First call on a fresh pool (thread start, engine load, `1 + 1`), then warm per-call costs. */
const poolCallCosts = async (repetitions: number): Promise<Array<Measurement>> => {
  const numbers = Array.from({ length: 100_000 }, (_, i) => i % 1_000)
  const first = makers.map(() => [] as Array<number>)
  const trivial = makers.map(() => [] as Array<number>)
  const data = makers.map(() => [] as Array<number>)
  for (let rep = 0; rep < repetitions; rep++) {
    for (let k = 0; k < makers.length; k++) {
      const index = (k + rep) % makers.length
      const contender = await makers[index]!()
      first[index]!.push(await timeEffect(contender.call("1 + 1", {})))
      for (let i = 0; i < 100; i++) trivial[index]!.push(await timeEffect(contender.call("1 + 1", {})))
      for (let i = 0; i < 10; i++) {
        data[index]!.push(await timeEffect(contender.call("numbers.reduce((s, n) => s + n, 0)", { numbers })))
      }
      await Effect.runPromise(contender.close)
    }
  }
  return makers.flatMap((_, index) => {
    const name = index === 0 ? "hand-written pool" : "effect/workers + NodeWorker + Pool"
    return [
      {
        name: `pool, ${name}: first call (thread start, engine load)`,
        value: round(median(first[index]!)),
        unit: "ms"
      },
      { name: `pool, ${name}: per call, \`1 + 1\``, value: round(median(trivial[index]!)), unit: "ms" },
      {
        name: `pool, ${name}: per call, reduce over a 100,000-number global`,
        value: round(median(data[index]!)),
        unit: "ms"
      }
    ]
  })
}

/**
 * Interrupting a busy call (`while (true) {}`, 60 s limit): until `Fiber.interrupt` returned, and
 * the CPU time the process spent in the second after the interrupt (a thread still spinning
 * spends about 1,000 ms of it).
 */
const poolInterrupt = async (repetitions: number): Promise<Array<Measurement>> => {
  const returned = makers.map(() => [] as Array<number>)
  const spinning = makers.map(() => [] as Array<number>)
  for (let rep = 0; rep < repetitions; rep++) {
    for (let index = 0; index < makers.length; index++) {
      const contender = await makers[index]!()
      await Effect.runPromise(contender.call("1", {}))
      const fiber = Effect.runFork(contender.call("while (true) {}", {}))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const started = performance.now()
      const cpu = process.cpuUsage()
      const second = new Promise<number>((resolve) =>
        setTimeout(() => {
          const used = process.cpuUsage(cpu)
          resolve((used.user + used.system) / 1000)
        }, 1_000)
      )
      await Effect.runPromise(Fiber.interrupt(fiber))
      returned[index]!.push(performance.now() - started)
      spinning[index]!.push(await second)
      await Effect.runPromise(contender.close)
    }
  }
  return makers.flatMap((_, index) => {
    const name = index === 0 ? "hand-written pool" : "effect/workers + NodeWorker + Pool"
    return [
      {
        name: `pool, ${name}: interrupting a busy call, until interrupted`,
        value: round(median(returned[index]!)),
        unit: "ms"
      },
      {
        name: `pool, ${name}: interrupting a busy call, process CPU in the second after`,
        value: round(median(spinning[index]!)),
        unit: "ms"
      }
    ]
  })
}

// -----------------------------------------------------------------------------
// issue 13: one call that saves 10,000 values
// -----------------------------------------------------------------------------

/**
 * `for (let i = 0; i < 10000; i++) save('h' + i, i)` through the `javascript` tool on a fresh
 * store: the call's time, the tool result's length and the handles it left.
 */
const tenThousandSaves = async (label: string, tool: Tool.Tool): Promise<Array<Measurement>> => {
  const scope = await Effect.runPromise(Scope.make())
  const store = await Effect.runPromise(Scope.provide(Data.makeStore, scope))
  const context = toolContext(store)
  await Effect.runPromise(tool.call({ code: "1" }, context))
  const started = performance.now()
  const outcome = await Effect.runPromise(
    tool.call({ code: "for (let i = 0; i < 10000; i++) save('h' + i, i)" }, context)
  )
  const ms = performance.now() - started
  const handles = (await Effect.runPromise(store.list)).length
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return [
    { name: `10,000 saves in one call, ${label}: time`, value: round(ms), unit: "ms" },
    { name: `10,000 saves in one call, ${label}: tool result`, value: outcome.content.length, unit: "chars" },
    { name: `10,000 saves in one call, ${label}: handles kept`, value: handles, unit: "handles" }
  ]
}

/**
 * Measure the sandbox: the first call in the process (it loads the WebAssembly engine), the
 * median start-up cost of a trivial call, and calls that move 100,000 values in or out; the pool
 * against its library version; and 10,000 saves in one call.
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
    },
    ...(await poolCallCosts(3)),
    ...(await poolInterrupt(3)),
    ...(await tenThousandSaves("default limits", JavaScript.javascript)),
    ...(await tenThousandSaves(
      "maxSaves 10,000, timeoutMs 120,000",
      JavaScript.make({ maxSaves: 10_000, timeoutMs: 120_000 })
    ))
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchSandbox()
  const width = Math.max(...results.map((result) => result.name.length))
  console.log(`${"benchmark".padEnd(width)}  ${"value".padStart(10)}  unit`)
  for (const { name, value, unit } of results)
    console.log(`${name.padEnd(width)}  ${value.toFixed(3).padStart(10)}  ${unit}`)
}
