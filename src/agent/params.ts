/**
 * The model parameters of a turn (`Session.ModelOptions`): what an agent sets as defaults and one
 * ask overrides, checked here for what holds whatever the provider (types, ranges every provider
 * shares, a `toolChoice` naming a tool the agent has) before anything is added to a session. What
 * only one provider refuses (Anthropic's temperature above 1, OpenAI's `topK`, a thinking budget
 * below 1024) is the provider's to say, also as `InvalidOptions`, before its request is sent.
 *
 * @internal
 */
import { InvalidOptions } from "../core/HarnessError.js"
import { describe } from "../core/options.js"
import type * as Provider from "../provider/Provider.js"
import type { ModelOptions } from "./Session.js"

/**
 * Checked model parameters; only the keys that were given are present.
 * @internal
 */
export interface Params {
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly topP?: number
  readonly topK?: number
  readonly stopSequences?: ReadonlyArray<string>
  readonly thinking?: Provider.Thinking
  readonly toolChoice?: Provider.ToolChoice
  readonly metadata?: Provider.Metadata
}

const invalid = (option: string, message: string) => new InvalidOptions({ option, message })

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const number = (option: string, value: unknown, low: number, high: number): number | InvalidOptions =>
  typeof value === "number" && Number.isFinite(value) && value >= low && value <= high
    ? value
    : invalid(option, `${option} must be a number from ${low} to ${high}, not ${describe(value)}.`)

const wholeNumber = (option: string, value: unknown): number | InvalidOptions =>
  typeof value === "number" && Number.isInteger(value) && value >= 1
    ? value
    : invalid(option, `${option} must be a whole number of at least 1, not ${describe(value)}.`)

const model = (value: unknown): string | InvalidOptions =>
  typeof value === "string" && value.trim().length > 0
    ? value
    : invalid("model", `model must be a model name (a non-empty string), not ${describe(value)}.`)

const stopSequences = (value: unknown): ReadonlyArray<string> | InvalidOptions => {
  if (!Array.isArray(value)) {
    return invalid("stopSequences", `stopSequences must be an array of strings, not ${describe(value)}.`)
  }
  const bad = value.findIndex((s) => typeof s !== "string" || s.length === 0)
  return bad === -1
    ? (value as ReadonlyArray<string>)
    : invalid(`stopSequences[${bad}]`, `each stop sequence must be a non-empty string, not ${describe(value[bad])}.`)
}

const THINKING =
  'thinking must be { type: "enabled", budgetTokens }, { budgetTokens }, { type: "adaptive" } or { type: "disabled" }'

const thinking = (value: unknown): Provider.Thinking | InvalidOptions => {
  if (!isObject(value)) return invalid("thinking", `${THINKING}, not ${describe(value)}.`)
  if (value.type === "adaptive" || value.type === "disabled") return { type: value.type }
  if (value.type !== undefined && value.type !== "enabled") {
    return invalid("thinking.type", `${THINKING}; the type ${describe(value.type)} is not one of them.`)
  }
  const budget = wholeNumber("thinking.budgetTokens", value.budgetTokens)
  return budget instanceof InvalidOptions ? budget : { type: "enabled", budgetTokens: budget }
}

const TOOL_CHOICE =
  'toolChoice must be "auto", "any", "none", or { type: "tool", name } naming one of the agent\'s tools'

const toolChoice = (value: unknown, tools: ReadonlySet<string>): Provider.ToolChoice | InvalidOptions => {
  if (value === "auto" || value === "any" || value === "none") return { type: value }
  if (!isObject(value)) return invalid("toolChoice", `${TOOL_CHOICE}, not ${describe(value)}.`)
  const parallel = value.disableParallelToolUse
  if (parallel !== undefined && typeof parallel !== "boolean") {
    return invalid(
      "toolChoice.disableParallelToolUse",
      `toolChoice.disableParallelToolUse must be true or false, not ${describe(parallel)}.`
    )
  }
  const flag = parallel === undefined ? {} : { disableParallelToolUse: parallel }
  switch (value.type) {
    case "auto":
    case "any":
    case "none":
      return { type: value.type, ...flag }
    case "tool": {
      const name = value.name
      if (typeof name !== "string" || !tools.has(name)) {
        return invalid(
          "toolChoice.name",
          `toolChoice names the tool ${describe(name)}, which the agent does not have; its tools are ${[...tools].join(", ") || "none"}.`
        )
      }
      return { type: "tool", name, ...flag }
    }
    default:
      return invalid("toolChoice.type", `${TOOL_CHOICE}; the type ${describe(value.type)} is not one of them.`)
  }
}

const metadata = (value: unknown): Provider.Metadata | InvalidOptions => {
  if (!isObject(value)) return invalid("metadata", `metadata must be an object ({ userId }), not ${describe(value)}.`)
  const userId = value.userId
  if (userId === undefined) return {}
  return typeof userId === "string"
    ? { userId }
    : invalid("metadata.userId", `metadata.userId must be a string, not ${describe(userId)}.`)
}

type Checker = (value: unknown, tools: ReadonlySet<string>) => unknown

/**
 * Each parameter's check. Temperature: 0..2, the widest range a provider takes (OpenAI's;
 * Anthropic's 0..1 is its provider's to enforce).
 */
const checkers: { readonly [K in keyof Params]-?: Checker } = {
  model,
  maxTokens: (value) => wholeNumber("maxTokens", value),
  temperature: (value) => number("temperature", value, 0, 2),
  topP: (value) => number("topP", value, 0, 1),
  topK: (value) => wholeNumber("topK", value),
  stopSequences,
  thinking,
  toolChoice,
  metadata
}

const keys = Object.keys(checkers) as ReadonlyArray<keyof Params>

/**
 * The model parameters of `options` checked (unset ones left out), or the first that is not
 * valid. `tools` are the names a `toolChoice` may name.
 * @internal
 */
export const resolveParams = (
  options: ModelOptions | undefined,
  tools: ReadonlySet<string>
): Params | InvalidOptions => {
  const out: Record<string, unknown> = {}
  if (options === undefined) return out
  for (const key of keys) {
    const value = options[key]
    if (value === undefined) continue
    const checked = checkers[key](value, tools)
    if (checked instanceof InvalidOptions) return checked
    out[key] = checked
  }
  return out
}

/**
 * Whether `options` sets any model parameter (an ask without any keeps the agent's as they are).
 * @internal
 */
export const hasParams = (options: ModelOptions | undefined): boolean =>
  options !== undefined && keys.some((key) => options[key] !== undefined)

/**
 * The tool choice of a turn: a forced one (`any`, or a named tool) holds until the model has
 * called a tool in this ask; the turns after it (`turn` > 1) choose freely (`auto`), or every
 * turn would have to call a tool and the run could only end at `maxTurns`.
 * @internal
 */
export const toolChoiceOfTurn = (
  choice: Provider.ToolChoice | undefined,
  turn: number
): Provider.ToolChoice | undefined => {
  if (choice === undefined || turn <= 1 || (choice.type !== "any" && choice.type !== "tool")) return choice
  return choice.disableParallelToolUse === undefined
    ? { type: "auto" }
    : { type: "auto", disableParallelToolUse: choice.disableParallelToolUse }
}
