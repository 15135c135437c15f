/**
 * A JavaScript sandbox for model-written code, running on QuickJS compiled to WebAssembly.
 *
 * The agent's `javascript` tool runs code here. The engine is a separate interpreter with its own
 * realm: there is no `require`, `import()`, `process`, `fetch`, file system, network or timers, and
 * changing `Object.prototype` inside cannot touch the host. The only host functions the code can
 * reach are `console.*`, `save(name, value)` and `answer(value)`.
 *
 * Every call gets a fresh QuickJS runtime and context, so no state survives between calls; data
 * comes in as `globals` (JSON-like values placed in scope as global variables) and goes out as the
 * value of the last expression, printed lines, saved values and the answer.
 *
 * The parts, each in its own file beside this one:
 * - `limits.ts`: the options of a call and the settings they resolve to.
 * - `pool.ts`, `spawn.ts`: the worker threads calls run on (`SandboxPool.ts` is its public face).
 * - `thread.ts`: a thread's entry; `job.ts`: one job on it; `protocol.ts`: the messages between
 *   a thread and the pool.
 * - `engine.ts`: QuickJS in a fixed-size WebAssembly memory, loaded on a thread's first call.
 * - `execute.ts`: one call on an engine; `bootstrap.ts`: the code every context runs first.
 * - `marshal.ts`: data in and out; `failure.ts`: failures explained; `watchdog.ts`: the hard stop.
 *
 * @internal
 */
import { Effect } from "effect"
import { inputTimeoutMessage, resolveSettings, type SandboxOptions } from "./limits.js"
import { serializeGlobals } from "./marshal.js"
import { defaultPool, type ThreadPool } from "./pool.js"
import { type Answer, rebuild } from "./protocol.js"
import { SandboxError } from "./SandboxError.js"

/** Limits for one sandbox call. */
export type { SandboxOptions } from "./limits.js"
/** The sandboxed code failed. */
export { SandboxError } from "./SandboxError.js"

/**
 * What a successful sandbox call produced. All values are plain JSON-like host data.
 */
export interface SandboxResult {
  /** The value of the last expression, converted to JSON-like data; `undefined` if there is none. */
  readonly value: unknown
  /** Printed lines, one per `console.*` call, capped at `maxOutputBytes`. */
  readonly output: ReadonlyArray<string>
  /** Values recorded with `save(name, value)`, in first-save order; a later save of a name replaces it. */
  readonly saved: ReadonlyArray<{ readonly name: string; readonly value: unknown }>
  /** The value recorded with `answer(value)` (the last call wins), or `undefined` if never called. */
  readonly answer: { readonly value: unknown } | undefined
  /**
   * The call's time in milliseconds as counted against `timeoutMs`: moving the globals in, running
   * the code, moving the result out (waiting for a thread and loading an engine excluded).
   */
  readonly elapsedMs: number
}

/** Options of {@link run}: the limits, and time already spent by the caller. */
export interface RunOptions extends SandboxOptions {
  /** Milliseconds of `timeoutMs` the caller already spent on this call (reading the data, say). */
  readonly spentMs?: number | undefined
}

const parse = (json: string | undefined): unknown => (json === undefined ? undefined : JSON.parse(json))

/** A thread's answer as the caller sees it; `spentMs` is the call's time so far, parsing excluded. */
const resultOf = (answer: Answer, spentMs: number): Effect.Effect<SandboxResult, SandboxError> => {
  switch (answer._tag) {
    case "Success": {
      const started = performance.now()
      const { result } = answer
      const value = parse(result.valueJson)
      const saved = result.saved.map(([name, json]) => ({ name, value: parse(json) }))
      const answered = result.answer === undefined ? undefined : { value: parse(result.answer.json) }
      const elapsedMs = spentMs + answer.ranMs + (performance.now() - started)
      return Effect.succeed({ value, output: result.output, saved, answer: answered, elapsedMs })
    }
    case "Failure":
      return Effect.fail(new SandboxError({ reason: answer.reason, message: answer.message, output: answer.output }))
    case "Defect":
      return Effect.die(rebuild(answer))
  }
}

/**
 * Run model-written JavaScript in a fresh QuickJS sandbox, on a thread of `pool` (default: the
 * process-wide pool, see `pool.ts`).
 *
 * `globals` are JSON-like values placed in scope as global variables (serialised once with
 * `JSON.stringify` and parsed inside the engine; `undefined` properties are skipped, bigint becomes
 * a number when safe and a string otherwise, Dates become ISO strings, Map and Set are not
 * supported). `console`, `save` and `answer` are defined after them and win on a name clash.
 *
 * Inside the sandbox:
 * - `console.log/info/warn/error/debug(...values)` prints one line (strings as is, other values as
 *   JSON), up to `maxOutputBytes` in total.
 * - `save(name, value)` records `value` under `name` (a JavaScript identifier) and returns `name`;
 *   past `maxSaves` names or `maxSaveBytes` bytes it throws a `RangeError`, and the call fails
 *   with `SaveLimit` even if the code catches it.
 * - `answer(value)` records the final answer.
 * - The completion value of the script (its last expression) is the result. If it is a Promise,
 *   queued jobs are run and its settled value is used, so `(async () => { ... })()` works.
 *
 * Values leave the sandbox as JSON: functions and `undefined` become `undefined`, `NaN` and
 * `Infinity` become `null`, bigint becomes a number or string, Map becomes an object, Set an array.
 *
 * The code runs on a worker thread, so the caller's thread, and every other fiber on it, goes on
 * while it runs; interrupting the call stops the thread at once.
 *
 * Fails with {@link SandboxError} for syntax errors, thrown errors, timeouts, memory exhaustion,
 * saves past the bounds and results that cannot be converted; a host-side bug (for example a
 * circular `globals` value) is a defect.
 *
 * @example
 * ```ts
 * const result = yield* Sandbox.run(
 *   "const total = rows.reduce((sum, row) => sum + row.amount, 0); console.log(total); total",
 *   { rows: [{ amount: 1 }, { amount: 2 }] }
 * )
 * // result.value === 3, result.output == ["3"]
 * ```
 */
export const run = (
  code: string,
  globals: Readonly<Record<string, unknown>>,
  options?: RunOptions,
  pool: ThreadPool = defaultPool()
): Effect.Effect<SandboxResult, SandboxError> =>
  pool.withTurn(
    Effect.suspend(() => {
      const settings = resolveSettings(options)
      const spentMs = Math.max(0, options?.spentMs ?? 0)
      const started = performance.now()
      // serialised here, once it is this call's turn: a value that cannot be (a cycle) is the
      // caller's defect
      const globalsJson = serializeGlobals(globals)
      const serializeMs = performance.now() - started
      const budgetMs = settings.timeoutMs - spentMs - serializeMs
      if (budgetMs <= 0) {
        const message = inputTimeoutMessage(settings.timeoutMs, spentMs + serializeMs)
        return Effect.fail(new SandboxError({ reason: "Timeout", message, output: [] }))
      }
      return Effect.flatMap(pool.run({ code, globalsJson, settings, budgetMs }), (answer) =>
        resultOf(answer, serializeMs)
      )
    })
  )
