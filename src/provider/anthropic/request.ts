/**
 * Builds the Messages API request body of one turn from a `Provider.Request` and the layer's
 * defaults, and checks every sampling parameter against what the API accepts first: a value the
 * API would reject with a 400 is an `InvalidOptions` here, before any request is sent.
 *
 * | `Provider.Request` | API field | accepted |
 * | --- | --- | --- |
 * | `model` | `model` | a non-empty string |
 * | `maxTokens` | `max_tokens` | a whole number >= 1 |
 * | `temperature` | `temperature` | 0..1 |
 * | `topP` | `top_p` | 0..1 |
 * | `topK` | `top_k` | a whole number >= 1 |
 * | `stopSequences` | `stop_sequences` | strings with a non-whitespace character |
 * | `thinking` | `thinking` | `enabled` with 1024 <= `budgetTokens` < `max_tokens`, `adaptive`, `disabled` |
 * | `toolChoice` | `tool_choice` | `auto`, `any`, `none`, or `tool` naming a tool of the request; `any`/`tool` not with thinking |
 * | `metadata.userId` | `metadata.user_id` | a string of at most 256 characters |
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */

import type AnthropicSdk from "@anthropic-ai/sdk"
import { InvalidOptions } from "../../core/HarnessError.js"
import type * as Provider from "../Provider.js"
import { portable } from "../portableHistory.js"
import { toMessageParams } from "./messages.js"

/** The SDK's message params, streaming or not. */
export type Params<Streaming extends boolean> = Omit<AnthropicSdk.MessageCreateParamsNonStreaming, "stream"> & {
  stream: Streaming
}

/** The per-turn settings a layer sets as defaults; a `Provider.Request` overrides each. */
export interface Defaults {
  readonly model: string
  readonly maxTokens: number
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly topK?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  readonly thinking?: Provider.Thinking | undefined
}

/** The fields of a request body that sampling parameters set, as the API names them. */
interface Sampling {
  temperature?: number
  top_p?: number
  top_k?: number
}

/** The longest `metadata.user_id` the API takes. */
const MAX_USER_ID = 256
/** The smallest extended-thinking budget the API takes. */
const MIN_THINKING_BUDGET = 1024

const invalid = (option: string, message: string) => new InvalidOptions({ option, message })

const show = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : String(value))

const isWhole = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value)

/** `value` within `low..high` (a finite number), or the error naming the range. */
const inRange = (option: string, value: number, low: number, high: number): InvalidOptions | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= low && value <= high
    ? undefined
    : invalid(option, `${option} must be a number from ${low} to ${high}, not ${show(value)}.`)

/**
 * The sampling parameters' own ranges. How they combine with thinking (the API documents
 * temperature 1, no top_k and top_p >= 0.95 with extended thinking) is left to the API, which
 * decides it per model.
 */
const checkSampling = (
  temperature: number | undefined,
  topP: number | undefined,
  topK: number | undefined
): InvalidOptions | undefined => {
  if (temperature !== undefined) {
    const error = inRange("temperature", temperature, 0, 1)
    if (error) return error
  }
  if (topP !== undefined) {
    const error = inRange("topP", topP, 0, 1)
    if (error) return error
  }
  if (topK !== undefined && (!isWhole(topK) || topK < 1)) {
    return invalid("topK", `topK must be a whole number of at least 1, not ${show(topK)}.`)
  }
  return undefined
}

const checkStopSequences = (sequences: ReadonlyArray<string>): InvalidOptions | undefined => {
  if (!Array.isArray(sequences)) {
    return invalid("stopSequences", `stopSequences must be an array of strings, not ${show(sequences)}.`)
  }
  const bad = sequences.findIndex((s) => typeof s !== "string" || s.trim().length === 0)
  return bad === -1
    ? undefined
    : invalid(
        `stopSequences[${bad}]`,
        `each stop sequence must be a string with a non-whitespace character; stopSequences[${bad}] is ${show(sequences[bad])}.`
      )
}

type ThinkingParam = NonNullable<AnthropicSdk.MessageCreateParamsNonStreaming["thinking"]>

const thinkingParam = (thinking: Provider.Thinking, maxTokens: number): ThinkingParam | InvalidOptions => {
  switch (thinking.type) {
    case "enabled": {
      const budget = thinking.budgetTokens
      if (!isWhole(budget) || budget < MIN_THINKING_BUDGET || budget >= maxTokens) {
        return invalid(
          "thinking.budgetTokens",
          `thinking.budgetTokens must be a whole number from ${MIN_THINKING_BUDGET} to maxTokens - 1 (${maxTokens - 1}), not ${show(budget)}; raise maxTokens or lower the budget.`
        )
      }
      return { type: "enabled", budget_tokens: budget }
    }
    case "adaptive":
      return { type: "adaptive" }
    case "disabled":
      return { type: "disabled" }
    default:
      return invalid(
        "thinking.type",
        `thinking.type must be "enabled", "adaptive" or "disabled", not ${show((thinking as { type?: unknown }).type)}.`
      )
  }
}

const toolChoiceParam = (
  choice: Provider.ToolChoice,
  tools: ReadonlyArray<Provider.ToolDefinition>,
  thinking: boolean
): AnthropicSdk.ToolChoice | InvalidOptions => {
  const parallel = choice.disableParallelToolUse
  if (parallel !== undefined && typeof parallel !== "boolean") {
    return invalid("toolChoice.disableParallelToolUse", `must be true or false, not ${show(parallel)}.`)
  }
  const forced = choice.type === "any" || choice.type === "tool"
  if (forced && tools.length === 0) {
    return invalid("toolChoice", `toolChoice "${choice.type}" needs at least one tool, and the request has none.`)
  }
  if (forced && thinking) {
    return invalid(
      "toolChoice",
      `toolChoice "${choice.type}" forces a tool call, which the API refuses with thinking on; use "auto".`
    )
  }
  switch (choice.type) {
    case "none":
      return parallel === undefined
        ? { type: "none" }
        : invalid("toolChoice.disableParallelToolUse", `toolChoice "none" takes no disableParallelToolUse.`)
    case "auto":
    case "any":
      return parallel === undefined ? { type: choice.type } : { type: choice.type, disable_parallel_tool_use: parallel }
    case "tool": {
      if (!tools.some((tool) => tool.name === choice.name)) {
        return invalid(
          "toolChoice.name",
          `toolChoice names the tool ${show(choice.name)}, which is not among the request's tools (${tools.map((t) => t.name).join(", ")}).`
        )
      }
      return parallel === undefined
        ? { type: "tool", name: choice.name }
        : { type: "tool", name: choice.name, disable_parallel_tool_use: parallel }
    }
    default:
      return invalid(
        "toolChoice.type",
        `toolChoice.type must be "auto", "any", "none" or "tool", not ${show((choice as { type?: unknown }).type)}.`
      )
  }
}

const metadataParam = (metadata: Provider.Metadata): AnthropicSdk.Metadata | InvalidOptions => {
  const userId = metadata.userId
  if (userId === undefined) return {}
  return typeof userId === "string" && userId.length <= MAX_USER_ID
    ? { user_id: userId }
    : invalid("metadata.userId", `metadata.userId must be a string of at most ${MAX_USER_ID} characters.`)
}

const toolParam = (tool: Provider.ToolDefinition): AnthropicSdk.Tool => ({
  name: tool.name,
  description: tool.description,
  input_schema: tool.input_schema as AnthropicSdk.Tool.InputSchema
})

/** The request body's head: model and output limit, checked. */
const head = (defaults: Defaults, request: Provider.Request): { model: string; maxTokens: number } | InvalidOptions => {
  const model = request.model ?? defaults.model
  if (typeof model !== "string" || model.length === 0) {
    return invalid("model", `model must be a non-empty model name, not ${show(model)}.`)
  }
  const maxTokens = request.maxTokens ?? defaults.maxTokens
  if (!isWhole(maxTokens) || maxTokens < 1) {
    return invalid("maxTokens", `maxTokens must be a whole number of at least 1, not ${show(maxTokens)}.`)
  }
  return { model, maxTokens }
}

/** Sets the optional sampling and control fields on `built`; the first invalid one is returned. */
const setControls = (
  built: Params<boolean>,
  defaults: Defaults,
  request: Provider.Request,
  maxTokens: number
): InvalidOptions | undefined => {
  const thinking = request.thinking ?? defaults.thinking
  const thinks = thinking !== undefined && thinking.type !== "disabled"
  const temperature = request.temperature ?? defaults.temperature
  const topP = request.topP ?? defaults.topP
  const topK = request.topK ?? defaults.topK
  if (temperature !== undefined || topP !== undefined || topK !== undefined) {
    const error = checkSampling(temperature, topP, topK)
    if (error) return error
    // not in this SDK version's types any more; sent for the models that take them
    const sampling = built as Sampling
    if (temperature !== undefined) sampling.temperature = temperature
    if (topP !== undefined) sampling.top_p = topP
    if (topK !== undefined) sampling.top_k = topK
  }
  const stopSequences = request.stopSequences ?? defaults.stopSequences
  if (stopSequences !== undefined) {
    const error = checkStopSequences(stopSequences)
    if (error) return error
    built.stop_sequences = [...stopSequences]
  }
  if (thinking !== undefined) {
    const param = thinkingParam(thinking, maxTokens)
    if (param instanceof InvalidOptions) return param
    built.thinking = param
  }
  if (request.toolChoice !== undefined) {
    const param = toolChoiceParam(request.toolChoice, request.tools, thinks)
    if (param instanceof InvalidOptions) return param
    built.tool_choice = param
  }
  if (request.metadata !== undefined) {
    const param = metadataParam(request.metadata)
    if (param instanceof InvalidOptions) return param
    if (param.user_id !== undefined) built.metadata = param
  }
  return undefined
}

/**
 * The request body of one turn, or the `InvalidOptions` that says which parameter the API would
 * refuse. Built field by field: conditional spreads in an object literal are a runtime call each,
 * and this runs for every turn.
 */
export const buildParams = <Streaming extends boolean>(
  defaults: Defaults,
  request: Provider.Request,
  stream: Streaming
): Params<Streaming> | InvalidOptions => {
  const checked = head(defaults, request)
  if (checked instanceof InvalidOptions) return checked
  const built: Params<Streaming> = {
    model: checked.model,
    max_tokens: checked.maxTokens,
    // a history another vendor's model wrote (unsigned thinking, tool ids like `functions.sql:0`)
    // is made one the API takes; the same messages when nothing needs it
    messages: toMessageParams(portable(request).messages),
    stream
  }
  const system = request.system
  if (system !== undefined && system.length > 0) built.system = system as string | Array<AnthropicSdk.TextBlockParam>
  if (request.tools.length > 0) built.tools = request.tools.map(toolParam)
  const error = setControls(built, defaults, request, checked.maxTokens)
  return error ?? built
}
