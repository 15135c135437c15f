/**
 * What one ask runs with: the agent's options resolved and checked once (`Agent.make`), with an
 * ask's own options (timeouts, model parameters, a system addition, a typed answer) over them.
 *
 * @internal
 */
import type { Context, Schedule } from "effect"
import { Duration } from "effect"
import { type AgentControl, resolveHooks } from "../control/control.js"
import type * as Hooks from "../control/Hooks.js"
import { type Resolved as BudgetLimits, resolveLimits } from "../control/limits.js"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import { describe, resolveDuration } from "../core/options.js"
import type * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"
import * as Answer from "./Answer.js"
import { hasParams, type Params, resolveParams } from "./params.js"
import type { AskOptions, TypedAskOptions } from "./Session.js"

/**
 * The per-phase limits as Durations (`Session.Timeouts` resolved); an unset phase has no limit.
 * @internal
 */
export interface Timeouts {
  readonly request?: Duration.Duration | undefined
  readonly firstEvent?: Duration.Duration | undefined
  readonly idle?: Duration.Duration | undefined
  readonly tool?: Duration.Duration | undefined
  readonly turn?: Duration.Duration | undefined
  readonly run?: Duration.Duration | undefined
}

/**
 * The limits a user expects of an HTTP client, so that no ask waits forever by default:
 * `request` 5 minutes until the response headers (undici's `headersTimeout`), `firstEvent`
 * 10 minutes from the request to the first event (the Anthropic SDK's default timeout for a
 * whole request), `idle` 5 minutes between two events (undici's `bodyTimeout`).
 * @internal
 */
export const defaultTimeouts: Timeouts = {
  request: Duration.minutes(5),
  firstEvent: Duration.minutes(10),
  idle: Duration.minutes(5)
}

/**
 * An agent's settings, as the loop reads them.
 * @internal
 */
export interface Config {
  readonly provider: Provider.Service
  /** The agent's system prompt; for an ask with a `system` addition, both as text blocks. */
  readonly system: string | ReadonlyArray<Message.TextBlock> | undefined
  readonly tools: ReadonlyArray<Tool.Any>
  // biome-ignore lint/suspicious/noExplicitAny: the captured services of every tool handler
  readonly context: Context.Context<any>
  readonly maxTurns: number
  /** The model parameters of every turn (the agent's, with the ask's over them). */
  readonly params: Params
  /** Whether the answer is typed (the `answer` tool has a schema): a run must end with a valid one. */
  readonly typedAnswer: boolean
  /** How many refused answers go back to the model before the next fails the run. */
  readonly answerRetries: number
  readonly cache: boolean
  readonly timeouts: Timeouts
  readonly retry: Schedule.Schedule<unknown, unknown> | undefined
  readonly maxRetryAfter: Duration.Duration
  readonly partialTurn: "keep" | "discard"
  readonly toolConcurrency: number
  /** Hooks, prices, budgets and compaction (`src/control`). */
  readonly control: AgentControl
  /** The ask's own hooks, run after the agent's. */
  readonly askHooks?: Hooks.Any | undefined
  /** The ask's own budget, instead of the agent's default for asks. */
  readonly askLimits?: BudgetLimits | undefined
}

const phases: ReadonlyArray<string> = ["request", "firstEvent", "idle", "tool", "turn", "run"] satisfies ReadonlyArray<
  keyof Timeouts
>

/**
 * User-given timeouts (`Session.Timeouts`) as Durations, unset phases left out; the first invalid
 * one as `InvalidOptions`.
 * @internal
 */
export const resolveTimeouts = (timeouts: unknown): Timeouts | InvalidOptions => {
  const out: Record<string, Duration.Duration> = {}
  if (timeouts === undefined) return out
  if (typeof timeouts !== "object" || timeouts === null) {
    return new InvalidOptions({
      option: "timeouts",
      message: `timeouts must be an object of per-phase limits (${phases.join(", ")}), not ${describe(timeouts)}.`
    })
  }
  for (const [phase, value] of Object.entries(timeouts)) {
    if (value === undefined) continue
    if (!phases.includes(phase)) {
      return new InvalidOptions({
        option: `timeouts.${phase}`,
        message: `timeouts.${phase} is not a timeout phase; the phases are ${phases.join(", ")}.`
      })
    }
    const duration = resolveDuration(`timeouts.${phase}`, value)
    if (duration instanceof InvalidOptions) return duration
    out[phase] = duration
  }
  return out
}

/** The tools with `answer` typed by the ask's schema, made once per agent tool list and schema. */
const typedTools = new WeakMap<ReadonlyArray<Tool.Any>, WeakMap<object, ReadonlyArray<Tool.Any>>>()

/**
 * The tools with the `answer` tool typed by `schema` (appended when `append` and the list has
 * none), or why not.
 * @internal
 */
export const withTypedAnswer = (
  tools: ReadonlyArray<Tool.Any>,
  schema: Answer.AnswerSchema,
  append: boolean
): ReadonlyArray<Tool.Any> | InvalidOptions => {
  const byList = typedTools.get(tools) ?? new WeakMap<object, ReadonlyArray<Tool.Any>>()
  typedTools.set(tools, byList)
  const cached = byList.get(schema as object)
  if (cached !== undefined) return cached
  const tool = Answer.typed(schema)
  if (tool instanceof InvalidOptions) return tool
  const has = tools.some((t) => t.name === Answer.name)
  if (!has && !append) {
    return new InvalidOptions({
      option: "answer",
      message:
        "This agent has no answer tool (builtinTools: false), so an ask cannot have a typed answer; add Agent.answer to its tools, or give the schema to Agent.make."
    })
  }
  const out: ReadonlyArray<Tool.Any> = has ? tools.map((t) => (t.name === Answer.name ? tool : t)) : [...tools, tool]
  byList.set(schema as object, out)
  return out
}

/** The agent's system prompt with an ask's addition as a second block, the first as it is sent alone. */
const systemWith = (config: Config, addition: unknown): Config["system"] | InvalidOptions => {
  if (addition === undefined) return config.system
  if (typeof addition !== "string") {
    return new InvalidOptions({ option: "system", message: `system must be a string, not ${describe(addition)}.` })
  }
  if (!/\S/.test(addition)) return config.system
  const extra: Message.TextBlock = { type: "text", text: addition }
  const base = config.system
  if (base === undefined || base.length === 0) return [extra]
  // the agent's prompt as the provider marks it when it is alone, so its bytes (and cache
  // marker) do not change; the provider marks the addition, the last block, on every request
  const first = typeof base === "string" ? [{ type: "text" as const, text: base }] : base
  const marked = config.cache
    ? config.provider.formatCacheControl({ system: first, messages: [], tools: [] }).system
    : first
  return [...((marked ?? first) as ReadonlyArray<Message.TextBlock>), extra]
}

/**
 * The configuration of one ask: the agent's, with the ask's own options over it, or the first
 * that is not valid.
 * @internal
 */
export const withAskOptions = (config: Config, options: AskOptions | undefined): Config | InvalidOptions => {
  if (options === undefined) return config
  let out = config
  if (options.timeouts !== undefined) {
    const resolved = resolveTimeouts(options.timeouts)
    if (resolved instanceof InvalidOptions) return resolved
    out = { ...out, timeouts: { ...out.timeouts, ...resolved } }
  }
  const answer = (options as Partial<TypedAskOptions<Answer.AnswerSchema>>).answer
  if (answer !== undefined) {
    const tools = withTypedAnswer(out.tools, answer, false)
    if (tools instanceof InvalidOptions) return tools
    out = { ...out, tools, typedAnswer: true }
  }
  if (hasParams(options)) {
    const params = resolveParams(options, new Set(out.tools.map((tool) => tool.name)))
    if (params instanceof InvalidOptions) return params
    out = { ...out, params: { ...out.params, ...params } }
  }
  if (options.system !== undefined) {
    const system = systemWith(out, options.system)
    if (system instanceof InvalidOptions) return system
    out = { ...out, system }
  }
  if (options.hooks !== undefined) {
    const hooks = resolveHooks("hooks", options.hooks)
    if (hooks instanceof InvalidOptions) return hooks
    out = { ...out, askHooks: hooks }
  }
  if (options.budget !== undefined) {
    const limits = resolveLimits("budget", options.budget)
    if (limits instanceof InvalidOptions) return limits
    out = { ...out, askLimits: limits }
  }
  return out
}

/**
 * `value` when it is a whole number of at least 1, or the `InvalidOptions` that says so.
 * @internal
 */
export const positiveInteger = (option: string, value: number): number | InvalidOptions =>
  Number.isInteger(value) && value >= 1
    ? value
    : new InvalidOptions({ option, message: `${option} must be a whole number of at least 1, not ${String(value)}.` })
