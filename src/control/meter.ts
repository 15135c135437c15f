/**
 * What an ask, a session and an agent have spent, and the budget checks over them.
 *
 * A `Meter` is mutable and shared: the agent's is shared by all its sessions and runs, a session's
 * by its asks. Updates are synchronous (no fiber sees a half-updated meter).
 *
 * @internal
 */
import * as Cost from "../core/Cost.js"
import type { BudgetLimit, BudgetScope } from "../core/HarnessError.js"
import type * as Usage from "../core/Usage.js"
import type { Resolved } from "./limits.js"

/** The dollars of one priced attempt, by kind of token. */
export interface Parts {
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
}

/**
 * A running dollar sum as plain numbers (summed per attempt on the loop's path); a `Cost` value is
 * built only when one is read.
 */
export class CostSum {
  input = 0
  output = 0
  cacheWrite = 0
  cacheRead = 0
  readonly unpriced = new Set<string>()

  get usd(): number {
    return this.input + this.output + this.cacheWrite + this.cacheRead
  }

  /** Adds a priced attempt's parts, or names `model` as unpriced (`parts` undefined). */
  add(parts: Parts | undefined, model: string): void {
    if (parts === undefined) {
      this.unpriced.add(model)
      return
    }
    this.input += parts.input
    this.output += parts.output
    this.cacheWrite += parts.cacheWrite
    this.cacheRead += parts.cacheRead
  }

  toCost(): Cost.Cost {
    if (this.input !== 0 || this.output !== 0 || this.cacheWrite !== 0 || this.cacheRead !== 0) {
      return Cost.make({ ...this, unpriced: [...this.unpriced] })
    }
    if (this.unpriced.size === 0) return Cost.empty
    if (this.unpriced.size > 1) return Cost.make({ unpriced: [...this.unpriced] })
    // no dollars, one unpriced model (every turn of an unpriced model): one value per model
    const [model] = this.unpriced as Set<string>
    let cost = unpricedCosts.get(model!)
    if (cost === undefined) {
      cost = Cost.make({ unpriced: [model!] })
      if (unpricedCosts.size < MAX_UNPRICED) unpricedCosts.set(model!, cost)
    }
    return cost
  }
}

/** The zero-dollar cost of each unpriced model seen, kept to this many (model names are few). */
const MAX_UNPRICED = 256
const unpricedCosts = new Map<string, Cost.Cost>()

/** What one scope has spent. */
export class Meter {
  inputTokens = 0
  outputTokens = 0
  toolCpuMs = 0
  /** Wall time of the asks that ended. */
  wallTimeMs = 0
  readonly dollars = new CostSum()

  get usd(): number {
    return this.dollars.usd
  }

  get cost(): Cost.Cost {
    return this.dollars.toCost()
  }

  addUsage(usage: Usage.Counts, parts: Parts | undefined, model: string): void {
    this.inputTokens += usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens
    this.outputTokens += usage.outputTokens
    this.dollars.add(parts, model)
  }

  /** What was spent, with `liveWallMs` of asks still running. */
  spent(liveWallMs = 0): Cost.Spent {
    return new Cost.Spent({
      usd: this.usd,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      toolCpuMs: this.toolCpuMs,
      wallTimeMs: this.wallTimeMs + liveWallMs
    })
  }
}

/** One scope's meter with its limits (none: not checked). */
export interface Scoped {
  readonly scope: BudgetScope
  readonly meter: Meter
  readonly limits: Resolved | undefined
}

/** A limit that a call would go over. */
export interface Over {
  readonly scope: BudgetScope
  readonly limit: BudgetLimit
  readonly allowed: number
  readonly spent: Cost.Spent
  readonly needed?: number | undefined
}

/**
 * The first limit a model call would go over: with `inputTokens` counted for its request, and
 * `inputUsd` their price; `liveWallMs` is the running ask's time.
 */
export const overBeforeModel = (
  scopes: ReadonlyArray<Scoped>,
  inputTokens: number,
  inputUsd: number,
  liveWallMs: number
): Over | undefined => {
  for (const { scope, meter, limits } of scopes) {
    if (limits === undefined) continue
    const over = (limit: BudgetLimit, allowed: number, needed?: number): Over => ({
      scope,
      limit,
      allowed,
      spent: meter.spent(liveWallMs),
      ...(needed === undefined ? {} : { needed })
    })
    if (limits.usd !== undefined && meter.usd + inputUsd > limits.usd) return over("usd", limits.usd, inputUsd)
    if (limits.inputTokens !== undefined && meter.inputTokens + inputTokens > limits.inputTokens) {
      return over("inputTokens", limits.inputTokens, inputTokens)
    }
    if (limits.outputTokens !== undefined && meter.outputTokens >= limits.outputTokens) {
      return over("outputTokens", limits.outputTokens)
    }
    if (limits.wallTimeMs !== undefined && meter.wallTimeMs + liveWallMs >= limits.wallTimeMs) {
      return over("wallTime", limits.wallTimeMs)
    }
  }
  return undefined
}

/** The first limit a tool call would go over (`compute`: whether its time counts as tool compute). */
export const overBeforeTool = (
  scopes: ReadonlyArray<Scoped>,
  compute: boolean,
  liveWallMs: number
): Over | undefined => {
  for (const { scope, meter, limits } of scopes) {
    if (limits === undefined) continue
    if (compute && limits.toolCpuMs !== undefined && meter.toolCpuMs >= limits.toolCpuMs) {
      return { scope, limit: "toolCpuMs", allowed: limits.toolCpuMs, spent: meter.spent(liveWallMs) }
    }
    if (limits.wallTimeMs !== undefined && meter.wallTimeMs + liveWallMs >= limits.wallTimeMs) {
      return { scope, limit: "wallTime", allowed: limits.wallTimeMs, spent: meter.spent(liveWallMs) }
    }
  }
  return undefined
}

/** The compute time left before the tightest `toolCpuMs` limit, and whose it is; `undefined`: no limit. */
export const computeLeft = (
  scopes: ReadonlyArray<Scoped>
): { readonly scoped: Scoped & { readonly limits: Resolved }; readonly ms: number } | undefined => {
  let tightest: { scoped: Scoped & { readonly limits: Resolved }; ms: number } | undefined
  for (const scoped of scopes) {
    const limit = scoped.limits?.toolCpuMs
    if (limit === undefined) continue
    const ms = limit - scoped.meter.toolCpuMs
    if (tightest === undefined || ms < tightest.ms) tightest = { scoped: scoped as Scoped & { limits: Resolved }, ms }
  }
  return tightest
}

const usd = (value: number) => `$${value < 0.01 ? value.toFixed(6) : value.toFixed(4)}`

/** What a limit's numbers read as. */
const amount = (limit: BudgetLimit, value: number): string => {
  switch (limit) {
    case "usd":
      return usd(value)
    case "inputTokens":
      return `${value} input tokens`
    case "outputTokens":
      return `${value} output tokens`
    case "toolCpuMs":
      return `${Math.round(value)} ms of tool compute`
    case "wallTime":
      return `${Math.round(value)} ms of wall time`
  }
}

const spentOf = (over: Over): number => {
  switch (over.limit) {
    case "usd":
      return over.spent.usd
    case "inputTokens":
      return over.spent.inputTokens
    case "outputTokens":
      return over.spent.outputTokens
    case "toolCpuMs":
      return over.spent.toolCpuMs
    case "wallTime":
      return over.spent.wallTimeMs
  }
}

const option = (over: Over): string => {
  const key = over.limit === "wallTime" ? "wallTime" : over.limit
  return over.scope === "agent"
    ? `budget.agent.${key} of Agent.make`
    : over.scope === "session"
      ? `budget.session.${key} of Agent.make (or the session's own budget)`
      : `budget.ask.${key} of Agent.make (or this ask's own budget)`
}

/** The message of a `BudgetExceeded` for `over`, before a call of `what` ("model call", "tool call"). */
export const messageOf = (over: Over, what: string): string => {
  const needed =
    over.needed === undefined ? "" : `, and the ${what} needs about ${amount(over.limit, over.needed)} for its input`
  return (
    `The ${over.scope}'s budget of ${amount(over.limit, over.allowed)} does not allow the next ${what}: ` +
    `${amount(over.limit, spentOf(over))} spent${needed}. The run stopped before it; the history is kept. ` +
    `Raise ${option(over)}, or start a new ${over.scope === "ask" ? "ask" : over.scope}.`
  )
}
