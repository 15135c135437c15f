/**
 * Tools and typed answers from any Standard Schema (`~standard`: Zod 4, Valibot, ArkType, Effect
 * Schema through `Schema.toStandardSchemaV1`), for callers that do not write Effect Schemas.
 *
 * Input is validated with the schema's own `~standard.validate`. The JSON Schema the model is sent
 * comes, in this order, from an explicit `jsonSchema`, or from the schema's Standard JSON Schema
 * (`~standard.jsonSchema.input`, which Zod 4.2+, Effect's `Schema.toStandardJSONSchemaV1` and
 * Valibot's `toStandardJsonSchema` (`@valibot/to-json-schema`) provide); a schema that gives none
 * and no `jsonSchema` is an `InvalidOptions`. (An Effect Schema itself is better given as it is:
 * `Tool.make` derives its JSON Schema with numbers as JSON numbers, which Effect's Standard JSON
 * Schema does not.)
 *
 * The types of the spec are vendored in `standardSchemaSpec.ts` as the spec asks, so nothing here
 * needs a schema library.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit, Option } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import { describe } from "../core/options.js"
import * as Tool from "../tools/Tool.js"
import type { JsonSchema, StandardSchemaV1 } from "./standardSchemaSpec.js"

export {
  type InferOutput,
  isStandardSchema,
  type JsonSchema,
  type StandardResult,
  type StandardSchemaV1
} from "./standardSchemaSpec.js"

/** The JSON Schema without the `$schema` dialect marker (providers take the schema itself). */
const withoutDialect = (schema: Record<string, unknown>): JsonSchema => {
  const { $schema: _, ...rest } = schema
  return rest
}

/**
 * The JSON Schema of a Standard Schema's input: `explicit` when given, else the schema's
 * Standard JSON Schema (draft 2020-12, else draft-07), else the `InvalidOptions` that says what
 * to pass.
 */
export const jsonSchemaOf = (
  option: string,
  schema: StandardSchemaV1,
  explicit: JsonSchema | undefined
): JsonSchema | InvalidOptions => {
  if (explicit !== undefined) {
    return typeof explicit === "object" && explicit !== null && !Array.isArray(explicit)
      ? withoutDialect(explicit as Record<string, unknown>)
      : new InvalidOptions({ option, message: `${option}.jsonSchema must be a JSON Schema object.` })
  }
  const converter = schema["~standard"].jsonSchema
  const vendor = schema["~standard"].vendor
  if (converter !== undefined) {
    let first: unknown
    for (const target of ["draft-2020-12", "draft-07"]) {
      try {
        return withoutDialect(converter.input({ target }))
      } catch (error) {
        first ??= error
      }
    }
    return new InvalidOptions({
      option,
      message: `The ${vendor} schema of ${option} cannot be turned into a JSON Schema (${first instanceof Error ? first.message : String(first)}); pass jsonSchema.`
    })
  }
  return new InvalidOptions({
    option,
    message:
      `The ${vendor} schema of ${option} gives no JSON Schema (no ~standard.jsonSchema); pass jsonSchema ` +
      `(for Valibot: toStandardJsonSchema(schema) or toJsonSchema(schema) from @valibot/to-json-schema).`
  })
}

const pathOf = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  path === undefined || path.length === 0
    ? ""
    : ` at ${path
        .map((segment) => JSON.stringify(String(typeof segment === "object" ? segment.key : segment)))
        .map((key) => `[${key}]`)
        .join("")}`

/**
 * Validates `value` with a Standard Schema: its output, or its issues as one message (each with
 * its path).
 */
export const validate = <O>(schema: StandardSchemaV1<unknown, O>, value: unknown): Effect.Effect<O, string> =>
  Effect.flatMap(
    Effect.tryPromise({
      try: async () => schema["~standard"].validate(value),
      catch: (error) => `the schema failed while validating: ${error instanceof Error ? error.message : String(error)}`
    }),
    (result) =>
      result.issues === undefined
        ? Effect.succeed(result.value)
        : Effect.fail(result.issues.map((issue) => `${issue.message}${pathOf(issue.path)}`).join("\n"))
  )

const describeError = (error: unknown): string => {
  if (typeof error === "string") return error
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return Tool.formatValue(error)
}

/** What the model reads of a finished call (as `Tool.make` words it). */
const outcomeOf = (
  name: string,
  timeout: Duration.Duration | undefined,
  exit: Exit.Exit<Option.Option<unknown>, unknown>
): Tool.Outcome => {
  if (Exit.isSuccess(exit)) {
    return Option.isSome(exit.value)
      ? { content: Tool.formatValue(exit.value.value), isError: false }
      : { content: `Tool "${name}" timed out after ${Duration.format(timeout!)} and was stopped.`, isError: true }
  }
  if (Cause.hasInterruptsOnly(exit.cause)) {
    return { content: `Tool "${name}" was interrupted before it finished.`, isError: true }
  }
  const failure = Cause.findErrorOption(exit.cause)
  return Option.isSome(failure)
    ? { content: `Tool "${name}" failed: ${describeError(failure.value)}`, isError: true }
    : { content: `Tool "${name}" crashed: ${describeError(Cause.squash(exit.cause))}`, isError: true }
}

/**
 * Options of {@link makeTool}.
 */
export interface ToolOptions<O, R> {
  readonly description: string
  readonly parameters: StandardSchemaV1<unknown, O>
  /** The JSON Schema sent to the model, when the schema gives none (or to override it). */
  readonly jsonSchema?: JsonSchema | undefined
  readonly handler: (input: O, context: Tool.Context) => Effect.Effect<unknown, unknown, R>
  readonly visible?: boolean | undefined
  readonly timeout?: Duration.Duration | undefined
}

/**
 * A tool whose input is a Standard Schema. An input schema that gives no JSON Schema, or one
 * that does not describe an object, makes a tool with `invalidOptions` (`Agent.make` fails with it).
 */
export const makeTool = <O, R>(name: string, options: ToolOptions<O, R>): Tool.Tool<R> => {
  const inputSchema = jsonSchemaOf(name, options.parameters, options.jsonSchema)
  const timeout = options.timeout
  const call = (input: unknown, context: Tool.Context): Effect.Effect<Tool.Outcome, never, R> =>
    Effect.matchEffect(validate(options.parameters, input ?? {}), {
      onFailure: (issues) =>
        Effect.succeed<Tool.Outcome>({
          content: `Invalid input for tool "${name}": ${issues}\nCall it again with input that matches its schema.`,
          isError: true
        }),
      onSuccess: (params) => {
        const run = Effect.suspend(() => options.handler(params, context))
        const bounded = timeout === undefined ? Effect.map(run, Option.some) : Effect.timeoutOption(run, timeout)
        return Effect.map(Effect.exit(bounded), (exit) => outcomeOf(name, timeout, exit))
      }
    })
  const tool: Tool.Tool<R> = {
    name,
    description: options.description,
    inputSchema: inputSchema instanceof InvalidOptions ? { type: "object" } : inputSchema,
    visible: options.visible ?? true,
    timeout,
    call
  }
  if (inputSchema instanceof InvalidOptions) return Tool.withInvalidOptions(tool, inputSchema)
  if (inputSchema.type !== "object") {
    return Tool.withInvalidOptions(
      tool,
      new InvalidOptions({
        option: `${name}.parameters`,
        message: `The parameters of tool "${name}" must describe an object (its JSON Schema has type ${describe(inputSchema.type)}); wrap the value in an object.`
      })
    )
  }
  return tool
}
