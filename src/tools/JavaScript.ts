/**
 * The `javascript` tool: model-written code run in a QuickJS (WebAssembly) sandbox, with the
 * session's handles in scope as plain data.
 *
 * The sandbox has no host globals, modules, file system, network, timers or `process`; each call
 * gets fresh locals and stops at a CPU-time and a memory limit. The handles the code mentions are
 * global variables holding their data (tables as arrays of records; files and saved results are
 * read through DuckDB first); handles it does not mention are not loaded, so a call stays cheap
 * however much data the session holds. `save(name, value)` stores a value as a new handle (the
 * model is told the name it got), `answer(value)` sets the run's `RunResult.value`, and the
 * result the model reads is the printed output and the value of the last expression.
 *
 * Errors (a syntax error, a thrown exception, a timeout, running out of memory, an escape attempt)
 * come back as `is_error` results with the message and whatever was printed before; the host is
 * unaffected.
 *
 * @example
 * ```ts
 * import { Agent, JavaScript } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: [JavaScript.javascript] })
 * ```
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type * as Data from "../data/Data.js"
import * as Sandbox from "../sandbox/sandbox.js"
import * as Tool from "./Tool.js"

// options

/**
 * Options of {@link make}.
 * @since 0.1.0
 */
export interface Options {
  /** CPU-time budget of one call, in milliseconds (default 5,000). */
  readonly timeoutMs?: number | undefined
  /** Heap of one call, in bytes (default 128 MiB); handle data counts against it. */
  readonly memoryBytes?: number | undefined
  /** Cap on printed output, in bytes (default 16 KiB). */
  readonly maxOutputBytes?: number | undefined
  /** Cap on the shown value of the last expression, in characters of JSON (default 8,000). */
  readonly maxResultChars?: number | undefined
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_MEMORY_BYTES = 128 * 1024 * 1024
const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024
const DEFAULT_MAX_RESULT_CHARS = 8_000

// helpers

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/g

/** Every identifier-like word of the code (a superset of the names it uses; strings and comments included). */
const identifiersOf = (code: string): ReadonlySet<string> => new Set(code.match(IDENTIFIER) ?? [])

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
      return `a ${snapshot.type}: ${JSON.stringify(snapshot.value)}`
  }
}

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

// constructors

/**
 * Builds the `javascript` tool with other limits.
 * @since 0.1.0
 */
export const make = (options: Options = {}): Tool.Tool => {
  const limits: Sandbox.SandboxOptions = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    memoryBytes: options.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  }
  const maxResultChars = options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS
  return Tool.make("javascript", {
    description:
      "Run JavaScript in a sandbox (no modules, files, network or timers; fresh variables each call; " +
      `${Math.round((limits.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s and ` +
      `${Math.round((limits.memoryBytes ?? DEFAULT_MEMORY_BYTES) / 2 ** 20)} MiB limits). Every data handle ` +
      "is a global variable of the same name holding its data (tables are arrays of records). " +
      "console.log(...) prints; the value of the last expression is returned; save(name, value) keeps a " +
      "value as a new handle for later SQL or JavaScript; answer(value) gives the final structured answer.",
    parameters: Schema.Struct({
      code: Schema.String.annotate({
        description: "JavaScript source. The last expression is the result, e.g. `sales.length`."
      })
    }),
    handler: ({ code }, context) =>
      Effect.gen(function* () {
        const store = context.data
        const words = identifiersOf(code)
        const globals: Record<string, unknown> = {}
        for (const handle of yield* store.list) {
          if (words.has(handle.name)) globals[handle.name] = yield* store.read(handle)
        }
        const result = yield* Sandbox.run(code, globals, limits).pipe(Effect.mapError(withOutput))

        const parts: Array<string> = []
        if (result.output.length > 0) parts.push(`Output:\n${result.output.join("\n")}`)
        if (result.value !== undefined) parts.push(`Result: ${showValue(result.value, maxResultChars)}`)
        for (const { name, value } of result.saved) {
          const saved = yield* Effect.result(store.put(name, value))
          if (saved._tag === "Failure") {
            parts.push(`Not saved "${name}": ${saved.failure.message}`)
            continue
          }
          const handle = yield* store.get(saved.success)
          const renamed = saved.success === name ? "" : ` (the name "${name}" was taken)`
          parts.push(`Saved as handle "${saved.success}"${renamed}: ${handle === undefined ? "" : summary(handle)}.`)
        }
        if (result.answer !== undefined) {
          yield* context.setAnswer(result.answer.value)
          parts.push("Answer recorded.")
        }
        return parts.length === 0 ? "(no output, and the last expression has no value)" : parts.join("\n")
      })
  })
}

/**
 * The `javascript` tool with the default limits (5 s, 128 MiB, 16 KiB of output).
 * @since 0.1.0
 */
export const javascript: Tool.Tool = make()
