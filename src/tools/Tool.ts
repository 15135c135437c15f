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
import { Cause, Duration, Effect, Exit, Option, Schema, SchemaAST } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import { stringify } from "../core/jsonValue.js"
import { resolveDuration } from "../core/options.js"
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
  /**
   * Sets the run's structured answer (`RunResult.value`), with the names of the handles it came
   * from (`RunResult.sources`), when given.
   */
  readonly setAnswer: (value: unknown, sources?: ReadonlyArray<string>) => Effect.Effect<void>
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
  /**
   * The first invalid option the tool was made with (a `timeout` that is not a duration, a limit
   * that is not a number): {@link validate} reports it, and every call answers with it.
   */
  readonly invalidOptions?: InvalidOptions | undefined
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
    return stringify(value) ?? String(value)
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

// input: the JSON the model writes

const FINITE_CHECKS = new Set(["effect/schema/isFinite", "effect/schema/isInt"])

/** Whether checks already make a number finite (so its JSON form is a plain JSON number). */
const isFiniteChecked = (checks: ReadonlyArray<unknown> | undefined): boolean =>
  checks?.some((check) => {
    const c = check as { readonly annotations?: { readonly representation?: { readonly id?: string } } }
    const group = check as { readonly _tag?: string; readonly checks?: ReadonlyArray<unknown> }
    return (
      FINITE_CHECKS.has(c.annotations?.representation?.id ?? "") ||
      (group._tag === "FilterGroup" && isFiniteChecked(group.checks))
    )
  }) ?? false

const finite = Schema.isFinite()
const rewritten = new WeakMap<SchemaAST.AST, SchemaAST.AST>()

/**
 * The AST with every number a finite number: the JSON codec of a plain `Schema.Number` also
 * accepts the strings "NaN", "Infinity" and "-Infinity" (and advertises them in the JSON Schema),
 * which a model writing JSON means as text, not as numbers. Objects, arrays, unions, recursive
 * schemas and encodings are rewritten through; declarations (`Schema.Date`, …) keep their own
 * JSON forms.
 */
const jsonNumbers = (ast: SchemaAST.AST): SchemaAST.AST => {
  const cached = rewritten.get(ast)
  if (cached !== undefined) return cached
  const encoding = ast.encoding?.map(
    (link) => new SchemaAST.Link(jsonNumbers(link.to), link.transformation)
  ) as SchemaAST.AST["encoding"]
  let out: SchemaAST.AST
  switch (ast._tag) {
    case "Number":
      out = isFiniteChecked(ast.checks)
        ? ast
        : new SchemaAST.Number(
            ast.annotations,
            [...(ast.checks ?? []), finite] as SchemaAST.Checks,
            encoding,
            ast.context
          )
      break
    case "Arrays":
      out = new SchemaAST.Arrays(
        ast.isMutable,
        ast.elements.map(jsonNumbers),
        ast.rest.map(jsonNumbers),
        ast.annotations,
        ast.checks,
        encoding,
        ast.context,
        ast.encodingChecks
      )
      break
    case "Objects":
      out = new SchemaAST.Objects(
        ast.propertySignatures.map((p) => new SchemaAST.PropertySignature(p.name, jsonNumbers(p.type))),
        ast.indexSignatures.map((i) => new SchemaAST.IndexSignature(i.parameter, jsonNumbers(i.type))),
        ast.annotations,
        ast.checks,
        encoding,
        ast.context,
        ast.encodingChecks
      )
      break
    case "Union":
      out = new SchemaAST.Union(
        ast.types.map(jsonNumbers),
        ast.options,
        ast.annotations,
        ast.checks,
        encoding,
        ast.context,
        ast.encodingChecks
      )
      break
    case "Suspend": {
      const thunk = ast.thunk
      out = new SchemaAST.Suspend(() => jsonNumbers(thunk()), ast.annotations, ast.checks, encoding, ast.context)
      break
    }
    default:
      out = ast
  }
  rewritten.set(ast, out)
  return out
}

/**
 * The JSON Schema the model is sent and the decoder of its input, both from the JSON form of
 * `parameters` with numbers as JSON numbers and no properties beyond the declared ones (objects
 * without index signatures get `additionalProperties: false`). A decode failure names every wrong
 * field by its path.
 */
const inputCodec = <S extends Schema.Top & { readonly DecodingServices: never }>(parameters: S) => {
  let json: S = parameters
  try {
    json = Schema.make<S>(jsonNumbers(parameters.ast))
  } catch {
    // an AST this rewrite does not know: keep Effect's own JSON form
  }
  const document = Schema.toJsonSchemaDocument(json, { onExcessProperty: "error" })
  const inputSchema: Record<string, unknown> = { ...document.schema }
  if (Object.keys(document.definitions).length > 0) inputSchema.$defs = document.definitions
  if (inputSchema.type === undefined && inputSchema.$ref === undefined) inputSchema.type = "object"
  // The model writes JSON, and the JSON Schema it sees describes the JSON form of `parameters`
  // (a Date is an ISO string), so its input is decoded from that same JSON form.
  const decode = Schema.decodeUnknownEffect(Schema.toCodecJson(json), { onExcessProperty: "error", errors: "all" })
  return { inputSchema, decode }
}

// running a call

/** What the model reads of a finished call: its value, or why it failed. */
const outcomeOf = <A, E>(
  name: string,
  timeout: Duration.Duration | undefined,
  exit: Exit.Exit<Option.Option<A>, E>
): Outcome => {
  if (Exit.isSuccess(exit)) {
    return Option.isSome(exit.value)
      ? { content: formatValue(exit.value.value), isError: false }
      : { content: `Tool "${name}" timed out after ${Duration.format(timeout!)} and was stopped.`, isError: true }
  }
  // reached only when the handler interrupted itself (an interruption from outside stops the run
  // before this point): the model is told, and the run goes on
  if (Cause.hasInterruptsOnly(exit.cause)) {
    return { content: `Tool "${name}" was interrupted before it finished.`, isError: true }
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure))
    return { content: `Tool "${name}" failed: ${describeError(failure.value)}`, isError: true }
  return { content: `Tool "${name}" crashed: ${describeError(Cause.squash(exit.cause))}`, isError: true }
}

// constructors

/**
 * Declares a tool.
 *
 * - `parameters`: an Effect Schema of the input (a `Schema.Struct` for an object); the JSON Schema
 *   sent to the model is derived from it, and the model's input is decoded from its JSON form
 *   (e.g. a `Schema.Date` field arrives as an ISO string and reaches the handler as a `Date`).
 *   Model input is JSON: a number field takes a JSON number (not `"2"`, `"NaN"` or `"Infinity"`),
 *   and a property the schema does not declare is refused (`additionalProperties: false`) unless
 *   the schema has an index signature (`Schema.Record`). A wrong field is named by its path.
 * - `handler`: receives the decoded input and a {@link Context}; returns an Effect (or a plain
 *   value). Its success becomes the tool result; its failure an `is_error` result with the error's
 *   message.
 * - `visible`: `false` hides the tool until another tool reveals it.
 * - `timeout`: a limit for one call; past it the call is interrupted and the model is told. A
 *   value that is not a non-negative duration does not throw: it is recorded as the tool's
 *   `invalidOptions` (see {@link validate}), and calls answer with it.
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
  const { inputSchema, decode } = inputCodec(options.parameters)
  const resolved = options.timeout === undefined ? undefined : resolveDuration(`${name}.timeout`, options.timeout)
  const timeout = resolved instanceof InvalidOptions ? undefined : resolved

  const runHandler = (params: S["Type"], context: Context): Effect.Effect<Outcome, never, R> => {
    const run = Effect.suspend(() => {
      const result = options.handler(params, context)
      return Effect.isEffect(result) ? (result as Effect.Effect<A, E, R>) : Effect.succeed(result as A)
    })
    const bounded = timeout === undefined ? Effect.map(run, Option.some) : Effect.timeoutOption(run, timeout)
    return Effect.map(Effect.exit(bounded), (exit) => outcomeOf(name, timeout, exit))
  }

  const call = (input: unknown, context: Context): Effect.Effect<Outcome, never, R> =>
    decode(input ?? {}).pipe(
      Effect.matchEffect({
        onFailure: (issue) =>
          Effect.succeed<Outcome>({
            content: `Invalid input for tool "${name}": ${issue.message}\nCall it again with input that matches its schema.`,
            isError: true
          }),
        onSuccess: (params) => runHandler(params, context)
      })
    )

  const tool: Tool<R> = {
    name,
    description: options.description,
    inputSchema,
    visible: options.visible ?? true,
    timeout,
    call
  }
  return resolved instanceof InvalidOptions ? withInvalidOptions(tool, resolved) : tool
}

/**
 * The tool with an invalid option recorded: {@link validate} reports it, and every call answers
 * with it (an `is_error` result) instead of running.
 * @since 0.1.0
 */
export const withInvalidOptions = <R>(tool: Tool<R>, invalid: InvalidOptions): Tool<R> => ({
  ...tool,
  invalidOptions: invalid,
  call: () =>
    Effect.succeed({
      content: `Tool "${tool.name}" cannot run: it was made with an invalid option. ${invalid.message}`,
      isError: true
    })
})

/**
 * The first invalid option of any of the tools, as the `InvalidOptions` to fail with (what
 * `Agent.make` does with its tools), or `undefined` when every tool is valid.
 *
 * @example
 * ```ts
 * const bad = Tool.make("slow", { description: "…", parameters: Schema.Struct({}), timeout: "abc", handler: () => 1 })
 * Tool.validate([bad]) // InvalidOptions { option: "slow.timeout", message: 'slow.timeout is not a duration ("abc"); …' }
 * ```
 * @since 0.1.0
 */
export const validate = (tools: Validatable | ReadonlyArray<Validatable>): InvalidOptions | undefined => {
  for (const tool of Array.isArray(tools) ? tools : [tools as Validatable]) {
    if (tool.invalidOptions !== undefined) return tool.invalidOptions
  }
  return undefined
}

/**
 * What {@link validate} reads of a tool (any tool, whatever its context `R`).
 * @since 0.1.0
 */
export interface Validatable {
  readonly invalidOptions?: InvalidOptions | undefined
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
