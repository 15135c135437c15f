/**
 * Tools of the Promise API: a plain async function and any schema for its input, a Standard
 * Schema (Zod 4, Valibot, ArkType, ...) or an Effect Schema.
 *
 * @internal
 */
import { Duration, Effect, Option, Schema } from "effect"
import { makeTool } from "../agent/standardSchema.js"
import type { JsonSchema, StandardSchemaV1 } from "../agent/standardSchemaSpec.js"
import * as Approval from "../control/Approval.js"
import { InvalidOptions } from "../core/HarnessError.js"
import * as ToolModule from "../tools/Tool.js"

/**
 * What a tool's handler gets besides its input.
 * @since 0.2.0
 */
export interface ToolContext {
  /** The id of the `tool_use` being answered. */
  readonly toolUseId: string
  /** Aborted when the call is stopped (its timeout, or the run interrupted): stop your work then. */
  readonly signal: AbortSignal
  /** Makes hidden tools visible from the next model turn on. */
  readonly reveal: (...names: ReadonlyArray<string>) => Promise<void>
}

/**
 * A schema for a tool's input: any Standard Schema (`~standard`), or an Effect Schema.
 * @since 0.2.0
 */
export type InputSchema = StandardSchemaV1 | { readonly Type: unknown; readonly "~effect/Schema"?: unknown }

/**
 * The type a schema gives its handler.
 * @since 0.2.0
 */
export type Infer<S> =
  S extends StandardSchemaV1<infer _I, infer O> ? O : S extends { readonly Type: infer T } ? T : never

/**
 * Options of {@link tool}.
 * @since 0.2.0
 */
export interface ToolOptions<S extends InputSchema> {
  readonly name: string
  readonly description: string
  /** The input's schema; its JSON Schema is what the model is sent. */
  readonly parameters: S
  /**
   * The JSON Schema to send, for a Standard Schema that gives none (Valibot without
   * `toStandardJsonSchema`): e.g. `toJsonSchema(schema)` from `@valibot/to-json-schema`.
   */
  readonly jsonSchema?: JsonSchema | undefined
  /** Its result (any JSON-able value, or text) is what the model reads; a throw is an error result. */
  readonly handler: (input: Infer<S>, context: ToolContext) => unknown
  /** `false` hides the tool until another tool reveals it. */
  readonly visible?: boolean | undefined
  /** A limit for one call: milliseconds, or a string such as `"30 seconds"`. */
  readonly timeout?: number | string | undefined
  /**
   * Each call (or each call `when` accepts) waits for approval: the ask streams an
   * `approval_request` event and waits for `session.approve(id)` or `session.deny(id, reason)`.
   * `reason` is shown in the request.
   */
  readonly needsApproval?:
    | boolean
    | { readonly reason?: string | undefined; readonly when?: ((input: Infer<S>) => boolean) | undefined }
    | undefined
}

/**
 * A tool for `createAgent`, made by {@link tool}.
 * @since 0.2.0
 */
export interface AgentTool {
  readonly name: string
  readonly description: string
  /** The JSON Schema of its input, as the model is sent it. */
  readonly inputSchema: Readonly<Record<string, unknown>>
}

const handlerContext = (context: ToolModule.Context, signal: AbortSignal): ToolContext => ({
  toolUseId: context.toolUseId,
  signal,
  reveal: (...names) => Effect.runPromise(context.reveal(...names))
})

/** Runs the async handler; an interruption aborts its signal. */
const runHandler = <I>(options: ToolOptions<InputSchema>, input: I, context: ToolModule.Context) =>
  Effect.tryPromise({
    try: async (signal) => options.handler(input as never, handlerContext(context, signal)),
    catch: (error) => error
  })

const timeoutOf = (name: string, timeout: number | string | undefined) => {
  if (timeout === undefined) return undefined
  const duration = Duration.fromInput(timeout as Duration.Input)
  return Option.isSome(duration) && !Duration.isNegative(duration.value)
    ? duration.value
    : new InvalidOptions({
        option: `${name}.timeout`,
        message: `${name}.timeout must be milliseconds or a string like "30 seconds", not ${JSON.stringify(timeout)}.`
      })
}

/**
 * A tool from a plain async function. Its input is checked with `parameters` before the handler
 * runs; input that does not match, a handler that throws and a timeout each reach the model as
 * an error result, never a crash of the run. An invalid option (a schema with no JSON Schema, a
 * bad timeout) fails `createAgent`'s first call with `InvalidOptions`.
 *
 * @example
 * ```ts
 * import { z } from "zod"
 * import { tool } from "data-harness/promise"
 * const weather = tool({
 *   name: "weather",
 *   description: "The weather in a city.",
 *   parameters: z.object({ city: z.string() }),
 *   handler: async ({ city }, { signal }) => (await fetch(`https://wttr.in/${city}?format=3`, { signal })).text()
 * })
 * ```
 * @since 0.2.0
 */
export const tool = <S extends InputSchema>(options: ToolOptions<S>): AgentTool => {
  const name = options.name
  const timeout = timeoutOf(name, options.timeout)
  const limit = timeout instanceof InvalidOptions ? undefined : timeout
  const general = options as unknown as ToolOptions<InputSchema>
  const made = (Schema.isSchema(options.parameters)
    ? ToolModule.make(name, {
        description: options.description,
        parameters: options.parameters as unknown as Schema.Top & { readonly DecodingServices: never },
        handler: (input, context) => runHandler(general, input, context),
        visible: options.visible,
        timeout: limit
      })
    : makeTool(name, {
        description: options.description,
        parameters: options.parameters as StandardSchemaV1,
        jsonSchema: options.jsonSchema,
        handler: (input, context) => runHandler(general, input, context),
        visible: options.visible,
        timeout: limit
      })) as unknown as ToolModule.Any
  const checked = timeout instanceof InvalidOptions ? ToolModule.withInvalidOptions(made, timeout) : made
  const approval = options.needsApproval
  if (approval === undefined || approval === false) return checked
  return Approval.require(checked, approval === true ? {} : (approval as Approval.RequireOptions))
}
