/**
 * Tools the model can call.
 *
 * `Tool.make(name, { description, parameters, handler })` declares a tool whose input is an
 * Effect `Schema`: the JSON Schema sent to the provider is derived from it, and the model's input
 * is decoded with it before the handler runs. Nothing a tool does crashes a run: input that does
 * not decode, a handler that fails or dies, an unknown tool name and a tool timeout each become an
 * `is_error` tool result that the model reads and can react to.
 *
 * Only visible tools are sent to the model. A hidden tool (`visible: false`) is revealed by another
 * tool calling `context.reveal(name)` (progressive disclosure); it is sent from the next turn on.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Tool } from "data-harness"
 * const mean = Tool.make("mean", {
 *   description: "Arithmetic mean of a list of numbers.",
 *   parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
 *   handler: ({ values }) => Effect.succeed(values.reduce((a, b) => a + b, 0) / values.length)
 * })
 * ```
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Option, Schema } from "effect"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"

// models

/**
 * What a handler can do besides computing its result.
 * @since 0.1.0
 */
export interface Context {
  /** The id of the `tool_use` being answered. */
  readonly toolUseId: string
  /** Makes hidden tools visible from the next model turn on. */
  readonly reveal: (...names: ReadonlyArray<string>) => Effect.Effect<void>
  /** The session's data handles. */
  readonly data: Data.Store
  /** Sets the run's structured answer (`RunResult.value`). */
  readonly setAnswer: (value: unknown) => Effect.Effect<void>
}

/**
 * A tool. `R` is what its handler needs from the Effect context; `Agent.make` requires it.
 * @since 0.1.0
 */
export interface Tool<in out R = never> {
  readonly name: string
  readonly description: string
  /** The JSON Schema of the input, derived from `parameters`. */
  readonly inputSchema: Readonly<Record<string, unknown>>
  readonly visible: boolean
  readonly timeout: Duration.Duration | undefined
  /** Decodes the model's input and runs the handler; the content is what the model reads. */
  readonly call: (input: unknown, context: Context) => Effect.Effect<Outcome, never, R>
}

/**
 * What a tool call gives back to the model.
 * @since 0.1.0
 */
export interface Outcome {
  readonly content: string
  readonly isError: boolean
}

/**
 * Any tool.
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: variance of the context parameter
export type Any = Tool<any>

/**
 * The context a list of tools needs.
 * @since 0.1.0
 */
export type Services<T> = T extends Tool<infer R> ? R : never

// formatting

/**
 * Turns a handler's value into the text the model reads: strings as they are, everything else as
 * JSON (bigints as numbers or strings, `undefined` as "(no output)").
 * @since 0.1.0
 */
export const formatValue = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value === undefined) return "(no output)"
  try {
    return (
      JSON.stringify(value, (_key, v) =>
        typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v
      ) ?? String(value)
    )
  } catch {
    return String(value)
  }
}

const describeError = (error: unknown): string => {
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    const tag = "_tag" in error && typeof error._tag === "string" ? `${error._tag}: ` : ""
    return `${tag}${error.message}`
  }
  return formatValue(error)
}

// constructors

/**
 * Declares a tool.
 *
 * - `parameters`: an Effect Schema of the input (a `Schema.Struct` for an object); the JSON Schema
 *   sent to the model is derived from it, and the model's input is decoded from its JSON form
 *   (e.g. a `Schema.Date` field arrives as an ISO string and reaches the handler as a `Date`).
 * - `handler`: receives the decoded input and a {@link Context}; returns an Effect (or a plain
 *   value). Its success becomes the tool result; its failure an `is_error` result with the error's
 *   message.
 * - `visible`: `false` hides the tool until another tool reveals it.
 * - `timeout`: a limit for one call; past it the call is interrupted and the model is told.
 * @since 0.1.0
 */
export const make = <S extends Schema.Top & { readonly DecodingServices: never }, A, E = never, R = never>(
  name: string,
  options: {
    readonly description: string
    readonly parameters: S
    readonly handler: (params: S["Type"], context: Context) => Effect.Effect<A, E, R> | A
    readonly visible?: boolean | undefined
    readonly timeout?: Duration.Input | undefined
  }
): Tool<R> => {
  const document = Schema.toJsonSchemaDocument(options.parameters)
  const inputSchema: Record<string, unknown> = { ...document.schema }
  if (Object.keys(document.definitions).length > 0) inputSchema.$defs = document.definitions
  if (inputSchema.type === undefined && inputSchema.$ref === undefined) inputSchema.type = "object"
  // The model writes JSON, and the JSON Schema it sees describes the JSON form of `parameters`
  // (a Date is an ISO string), so its input is decoded from that same JSON form.
  const decode = Schema.decodeUnknownEffect(Schema.toCodecJson(options.parameters))
  const timeout = options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout)

  const call = (input: unknown, context: Context): Effect.Effect<Outcome, never, R> =>
    decode(input ?? {}).pipe(
      Effect.matchEffect({
        onFailure: (issue) =>
          Effect.succeed<Outcome>({
            content: `Invalid input for tool "${name}": ${issue.message}\nCall it again with input that matches its schema.`,
            isError: true
          }),
        onSuccess: (params) => {
          const run = Effect.suspend(() => {
            const result = options.handler(params, context)
            return Effect.isEffect(result) ? (result as Effect.Effect<A, E, R>) : Effect.succeed(result as A)
          })
          const bounded = timeout === undefined ? Effect.map(run, Option.some) : Effect.timeoutOption(run, timeout)
          return Effect.exit(bounded).pipe(
            Effect.flatMap((exit): Effect.Effect<Outcome> => {
              if (Exit.isSuccess(exit)) {
                return Effect.succeed(
                  Option.isSome(exit.value)
                    ? { content: formatValue(exit.value.value), isError: false }
                    : {
                        content: `Tool "${name}" timed out after ${Duration.format(timeout!)} and was stopped.`,
                        isError: true
                      }
                )
              }
              // reached only when the handler interrupted itself (an interruption from outside
              // stops the run before this point): the model is told, and the run goes on
              if (Cause.hasInterruptsOnly(exit.cause)) {
                return Effect.succeed({ content: `Tool "${name}" was interrupted before it finished.`, isError: true })
              }
              const failure = Cause.findErrorOption(exit.cause)
              if (Option.isSome(failure)) {
                return Effect.succeed({
                  content: `Tool "${name}" failed: ${describeError(failure.value)}`,
                  isError: true
                })
              }
              const defect = Cause.squash(exit.cause)
              return Effect.succeed({ content: `Tool "${name}" crashed: ${describeError(defect)}`, isError: true })
            })
          )
        }
      })
    )

  return {
    name,
    description: options.description,
    inputSchema,
    visible: options.visible ?? true,
    timeout,
    call
  }
}

/**
 * The provider's view of a tool.
 * @since 0.1.0
 */
export const definition = (tool: Any): Provider.ToolDefinition => ({
  name: tool.name,
  description: tool.description,
  input_schema: tool.inputSchema
})
