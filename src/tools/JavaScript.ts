/**
 * The `javascript` tool: model-written code run in a QuickJS (WebAssembly) sandbox, with the
 * session's handles in scope as plain data.
 *
 * The sandbox has no host globals, modules, file system, network, timers or `process`; each call
 * gets fresh locals and stops at a time and a memory limit. The handles the code mentions are
 * global variables holding their data (tables as arrays of records; files and saved results are
 * read through DuckDB first); handles it does not mention are not loaded, so a call stays cheap
 * however much data the session holds. `save(name, value)` stores a value as a new handle (the
 * model is told the name it got; its lineage is the code and the handles the code mentions, as
 * the versions read), `answer(value)` sets the run's `RunResult.value`, and the
 * result the model reads is the printed output and the value of the last expression.
 *
 * One call is bounded on the host too: its time limit counts reading the handles, moving them in,
 * running the code and saving what it saved; it may save at most `maxSaves` handles and
 * `maxSaveBytes` bytes (past either, it fails and nothing it saved is kept); and its result is at
 * most `maxOutputBytes` of output, `maxResultChars` of value and `maxResultChars` of saved-handle
 * list (a long list is summarised), plus a few hundred characters of labels and hints.
 *
 * Errors (a syntax error, a thrown exception, a timeout, running out of memory, an escape attempt,
 * a save past a bound) come back as `is_error` results with the message and whatever was printed
 * before; the host is unaffected.
 *
 * The code runs on a thread of a {@link SandboxPool}: the one provided with {@link layerPool}
 * where the agent is built and used, else a process-wide default pool whose idle threads are
 * `unref`'d and terminated after 30 s without a call (see `SandboxPool`).
 *
 * @example
 * ```ts
 * import { Agent, JavaScript } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: [JavaScript.javascript] })
 * ```
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import type * as Data from "../data/Data.js"
import { DEFAULT_MAX_SAVE_BYTES, DEFAULT_MAX_SAVES, MiB } from "../sandbox/limits.js"
import { ThreadPool } from "../sandbox/pool.js"
import * as SandboxPoolModule from "../sandbox/SandboxPool.js"
import * as Sandbox from "../sandbox/sandbox.js"
import * as Tool from "./Tool.js"

// options

/**
 * Options of {@link make}.
 * @since 0.1.0
 */
export interface Options {
  /**
   * Time limit of one call, in milliseconds (default 5,000). Reading the handles the code
   * mentions, moving them into the sandbox, running the code and saving what it saved all count;
   * waiting for a free sandbox thread and loading the engine do not.
   */
  readonly timeoutMs?: number | undefined
  /** Heap of one call, in bytes (default 128 MiB); handle data counts against it. */
  readonly memoryBytes?: number | undefined
  /** Cap on printed output, in bytes (default 16 KiB). */
  readonly maxOutputBytes?: number | undefined
  /**
   * Cap on the shown value of the last expression, in characters of JSON (default 8,000); the
   * list of saved handles has a cap of the same size (a long one is summarised).
   */
  readonly maxResultChars?: number | undefined
  /**
   * Most handles one call may save (distinct names; default 100). A call that saves more fails
   * with an error result that names the bound, and nothing it saved is kept.
   */
  readonly maxSaves?: number | undefined
  /**
   * Most bytes of JSON the values one call saves may add up to (default 16 MiB). Past it, the
   * call fails as for `maxSaves`.
   */
  readonly maxSaveBytes?: number | undefined
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_MEMORY_BYTES = 128 * MiB
const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024
const DEFAULT_MAX_RESULT_CHARS = 8_000
/** Saved handles listed one per line with their snapshot; the rest are named in one line. */
const LISTED_SAVES = 20
/** Cap on one listed handle's line (a table of 1,000 columns has a long summary). */
const MAX_SAVED_LINE_CHARS = 300

// the pool

/**
 * The sandbox thread pool the `javascript` tool runs code on; see `SandboxPool` for its lifecycle.
 * @since 0.1.0
 */
export const SandboxPool = SandboxPoolModule.SandboxPool

/**
 * The sandbox thread pool the `javascript` tool runs code on.
 * @since 0.1.0
 */
export type SandboxPool = SandboxPoolModule.SandboxPool

/**
 * Options of {@link layerPool}.
 * @since 0.1.0
 */
export type PoolOptions = SandboxPoolModule.Options

/**
 * A {@link SandboxPool} for as long as the layer lives: building it starts no thread; closing
 * its scope terminates every thread of the pool and waits until they have exited. Provide it
 * around everything that uses the agent (the tool finds it in the context `Agent.make` captured).
 * Fails with `InvalidOptions` when `threads` is not a whole number of at least 1, or
 * `idleTimeoutMs` not a number of milliseconds.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function* () {
 *   const agent = yield* Agent.make({})
 *   return yield* agent.run("Sum the sales.")
 * }).pipe(Effect.provide(JavaScript.layerPool({ threads: 2 })))
 * ```
 * @since 0.1.0
 */
export const layerPool = SandboxPoolModule.layer

/** The pool provided in context, if any; the default pool otherwise (`undefined`). */
const providedPool: Effect.Effect<ThreadPool | undefined> = Effect.flatMap(
  Effect.serviceOption(SandboxPoolModule.SandboxPool),
  (pool) => {
    if (Option.isNone(pool)) return Effect.succeed(undefined)
    if (pool.value instanceof ThreadPool) return Effect.succeed(pool.value)
    return Effect.die(new Error("a SandboxPool service must be built with JavaScript.layerPool"))
  }
)

// helpers

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/g

/** Every identifier-like word of the code (a superset of the names it uses; strings and comments included). */
const identifiersOf = (code: string): ReadonlySet<string> => new Set(code.match(IDENTIFIER) ?? [])

/** The data of every handle the code mentions, by name, and those handles (the versions read). */
const readMentioned = (store: Data.Store, code: string) =>
  Effect.gen(function* () {
    const words = identifiersOf(code)
    const globals: Record<string, unknown> = {}
    const read: Array<Data.Handle> = []
    for (const handle of yield* store.list) {
      if (!words.has(handle.name)) continue
      globals[handle.name] = yield* store.read(handle)
      read.push(handle)
    }
    return { globals, read }
  })

const article = (word: string): string => (/^[aeiou]/i.test(word) ? "an" : "a")

const summary = (handle: Data.Handle): string => {
  const snapshot = handle.snapshot
  switch (snapshot.kind) {
    case "table":
      return `a table of ${snapshot.rows} rows; columns ${snapshot.columns.map((c) => `${c.name} (${c.type})`).join(", ")}`
    case "array":
      return `an array of ${snapshot.length} items`
    case "object":
      return `an object with keys ${snapshot.keys.slice(0, 20).join(", ")}${snapshot.keys.length > 20 ? ", …" : ""}`
    case "scalar":
      return `${article(snapshot.type)} ${snapshot.type}: ${JSON.stringify(snapshot.value)}`
  }
}

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/** The value of the last expression as the model reads it: JSON (strings quoted), cut at `max` characters. */
const showValue = (value: unknown, max: number): string => {
  const json = typeof value === "string" ? JSON.stringify(value) : Tool.formatValue(value)
  if (json.length <= max) return json
  return (
    `${json.slice(0, max)}…\n(cut: the value is ${json.length} characters of JSON. Return a summary, ` +
    "or keep large values with save(name, value).)"
  )
}

const withOutput = (error: Sandbox.SandboxError): Sandbox.SandboxError =>
  error.output.length === 0
    ? error
    : new Sandbox.SandboxError({
        reason: error.reason,
        output: error.output,
        message: `${error.message}\nPrinted before the error:\n${error.output.join("\n")}`
      })

// saving

/** One saved value as the model reads it: a line, and the handle name it concerns. */
interface SavedLine {
  readonly name: string
  readonly line: string
}

/**
 * Stores each saved value as a handle, checking the call's deadline (`performance.now()` time)
 * before each. Past it, or if the call is interrupted or fails, every handle this call stored is
 * removed again, so nothing is half-saved.
 */
const saveAll = (
  store: Data.Store,
  saved: Sandbox.SandboxResult["saved"],
  source: Data.Source,
  deadline: number,
  timeoutMs: number
): Effect.Effect<ReadonlyArray<SavedLine>, Sandbox.SandboxError> => {
  const stored: Array<string> = []
  const save = Effect.gen(function* () {
    const lines: Array<SavedLine> = []
    for (const { name, value } of saved) {
      if (performance.now() > deadline) {
        return yield* new Sandbox.SandboxError({
          reason: "Timeout",
          output: [],
          message:
            `Saving the ${saved.length} values the code saved did not finish within the call's ${timeoutMs} ms limit, ` +
            "so nothing was saved. Save fewer, larger values (one array or object instead of many), or do less work in the same call."
        })
      }
      const result = yield* Effect.result(store.put(name, value, { source }))
      if (result._tag === "Failure") {
        lines.push({ name, line: `Not saved "${name}": ${result.failure.message}` })
        continue
      }
      stored.push(result.success)
      const handle = yield* store.get(result.success)
      const renamed = result.success === name ? "" : ` (the name "${name}" was taken)`
      const line = `Saved as handle "${result.success}"${renamed}: ${handle === undefined ? "" : summary(handle)}.`
      lines.push({ name: result.success, line: cut(line, MAX_SAVED_LINE_CHARS) })
    }
    return lines
  })
  return Effect.onError(save, () => Effect.forEach(stored, (name) => store.remove(name), { discard: true }))
}

/**
 * The saved-handle lines within `max` characters: the first {@link LISTED_SAVES} as they are,
 * the rest named on one line (cut to fit).
 */
const savedSection = (lines: ReadonlyArray<SavedLine>, max: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  let used = 0
  let listed = 0
  // room kept for the closing line that names the rest
  const reserve = Math.min(200, Math.floor(max / 4))
  for (const { line } of lines) {
    if (listed === LISTED_SAVES || used + line.length + 1 > max - reserve) break
    out.push(line)
    used += line.length + 1
    listed++
  }
  if (listed === lines.length) return out
  const rest = lines.slice(listed).map(({ name }) => name)
  const head = `…and ${rest.length} more saved or not saved (list_variables shows the handles): `
  out.push(cut(head + rest.join(", "), Math.max(head.length + 1, max - used)))
  return out
}

// constructors

/**
 * Builds the `javascript` tool with other limits.
 *
 * @example
 * ```ts
 * const javascript = JavaScript.make({ timeoutMs: 1_000, maxSaves: 10 })
 * const agent = yield* Agent.make({ dataTools: [javascript] })
 * ```
 * @since 0.1.0
 */
export const make = (options: Options = {}): Tool.Tool => {
  const limits = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    memoryBytes: options.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxSaves: options.maxSaves ?? DEFAULT_MAX_SAVES,
    maxSaveBytes: options.maxSaveBytes ?? DEFAULT_MAX_SAVE_BYTES
  }
  const maxResultChars = options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS
  return Tool.make("javascript", {
    description:
      "Run JavaScript in a sandbox (no modules, files, network or timers; fresh variables each call; " +
      `${Math.round(limits.timeoutMs / 1000)} s and ${Math.round(limits.memoryBytes / MiB)} MiB limits). ` +
      "Every data handle is a global variable of the same name holding its data (tables are arrays of records). " +
      "console.log(...) prints; the value of the last expression is returned; save(name, value) keeps a " +
      `value as a new handle for later SQL or JavaScript (at most ${limits.maxSaves} per call: save one array ` +
      "of records rather than many values); answer(value) gives the final structured answer.",
    parameters: Schema.Struct({
      code: Schema.String.annotate({
        description: "JavaScript source. The last expression is the result, e.g. `sales.length`."
      })
    }),
    handler: ({ code }, context) =>
      Effect.gen(function* () {
        const pool = yield* providedPool
        const store = context.data
        const started = performance.now()
        const { globals, read } = yield* readMentioned(store, code)
        const spentMs = performance.now() - started
        const result = yield* Sandbox.run(code, globals, { ...limits, spentMs }, pool).pipe(Effect.mapError(withOutput))
        // the deadline of the call, with the sandbox's own waiting and engine loading excluded
        const deadline = performance.now() + (limits.timeoutMs - spentMs - result.elapsedMs)
        const source: Data.Source = { kind: "javascript", code, inputs: read, toolUseId: context.toolUseId }
        const saved = yield* saveAll(store, result.saved, source, deadline, limits.timeoutMs)

        const parts: Array<string> = []
        if (result.output.length > 0) parts.push(`Output:\n${result.output.join("\n")}`)
        if (result.value !== undefined) parts.push(`Result: ${showValue(result.value, maxResultChars)}`)
        parts.push(...savedSection(saved, maxResultChars))
        if (result.answer !== undefined) {
          yield* context.setAnswer(result.answer.value)
          parts.push("Answer recorded.")
        }
        return parts.length === 0 ? "(no output, and the last expression has no value)" : parts.join("\n")
      })
  })
}

/**
 * The `javascript` tool with the default limits (5 s, 128 MiB, 16 KiB of output, 100 saves and
 * 16 MiB of saved JSON per call).
 * @since 0.1.0
 */
export const javascript: Tool.Tool = make()
