/**
 * The control options of an agent, resolved once (`Agent.make`): its hooks composed, its price
 * table, its token counter, its budgets and its compaction settings; and the control state of
 * each session (its meter, its waiting approvals, its compaction records).
 *
 * @internal
 */
import { InvalidOptions } from "../core/HarnessError.js"
import { Approvals } from "./approvals.js"
import type * as Budget from "./Budget.js"
import type * as Compaction from "./Compaction.js"
import * as Hooks from "./Hooks.js"
import { type Resolved, resolveLimits } from "./limits.js"
import { Meter } from "./meter.js"
import * as Pricing from "./Pricing.js"
import type * as Tokens from "./Tokens.js"

/**
 * The control options of `Agent.make`.
 * @internal
 */
export interface ControlOptions<R> {
  readonly hooks?: ReadonlyArray<Hooks.Hooks<R>> | Hooks.Hooks<R> | undefined
  readonly budget?: Budget.Options | undefined
  readonly prices?: Pricing.Table | undefined
  readonly countTokens?: Tokens.Counter | undefined
  readonly compaction?: Compaction.Options | false | undefined
}

/**
 * Compaction options with their defaults.
 * @internal
 */
export interface CompactionSettings {
  readonly contextWindow: number | undefined
  readonly threshold: number
  readonly keepTurns: number
  readonly offloadOver: number
  readonly summarise: Compaction.Summariser | undefined
  readonly summaryModel: string | undefined
  readonly auto: boolean
}

/**
 * An agent's control settings.
 * @internal
 */
export interface AgentControl {
  readonly hooks: Hooks.Any | undefined
  readonly pricing: Pricing.Table
  readonly countTokens: Tokens.Counter | undefined
  readonly budget: {
    readonly agent: Resolved | undefined
    readonly session: Resolved | undefined
    readonly ask: Resolved | undefined
    readonly compute: ReadonlySet<string>
  }
  /** What every run and session of the agent spent. */
  readonly meter: Meter
  readonly compaction: CompactionSettings
}

/**
 * A list of hooks (or one) as one, `undefined` when there is none.
 * @internal
 */
export const composeHooks = <R>(
  hooks: ReadonlyArray<Hooks.Hooks<R>> | Hooks.Hooks<R> | undefined
): Hooks.Hooks<R> | undefined => {
  if (hooks === undefined) return undefined
  const list = Array.isArray(hooks) ? (hooks as ReadonlyArray<Hooks.Hooks<R>>) : [hooks as Hooks.Hooks<R>]
  if (list.length === 0) return undefined
  return list.length === 1 ? list[0] : Hooks.compose(...list)
}

const invalid = (option: string, message: string) => new InvalidOptions({ option, message })

const checkHooks = (option: string, hooks: unknown): InvalidOptions | undefined => {
  if (hooks === undefined) return undefined
  const list = Array.isArray(hooks) ? hooks : [hooks]
  for (const [i, hook] of list.entries()) {
    const name = Array.isArray(hooks) ? `${option}[${i}]` : option
    if (typeof hook !== "object" || hook === null) {
      return invalid(
        name,
        `${name} must be an object of hooks (beforeModel, afterModel, beforeTool, afterTool, afterTurn).`
      )
    }
    for (const [key, value] of Object.entries(hook)) {
      if (!["beforeModel", "afterModel", "beforeTool", "afterTool", "afterTurn"].includes(key)) {
        return invalid(
          `${name}.${key}`,
          `${name}.${key} is not a hook; the hooks are beforeModel, afterModel, beforeTool, afterTool and afterTurn.`
        )
      }
      if (value !== undefined && typeof value !== "function") {
        return invalid(`${name}.${key}`, `${name}.${key} must be a function returning an Effect.`)
      }
    }
  }
  return undefined
}

/**
 * Hooks given to one ask, checked and composed.
 * @internal
 */
export const resolveHooks = (option: string, hooks: unknown): Hooks.Any | undefined | InvalidOptions => {
  const bad = checkHooks(option, hooks)
  return bad ?? composeHooks(hooks as ReadonlyArray<Hooks.Any> | Hooks.Any | undefined)
}

const fraction = (option: string, value: unknown, fallback: number): number | InvalidOptions => {
  if (value === undefined) return fallback
  return typeof value === "number" && value > 0 && value <= 1
    ? value
    : invalid(option, `${option} must be a number above 0 and at most 1, not ${String(value)}.`)
}

const count = (option: string, value: unknown, fallback: number | undefined, min: number) => {
  if (value === undefined) return fallback
  return typeof value === "number" && Number.isFinite(value) && value >= min
    ? Math.floor(value)
    : invalid(option, `${option} must be a number of at least ${min}, not ${String(value)}.`)
}

const resolveCompaction = (options: Compaction.Options | false | undefined): CompactionSettings | InvalidOptions => {
  const given = options === false ? { auto: false } : (options ?? {})
  const contextWindow = count("compaction.contextWindow", given.contextWindow, undefined, 1)
  if (contextWindow instanceof InvalidOptions) return contextWindow
  const threshold = fraction("compaction.threshold", given.threshold, 0.8)
  if (threshold instanceof InvalidOptions) return threshold
  const keepTurns = count("compaction.keepTurns", given.keepTurns, 2, 1)
  if (keepTurns instanceof InvalidOptions) return keepTurns
  const offloadOver = count("compaction.offloadOver", given.offloadOver, 4_000, 0)
  if (offloadOver instanceof InvalidOptions) return offloadOver
  if (given.summarise !== undefined && typeof given.summarise !== "function") {
    return invalid("compaction.summarise", "compaction.summarise must be a function of the messages to a summary.")
  }
  return {
    contextWindow,
    threshold,
    keepTurns: keepTurns!,
    offloadOver: offloadOver!,
    summarise: given.summarise,
    summaryModel: given.summaryModel,
    auto: given.auto ?? true
  }
}

/**
 * The budget options checked.
 * @internal
 */
export const resolveBudget = (budget: Budget.Options | undefined): AgentControl["budget"] | InvalidOptions => {
  if (budget !== undefined && (typeof budget !== "object" || budget === null)) {
    return invalid("budget", "budget must be an object: { agent, session, ask } limits (each optional).")
  }
  for (const key of Object.keys(budget ?? {})) {
    if (!["agent", "session", "ask", "computeTools"].includes(key)) {
      return invalid(
        `budget.${key}`,
        `budget.${key} is not a budget scope; give budget.agent, budget.session or budget.ask (each { usd, inputTokens, outputTokens, toolCpuMs, wallTime }).`
      )
    }
  }
  const agent = resolveLimits("budget.agent", budget?.agent)
  if (agent instanceof InvalidOptions) return agent
  const session = resolveLimits("budget.session", budget?.session)
  if (session instanceof InvalidOptions) return session
  const ask = resolveLimits("budget.ask", budget?.ask)
  if (ask instanceof InvalidOptions) return ask
  return { agent, session, ask, compute: new Set(budget?.computeTools ?? ["sql", "javascript"]) }
}

/**
 * An agent's control settings from its options and the price table in context.
 * @internal
 */
export const resolveControl = <R>(options: ControlOptions<R>, table: Pricing.Table): AgentControl | InvalidOptions => {
  const badHooks = checkHooks("hooks", options.hooks)
  if (badHooks !== undefined) return badHooks
  const budget = resolveBudget(options.budget)
  if (budget instanceof InvalidOptions) return budget
  const compaction = resolveCompaction(options.compaction)
  if (compaction instanceof InvalidOptions) return compaction
  if (options.countTokens !== undefined && typeof options.countTokens !== "function") {
    return invalid("countTokens", "countTokens must be a function of a request to an Effect of its token count.")
  }
  return {
    hooks: composeHooks(options.hooks),
    pricing: options.prices === undefined ? table : { ...table, ...options.prices },
    countTokens: options.countTokens,
    budget,
    meter: new Meter(),
    compaction
  }
}

/**
 * The control state of one session.
 * @internal
 */
export class SessionControl {
  readonly meter = new Meter()
  readonly approvals = new Approvals()
  readonly compactions: Array<Compaction.Record> = []
  constructor(readonly limits: Resolved | undefined) {}
}

const sessions = new WeakMap<object, SessionControl>()

/**
 * The control state of the session whose state is `key`, made on first use with `limits` (the
 * session's own budget, else the agent's default for sessions).
 * @internal
 */
export const sessionControl = (key: object, agent: AgentControl, limits?: Resolved | undefined) => {
  let control = sessions.get(key)
  if (control === undefined) {
    control = new SessionControl(limits ?? agent.budget.session)
    sessions.set(key, control)
  }
  return control
}

/**
 * The price of `model` in the agent's table, cached per table.
 * @internal
 */
export const priceOf = (agent: AgentControl, model: string): Pricing.Price | undefined => {
  let cache = prices.get(agent.pricing)
  if (cache === undefined) {
    cache = new Map()
    prices.set(agent.pricing, cache)
  }
  if (!cache.has(model)) cache.set(model, Pricing.lookup(agent.pricing, model))
  return cache.get(model)
}

const prices = new WeakMap<Pricing.Table, Map<string, Pricing.Price | undefined>>()
