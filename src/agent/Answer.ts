/**
 * The built-in `answer` tool: the model gives the run's structured result with it
 * (`RunResult.value`). It belongs to the run, not to the data, so it lives beside the loop;
 * `Agent.answer` is its public name.
 *
 * A typed answer (`Agent.make({ answer: schema })`, or one ask's `answer` option) makes the tool
 * take that schema: an object schema is the tool's input itself, any other is wrapped as
 * `{ value }`. The model's input is decoded with it (an Effect Schema from its JSON form, a
 * Standard Schema with its own `validate`); a value that does not decode goes back to the model
 * as an error result, and after `answerRetries` such results (default 2) the next invalid answer
 * fails the run with {@link InvalidAnswer}. A run that ends without an answer is reminded to give
 * one, counted the same way.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "data-harness"
 * const agent = yield* Agent.make({ answer: Schema.Struct({ total: Schema.Number }) })
 * const result = yield* agent.runResult("What is the total revenue?")
 * result.value?.total // number
 * ```
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { InvalidOptions, Partial } from "../core/HarnessError.js"
import * as Tool from "../tools/Tool.js"
import { makeTool } from "./standardSchema.js"
import { type InferOutput, isStandardSchema, type JsonSchema, type StandardSchemaV1 } from "./standardSchemaSpec.js"

/**
 * The answer tool's name; snapshots of a stream can read a partial answer from its input.
 * @since 0.2.0
 */
export const name = "answer"

const DESCRIPTION =
  "Give the final answer as a value (a number, string, list or object). " +
  "Call it once you have the result; it becomes the run's structured answer. " +
  "Name the data handles it came from in sources."

const SOURCES_DESCRIPTION =
  "The names of the data handles (tables, saved results) this answer came from, as list_variables shows them."

/** The optional `sources` parameter of the answer tool. */
const Sources = Schema.optionalKey(Schema.Array(Schema.String).annotate({ description: SOURCES_DESCRIPTION }))

/**
 * Records the answer with its sources: each must name a handle of the session (compared ignoring
 * case, kept as the handle's own name); an unknown name is an error result and nothing is recorded.
 */
const recordWithSources = (context: Tool.Context, value: unknown, sources: ReadonlyArray<string> | undefined) =>
  sources === undefined
    ? record(context, value)
    : Effect.flatMap(
        Effect.forEach(sources, (source) =>
          Effect.map(context.data.get(source), (handle) => [source, handle] as const)
        ),
        (found) => {
          const missing = found.filter(([, handle]) => handle === undefined).map(([source]) => source)
          if (missing.length > 0) {
            return Effect.fail(
              `No data handle named ${missing.map((m) => JSON.stringify(m)).join(", ")}: sources must name handles ` +
                "that list_variables shows. The answer was not recorded; call answer again."
            )
          }
          const names = [...new Set(found.map(([, handle]) => handle!.name))]
          return Effect.as(context.setAnswer(value, names), "Answer recorded.")
        }
      )

const TYPED_DESCRIPTION =
  "Give the final answer, as its input schema describes. Call it once you have the result; " +
  "it becomes the run's structured answer. An answer that does not match the schema is refused with the reason; call it again with a corrected one."

/**
 * `answer`: sets the run's structured result (`RunResult.value`) to the given value.
 * @since 0.2.0
 */
export const answer: Tool.Tool = Tool.make(name, {
  description: DESCRIPTION,
  parameters: Schema.Struct({ value: Schema.Unknown, sources: Sources }),
  handler: ({ value, sources }, context) => recordWithSources(context, value, sources)
})

/**
 * A schema a typed answer can have: an Effect Schema (decoded from its JSON form, its JSON Schema
 * derived as for tools), or any Standard Schema (Zod, Valibot, ...) that gives a JSON Schema
 * (`~standard.jsonSchema`; else pass one with {@link withJsonSchema}).
 * @since 0.2.0
 */
export type AnswerSchema =
  | (Schema.Top & { readonly DecodingServices: never })
  | StandardSchemaV1
  | WithJsonSchema<StandardSchemaV1>

/**
 * A Standard Schema with the JSON Schema to send for it.
 * @since 0.2.0
 */
export interface WithJsonSchema<S extends StandardSchemaV1> {
  readonly schema: S
  readonly jsonSchema: JsonSchema
}

/**
 * A Standard Schema paired with the JSON Schema the model is sent for it, for a schema library
 * that gives none itself.
 *
 * @example
 * ```ts
 * import * as v from "valibot"
 * import { toJsonSchema } from "@valibot/to-json-schema"
 * const Total = v.object({ total: v.number() })
 * Agent.make({ answer: Answer.withJsonSchema(Total, toJsonSchema(Total)) })
 * ```
 * @since 0.2.0
 */
export const withJsonSchema = <S extends StandardSchemaV1>(schema: S, jsonSchema: JsonSchema): WithJsonSchema<S> => ({
  schema,
  jsonSchema
})

/**
 * The value type of an answer schema.
 * @since 0.2.0
 */
export type Type<S> = S extends Schema.Top
  ? S["Type"]
  : S extends WithJsonSchema<infer T>
    ? InferOutput<T>
    : InferOutput<S>

/**
 * The model's answer did not match the answer schema after every retry, or the model ended the
 * run without giving one (`reason: "missing"`). `issue` is what the last refusal said; the
 * history holds every attempt. Not retryable as it is: loosen the schema, raise
 * `answerRetries`, or say in the prompt what the answer must hold.
 * @since 0.2.0
 */
export class InvalidAnswer extends Schema.TaggedError<InvalidAnswer>()("InvalidAnswer", {
  reason: Schema.Literals(["invalid", "missing"]),
  attempts: Schema.Number,
  issue: Schema.String,
  message: Schema.String,
  partial: Partial
}) {
  /** Never retryable as it is. */
  get isRetryable(): boolean {
    return false
  }
}

const record = (context: Tool.Context, value: unknown) => Effect.as(context.setAnswer(value), "Answer recorded.")

const wrapped = (schema: JsonSchema): JsonSchema => {
  const { $defs, ...rest } = schema as Record<string, unknown>
  const out: Record<string, unknown> = {
    type: "object",
    properties: {
      value: rest,
      sources: { type: "array", items: { type: "string" }, description: SOURCES_DESCRIPTION }
    },
    required: ["value"],
    additionalProperties: false
  }
  if ($defs !== undefined) out.$defs = $defs
  return out
}

/** The typed tool of an Effect Schema: the schema itself when it is an object, else `{ value }`. */
const ofEffectSchema = (schema: Schema.Top & { readonly DecodingServices: never }): Tool.Tool => {
  const document = Schema.toJsonSchemaDocument(schema)
  if (document.schema.type === "object") {
    return Tool.make(name, {
      description: TYPED_DESCRIPTION,
      parameters: schema,
      handler: (value, c) => record(c, value)
    })
  }
  return Tool.make(name, {
    description: TYPED_DESCRIPTION,
    parameters: Schema.Struct({ value: schema, sources: Sources }),
    handler: ({ value, sources }, context) => recordWithSources(context, value, sources)
  })
}

/** The typed tool of a Standard Schema (with its JSON Schema), wrapped as `{ value }` unless an object. */
const ofStandardSchema = (schema: StandardSchemaV1, jsonSchema: JsonSchema | undefined): Tool.Tool => {
  const direct = makeTool(name, {
    description: TYPED_DESCRIPTION,
    parameters: schema,
    jsonSchema,
    handler: (value, context) => record(context, value)
  })
  if (direct.invalidOptions === undefined || direct.invalidOptions.option !== `${name}.parameters`) return direct
  // not an object: `{ value }` around it, validated by the schema itself
  const valueSchema: StandardSchemaV1<
    unknown,
    { readonly value: unknown; readonly sources?: ReadonlyArray<string> | undefined }
  > = {
    "~standard": {
      version: 1,
      vendor: schema["~standard"].vendor,
      validate: async (input) => {
        if (typeof input !== "object" || input === null || !("value" in input)) {
          return { issues: [{ message: "Missing key", path: ["value"] }] }
        }
        const sources = (input as { sources?: unknown }).sources
        if (sources !== undefined && !(Array.isArray(sources) && sources.every((s) => typeof s === "string"))) {
          return { issues: [{ message: "Expected an array of handle names", path: ["sources"] }] }
        }
        const result = await schema["~standard"].validate((input as { value: unknown }).value)
        return result.issues === undefined
          ? { value: { value: result.value, sources: sources as ReadonlyArray<string> | undefined } }
          : { issues: result.issues.map((issue) => ({ ...issue, path: ["value", ...(issue.path ?? [])] })) }
      }
    }
  }
  return makeTool(name, {
    description: TYPED_DESCRIPTION,
    parameters: valueSchema,
    jsonSchema: wrapped(direct.inputSchema),
    handler: ({ value, sources }, context) => recordWithSources(context, value, sources)
  })
}

const cache = new WeakMap<object, Tool.Any>()

/**
 * The `answer` tool typed by `schema`, made once per schema; a schema that is neither an Effect
 * Schema nor a Standard Schema, or gives no JSON Schema, is an `InvalidOptions`.
 * @internal
 */
export const typed = (schema: AnswerSchema): Tool.Any | InvalidOptions => {
  const key = schema as object
  const made = cache.get(key)
  if (made !== undefined) return made
  const tool = Schema.isSchema(schema)
    ? ofEffectSchema(schema as Schema.Top & { readonly DecodingServices: never })
    : isStandardSchema(schema)
      ? ofStandardSchema(schema, undefined)
      : typeof schema === "object" && schema !== null && isStandardSchema((schema as WithJsonSchema<never>).schema)
        ? ofStandardSchema(
            (schema as WithJsonSchema<StandardSchemaV1>).schema,
            (schema as WithJsonSchema<never>).jsonSchema
          )
        : undefined
  if (tool === undefined) {
    return new InvalidOptions({
      option: "answer",
      message:
        "answer must be an Effect Schema or a Standard Schema (Zod, Valibot, ...), optionally as Answer.withJsonSchema(schema, jsonSchema)."
    })
  }
  if (tool.invalidOptions !== undefined) {
    return new InvalidOptions({ option: "answer", message: tool.invalidOptions.message })
  }
  // its handler needs no services
  const any = tool as unknown as Tool.Any
  cache.set(key, any)
  return any
}
