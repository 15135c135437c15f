/**
 * Budgets: limits on what runs may spend, checked before each model call and each tool call.
 *
 * A budget limits dollars (`usd`, priced by the `Pricing` table), input tokens (every prompt token:
 * uncached, cache reads and cache writes), output tokens, tool compute time (`toolCpuMs`: the time
 * the `sql` and `javascript` tools run, or the tools named in `computeTools`) and wall time. It
 * applies to one ask, one session (all its asks), or one agent (all its sessions and runs):
 *
 * ```ts
 * Agent.make({ budget: { agent: { usd: 50 }, session: { usd: 5 }, ask: { usd: 0.5, toolCpuMs: 60_000 } } })
 * agent.session({ budget: { usd: 2 } })        // this session's, instead of budget.session
 * session.ask(prompt, { budget: { usd: 0.1 } })  // this ask's, instead of budget.ask
 * ```
 *
 * When checked:
 * - before each model call (retries too): the request's input tokens are counted (the agent's
 *   `countTokens`, else `Tokens.estimate`), and the call is not made when the spent input tokens
 *   plus that count, or the dollars spent plus the count's input price, would go over; or when the
 *   output tokens or the wall time are already at their limit. The call's output is not known
 *   before it is made: a budget can be passed by at most one turn's output (bounded by `maxTokens`).
 * - before each tool call: the tool compute time and the wall time; a compute tool then runs for
 *   at most the compute time left, and is interrupted (its DuckDB query or its JavaScript stopped)
 *   when it runs past it.
 *
 * Going over ends the run with `BudgetExceeded` (which budget, what was spent, the run's cost and
 * its partial output). The history stays valid: a tool call that did not run is answered with an
 * error result. `wallTime` of a session or an agent is the sum of its asks' times.
 *
 * @since 0.2.0
 */
import type { Duration } from "effect"

/**
 * What a budget limits. Each is optional; a missing one has no limit.
 * @since 0.2.0
 */
export interface Limits {
  /** US dollars. */
  readonly usd?: number | undefined
  /** Prompt tokens: uncached input, cache reads and cache writes. */
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  /** Milliseconds the compute tools ran (`sql`, `javascript`, or `computeTools`). */
  readonly toolCpuMs?: number | undefined
  /** Time since the ask started (summed over the asks of a session or agent). */
  readonly wallTime?: Duration.Input | undefined
}

/**
 * `Agent.make({ budget })`: the agent's total, and the defaults of each session and each ask.
 * @since 0.2.0
 */
export interface Options {
  /** Every run and session of the agent together. */
  readonly agent?: Limits | undefined
  /** Each session (all its asks); `agent.session({ budget })` gives one session its own. */
  readonly session?: Limits | undefined
  /** Each ask; `session.ask(prompt, { budget })` gives one ask its own. */
  readonly ask?: Limits | undefined
  /** The tools whose time counts as tool compute (default `["sql", "javascript"]`). */
  readonly computeTools?: ReadonlyArray<string> | undefined
}
