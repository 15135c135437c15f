/**
 * The control of one ask: what the agent loop calls before and after each model call and tool
 * call, and after each turn. It prices every attempt's usage (the run's cost and each turn's),
 * runs the hooks, checks the budgets (counting a request's tokens), bounds compute tools by the
 * compute time left, pauses calls for approval and compacts the history near the context window.
 *
 * Every step that has nothing to do (no hook at that point, no budget) is skipped: the loop asks
 * `guardsModel` / `guardsTools` before it builds an Effect.
 *
 * @internal
 */
import { Effect, Ref } from "effect"
import * as Cost from "../core/Cost.js"
import {
  BudgetExceeded,
  type HarnessError,
  type HookFailed,
  type HookPoint,
  type RunStopped
} from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { StoreError } from "../core/StoreError.js"
import * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"
import type * as Approval from "./Approval.js"
import type { Approvals } from "./approvals.js"
import type { AskEnv } from "./askEnv.js"
import type * as Compaction from "./Compaction.js"
import { compactNearWindow } from "./compact.js"
import { priceOf } from "./control.js"
import type * as Hooks from "./Hooks.js"
import { runHook } from "./hookRun.js"
import { CostSum, Meter, messageOf, type Over, overBeforeModel, type Scoped } from "./meter.js"
import { inputCost } from "./Pricing.js"
import { partsOf } from "./rates.js"
import { estimate } from "./Tokens.js"
import { anyMarked, type Gate, gate, runTool, type ToolCallControl } from "./toolCall.js"

export type { AskEnv } from "./askEnv.js"
export type { Gate } from "./toolCall.js"

/**
 * The control of one ask.
 * @internal
 */
export class AskControl {
  /** The run's dollars so far (every attempt, and compaction summaries). */
  private readonly dollars = new CostSum()
  /** The dollars of each completed turn, its retried attempts included (a `Cost` built when read). */
  private readonly turnSums: Array<CostSum> = []
  private readonly turnCostsBuilt: Array<Cost.Cost> = []
  /** The dollars of the turn in progress. */
  private turnDollars = new CostSum()
  /** The model the last request named (what an attempt without `message_start` is priced as). */
  private requestModel: string
  private readonly started: number
  private readonly scopes: ReadonlyArray<Scoped>
  private readonly askMeter: Meter
  private ended = false
  readonly guardsModel: boolean
  readonly guardsTools: boolean
  readonly compacts: boolean
  /** What the tool call functions need of this control. */
  private readonly toolCalls: ToolCallControl

  constructor(readonly env: AskEnv) {
    const { agent, session, limits, hooks } = env
    this.requestModel = env.provider.info.model
    this.started = env.now()
    this.askMeter = new Meter()
    this.scopes = [
      { scope: "ask", meter: this.askMeter, limits },
      { scope: "session", meter: session.meter, limits: session.limits },
      { scope: "agent", meter: agent.meter, limits: agent.budget.agent }
    ]
    const budgeted = this.scopes.some((scoped) => scoped.limits !== undefined)
    this.guardsModel = budgeted || hooks?.beforeModel !== undefined
    this.guardsTools =
      budgeted || hooks?.beforeTool !== undefined || hooks?.afterTool !== undefined || anyMarked(env.tools)
    this.compacts = agent.compaction.auto
    this.toolCalls = {
      env,
      scopes: this.scopes,
      live: () => this.live(),
      exceeded: (over, what) => this.exceeded(over, what),
      hook: (point, tool, run) => this.hook(point, tool, run),
      context: () => this.context()
    }
  }

  // accounting

  /** Prices one attempt's usage (by the model that answered, else the one asked) and counts it everywhere. */
  account(model: string | undefined, usage: Usage.Usage): void {
    if (usage === Usage.empty) return
    const name = model ?? this.requestModel
    const parts = partsOf(usage, priceOf(this.env.agent, name))
    if (
      parts === undefined &&
      usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens === 0
    ) {
      return
    }
    this.dollars.add(parts, name)
    this.turnDollars.add(parts, name)
    for (const { meter } of this.scopes) meter.addUsage(usage, parts, name)
  }

  /** The run's cost so far (every attempt, and compaction summaries). */
  get cost(): Cost.Cost {
    return this.dollars.toCost()
  }

  /** The cost of each completed turn, its retried attempts included. */
  get turnCosts(): ReadonlyArray<Cost.Cost> {
    for (let i = this.turnCostsBuilt.length; i < this.turnSums.length; i++) {
      this.turnCostsBuilt.push(this.turnSums[i]!.toCost())
    }
    return this.turnCostsBuilt
  }

  /** The turn's cost is complete (its response committed): it goes to `turnCosts`. */
  closeTurn(): void {
    this.turnSums.push(this.turnDollars)
    this.turnDollars = new CostSum()
  }

  /** The ask ended: its wall time goes to the session's and the agent's meters. Runs once. */
  end(): void {
    if (this.ended) return
    this.ended = true
    const elapsed = this.env.now() - this.started
    this.env.session.meter.wallTimeMs += elapsed
    this.env.agent.meter.wallTimeMs += elapsed
  }

  private live(): number {
    return this.ended ? 0 : this.env.now() - this.started
  }

  /** What the ask spent so far. */
  spent(): Cost.Spent {
    return this.askMeter.spent(this.live())
  }

  // errors

  private exceeded(over: Over, what: string): BudgetExceeded {
    return new BudgetExceeded({
      scope: over.scope,
      limit: over.limit,
      allowed: over.allowed,
      spent: over.spent,
      ...(over.needed === undefined ? {} : { needed: over.needed }),
      cost: this.cost,
      message: messageOf(over, what),
      partial: this.env.partial()
    })
  }

  /** Runs a hook with the agent's services; its failure or defect is `HookFailed`, its `Stop` `RunStopped`. */
  private hook<A>(
    point: HookPoint,
    tool: string | undefined,
    run: Effect.Effect<A, unknown, unknown>
  ): Effect.Effect<A, HookFailed | RunStopped> {
    return runHook(point, tool, run, this.env.context, this.env.partial)
  }

  private context(): Hooks.HookContext {
    const { env } = this
    return {
      turn: env.turn(),
      history: Ref.getUnsafe(env.history),
      get data() {
        return env.data()
      },
      usage: env.usage(),
      cost: this.cost
    }
  }

  // model calls

  /** The tokens of `request`: the agent's counter, else (or when it fails) the estimate. */
  count(request: Provider.Request): Effect.Effect<number> {
    const counter = this.env.agent.countTokens
    if (counter === undefined) return Effect.succeed(estimate(request))
    return Effect.orElseSucceed(counter(request), () => estimate(request))
  }

  /** Before a model call: the hooks (which may replace the request or stop), then the budgets. */
  beforeModel(request: Provider.Request, attempt: number): Effect.Effect<Provider.Request, HarnessError> {
    const hook = this.env.hooks?.beforeModel
    const hooked =
      hook === undefined
        ? Effect.succeed(request)
        : Effect.map(this.hook("beforeModel", undefined, hook({ ...this.context(), request, attempt })), (decision) =>
            decision?._tag === "ReplaceRequest" ? decision.request : request
          )
    return Effect.flatMap(hooked, (final) => {
      this.requestModel = final.model ?? this.env.provider.info.model
      if (!this.scopes.some((scoped) => scoped.limits !== undefined)) return Effect.succeed(final)
      return Effect.flatMap(this.count(final), (tokens) => {
        const usd = inputCost(priceOf(this.env.agent, this.requestModel), tokens)
        const over = overBeforeModel(this.scopes, tokens, usd, this.live())
        return over === undefined ? Effect.succeed(final) : Effect.fail(this.exceeded(over, "model call"))
      })
    })
  }

  /** After a committed response: the `afterModel` hooks. */
  afterModel(response: Hooks.Response): Effect.Effect<void, HarnessError> {
    const hook = this.env.hooks?.afterModel
    if (hook === undefined) return Effect.void
    return Effect.asVoid(
      this.hook(
        "afterModel",
        undefined,
        hook({ ...this.context(), response, turnCost: this.turnCosts.at(-1) ?? Cost.empty })
      )
    )
  }

  /** After a turn and its tool results: the `afterTurn` hooks. */
  afterTurn(
    response: Hooks.Response,
    results: ReadonlyArray<Message.ToolResultBlock>
  ): Effect.Effect<void, HarnessError> {
    const hook = this.env.hooks?.afterTurn
    if (hook === undefined) return Effect.void
    return Effect.asVoid(this.hook("afterTurn", undefined, hook({ ...this.context(), response, results })))
  }

  // tool calls

  /** Before a tool call: the hooks, then the tool's own approval mark. */
  gate(use: Message.ToolUseBlock): Effect.Effect<Gate, HarnessError> {
    return gate(this.toolCalls, use)
  }

  /**
   * Registers a call as waiting for approval (see `Approval`), or finds it waiting already (a
   * resumed pause): the wait for its decision.
   */
  requestApproval(pending: Approval.Pending): Effect.Effect<Approval.Decision> {
    return this.env.session.approvals.register(pending)
  }

  /** The session's waiting calls. */
  get approvals(): Approvals {
    return this.env.session.approvals
  }

  /**
   * Runs a tool call: the budgets first, then `call(input)` (a compute tool bounded by the compute
   * time left, its time counted), then the `afterTool` hooks.
   */
  runTool(
    use: Message.ToolUseBlock,
    input: unknown,
    call: (input: unknown) => Effect.Effect<Tool.Outcome>
  ): Effect.Effect<Tool.Outcome, HarnessError> {
    return runTool(this.toolCalls, use, input, call)
  }

  // compaction

  /**
   * Before a model turn: compacts the history when the request (`build()`, for `model`) passes
   * the threshold of the context window; the record of what was compacted, if anything was.
   * `undefined` when there is nothing to check (compaction off, or no window known).
   */
  compactIfNeeded(
    model: string | undefined,
    build: () => Provider.Request
  ): Effect.Effect<Compaction.Record | undefined, StoreError> | undefined {
    const { env } = this
    const settings = env.agent.compaction
    const window = settings.contextWindow ?? priceOf(env.agent, model ?? env.provider.info.model)?.contextWindow
    // no window known: nothing to compare with, and no request is built for it
    if (!settings.auto || window === undefined) return undefined
    return compactNearWindow({
      agent: env.agent,
      provider: env.provider,
      history: env.history,
      replace: env.replace,
      data: env.data(),
      now: env.wallNow(),
      limit: window * settings.threshold,
      request: build(),
      count: (request) => this.count(request),
      account: (model, usage) => {
        this.account(model, usage)
        env.addUsage(usage)
      },
      record: (record) => env.session.compactions.push(record)
    })
  }
}
