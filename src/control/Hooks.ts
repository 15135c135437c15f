/**
 * Hooks: Effects the agent runs before and after each model call, before and after each tool
 * call, and after each turn. A hook sees where the run is (the request, the response, the tool
 * call and its result, the history, the data, what was spent) and decides: go on (return
 * nothing), replace something, deny a tool call, ask for approval, or stop the run.
 *
 * | hook | sees | may return |
 * | --- | --- | --- |
 * | `beforeModel` | the request about to be sent (each attempt, retries too) | {@link replaceRequest}, {@link stop} |
 * | `afterModel` | the committed response and its cost | {@link stop} |
 * | `beforeTool` | the tool call (name, id, input) | {@link deny}, {@link replaceInput}, {@link requireApproval}, {@link stop} |
 * | `afterTool` | the call and its result, how long it ran | {@link replaceResult}, {@link stop} |
 * | `afterTurn` | the turn's response and its tool results | {@link stop} |
 *
 * Hooks are given as a list (`Agent.make({ hooks: [a, b] })`, and per ask `session.ask(prompt,
 * { hooks })`, which run after the agent's) and run in order: a replaced request, input or result
 * is what the next hook sees; the first `deny` or `stop` ends the chain. A `requireApproval` is
 * remembered while the chain goes on (a later hook may still deny), then pauses the call (see
 * `Approval`). A hook's services (`R`) are required by `Agent.make`, like a tool handler's.
 *
 * A hook that fails or dies ends the run with `HookFailed`; a `stop` ends it with `RunStopped`.
 * Either way the history stays valid (a tool call that did not run is answered with an error
 * result). A `deny` is an error result the model reads, and the run goes on.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Hooks } from "data-harness"
 *
 * const noDeletes: Hooks.Hooks = {
 *   beforeTool: (call) =>
 *     Effect.succeed(
 *       call.name === "sql" && /\bdelete\b/i.test(JSON.stringify(call.input))
 *         ? Hooks.deny("DELETE is not allowed here; query only.")
 *         : undefined
 *     )
 * }
 * const agent = yield* Agent.make({ hooks: [noDeletes] })
 * ```
 * @since 0.2.0
 */
import { Effect } from "effect"
import type * as Cost from "../core/Cost.js"
import type * as Message from "../core/Message.js"
import type { StopReason } from "../core/NormalizedResponse.js"
import type * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"

// what hooks see

/**
 * What every hook sees: where the ask is, and what it has spent.
 * @since 0.2.0
 */
export interface HookContext {
  /** The model turn of the ask, from 1. */
  readonly turn: number
  /** The session's history as committed so far. */
  readonly history: Message.History
  /** The session's data handles. */
  readonly data: Data.Store
  /** The ask's usage so far. */
  readonly usage: Usage.Usage
  /** The ask's cost so far. */
  readonly cost: Cost.Cost
}

/**
 * A model response as the hooks see it.
 * @since 0.2.0
 */
export interface Response {
  readonly model?: string | undefined
  readonly stopReason: StopReason | (string & {})
  readonly content: ReadonlyArray<Message.ContentBlock>
  readonly usage: Usage.Usage
}

/**
 * What `beforeModel` sees: the request about to be sent, and which attempt of the turn it is.
 * @since 0.2.0
 */
export interface BeforeModel extends HookContext {
  readonly request: Provider.Request
  readonly attempt: number
}

/**
 * What `afterModel` sees: the committed response and what it cost.
 * @since 0.2.0
 */
export interface AfterModel extends HookContext {
  readonly response: Response
  readonly turnCost: Cost.Cost
}

/**
 * What `beforeTool` sees: one tool call of the model.
 * @since 0.2.0
 */
export interface BeforeTool extends HookContext {
  readonly toolUseId: string
  readonly name: string
  /** The input as the model wrote it (or as an earlier hook replaced it). */
  readonly input: unknown
}

/**
 * What `afterTool` sees: the call, its result, and how long it ran (milliseconds).
 * @since 0.2.0
 */
export interface AfterTool extends BeforeTool {
  readonly result: Tool.Outcome
  readonly durationMs: number
}

/**
 * What `afterTurn` sees: the turn's response and the results of its tool calls (none for a final
 * turn).
 * @since 0.2.0
 */
export interface AfterTurn extends HookContext {
  readonly response: Response
  readonly results: ReadonlyArray<Message.ToolResultBlock>
}

// decisions

/**
 * End the run with `RunStopped` and this reason.
 * @since 0.2.0
 */
export interface Stop {
  readonly _tag: "Stop"
  readonly reason: string
}

/**
 * Send this request instead.
 * @since 0.2.0
 */
export interface ReplaceRequest {
  readonly _tag: "ReplaceRequest"
  readonly request: Provider.Request
}

/**
 * Do not run the tool call; the model reads `message` as its error result.
 * @since 0.2.0
 */
export interface Deny {
  readonly _tag: "Deny"
  readonly message: string
}

/**
 * Run the tool call with this input instead (the history keeps the model's own call).
 * @since 0.2.0
 */
export interface ReplaceInput {
  readonly _tag: "ReplaceInput"
  readonly input: unknown
}

/**
 * Pause the call until `session.approve(id)` or `session.deny(id, reason)` (see `Approval`).
 * @since 0.2.0
 */
export interface RequireApproval {
  readonly _tag: "RequireApproval"
  readonly reason?: string | undefined
  /** The input to run the call with once approved (an earlier hook's replacement). */
  readonly input?: unknown
}

/**
 * The model reads this result instead of the tool's.
 * @since 0.2.0
 */
export interface ReplaceResult {
  readonly _tag: "ReplaceResult"
  readonly result: Tool.Outcome
}

/** Go on unchanged. */
type Proceed = void | undefined

/**
 * What `beforeModel` returns: nothing (send the request), {@link replaceRequest} or {@link stop}.
 * @since 0.2.0
 */
export type BeforeModelDecision = Proceed | ReplaceRequest | Stop
/**
 * What `afterModel` returns: nothing (go on) or {@link stop}.
 * @since 0.2.0
 */
export type AfterModelDecision = Proceed | Stop
/**
 * What `beforeTool` returns: nothing (run the call), {@link deny}, {@link replaceInput},
 * {@link requireApproval} or {@link stop}.
 * @since 0.2.0
 */
export type BeforeToolDecision = Proceed | Deny | ReplaceInput | RequireApproval | Stop
/**
 * What `afterTool` returns: nothing (the tool's result), {@link replaceResult} or {@link stop}.
 * @since 0.2.0
 */
export type AfterToolDecision = Proceed | ReplaceResult | Stop
/**
 * What `afterTurn` returns: nothing (go on) or {@link stop}.
 * @since 0.2.0
 */
export type AfterTurnDecision = Proceed | Stop

/**
 * Hooks, each optional. A hook may fail with any error: the run ends with `HookFailed`.
 * @since 0.2.0
 */
export interface Hooks<R = never> {
  readonly beforeModel?: ((context: BeforeModel) => Effect.Effect<BeforeModelDecision, unknown, R>) | undefined
  readonly afterModel?: ((context: AfterModel) => Effect.Effect<AfterModelDecision, unknown, R>) | undefined
  readonly beforeTool?: ((context: BeforeTool) => Effect.Effect<BeforeToolDecision, unknown, R>) | undefined
  readonly afterTool?: ((context: AfterTool) => Effect.Effect<AfterToolDecision, unknown, R>) | undefined
  readonly afterTurn?: ((context: AfterTurn) => Effect.Effect<AfterTurnDecision, unknown, R>) | undefined
}

/**
 * Any hooks.
 * @since 0.2.0
 */
// biome-ignore lint/suspicious/noExplicitAny: variance of the context parameter
export type Any = Hooks<any>

// constructors

/**
 * Ends the run with `RunStopped`: `Hooks.stop("over the row limit")`.
 * @since 0.2.0
 */
export const stop = (reason: string): Stop => ({ _tag: "Stop", reason })

/**
 * Sends `request` instead of the one built (`beforeModel`).
 * @since 0.2.0
 */
export const replaceRequest = (request: Provider.Request): ReplaceRequest => ({ _tag: "ReplaceRequest", request })

/**
 * Refuses a tool call (`beforeTool`): the model reads `message` as the call's error result.
 * @since 0.2.0
 */
export const deny = (message: string): Deny => ({ _tag: "Deny", message })

/**
 * Runs a tool call with `input` instead of the model's (`beforeTool`).
 * @since 0.2.0
 */
export const replaceInput = (input: unknown): ReplaceInput => ({ _tag: "ReplaceInput", input })

/**
 * Pauses a tool call for approval (`beforeTool`): the ask emits an `approval_request` event and
 * waits for `session.approve(id)` or `session.deny(id, reason)`.
 * @since 0.2.0
 */
export const requireApproval = (reason?: string): RequireApproval => ({ _tag: "RequireApproval", reason })

/**
 * Gives the model `content` as the call's result instead of the tool's (`afterTool`).
 * @since 0.2.0
 */
export const replaceResult = (
  content: string,
  options?: { readonly isError?: boolean | undefined }
): ReplaceResult => ({
  _tag: "ReplaceResult",
  result: { content, isError: options?.isError ?? false }
})

// combinators

/**
 * One set of hooks that runs `hooks` in order at each point (what a list given to `Agent.make`
 * does): a replaced request, input or result is what the next hook sees; the first `deny` or
 * `stop` ends the chain; a `requireApproval` is kept while the chain goes on.
 *
 * @example
 * ```ts
 * const guarded = Hooks.compose(Guardrails.sqlCostGuard({ maxRows: 10_000_000 }), Guardrails.redact())
 * ```
 * @since 0.2.0
 */
export const compose = <R>(...hooks: ReadonlyArray<Hooks<R>>): Hooks<R> => {
  const at = <P extends keyof Hooks>(point: P) =>
    hooks.map((hook) => hook[point]).filter((f) => f !== undefined) as unknown as ReadonlyArray<
      NonNullable<Hooks<R>[P]>
    >
  const beforeModel = at("beforeModel")
  const afterModel = at("afterModel")
  const beforeTool = at("beforeTool")
  const afterTool = at("afterTool")
  const afterTurn = at("afterTurn")
  return {
    beforeModel: pick(beforeModel, (context) => beforeModelChain(beforeModel, context, 0, undefined)),
    afterModel: pick(afterModel, (context) => stopChain(afterModel, context, 0)),
    beforeTool: pick(beforeTool, (context) => beforeToolChain(beforeTool, context, 0, undefined, undefined)),
    afterTool: pick(afterTool, (context) => afterToolChain(afterTool, context, 0, undefined)),
    afterTurn: pick(afterTurn, (context) => stopChain(afterTurn, context, 0))
  }
}

/** No hook at a point (`undefined`), its one hook, or the chain of several. */
const pick = <F>(fns: ReadonlyArray<F>, chained: F): F | undefined =>
  fns.length === 0 ? undefined : fns.length === 1 ? fns[0] : chained

const stopChain = <C, R>(
  fns: ReadonlyArray<(context: C) => Effect.Effect<Proceed | Stop, unknown, R>>,
  context: C,
  i: number
): Effect.Effect<Proceed | Stop, unknown, R> =>
  i === fns.length
    ? Effect.void
    : Effect.flatMap(fns[i]!(context), (decision) =>
        decision?._tag === "Stop" ? Effect.succeed(decision) : stopChain(fns, context, i + 1)
      )

const beforeModelChain = <R>(
  fns: ReadonlyArray<(context: BeforeModel) => Effect.Effect<BeforeModelDecision, unknown, R>>,
  context: BeforeModel,
  i: number,
  replaced: ReplaceRequest | undefined
): Effect.Effect<BeforeModelDecision, unknown, R> =>
  i === fns.length
    ? Effect.succeed(replaced)
    : Effect.flatMap(fns[i]!(context), (decision) => {
        if (decision?._tag === "Stop") return Effect.succeed(decision)
        if (decision?._tag !== "ReplaceRequest") return beforeModelChain(fns, context, i + 1, replaced)
        return beforeModelChain(fns, { ...context, request: decision.request }, i + 1, decision)
      })

const beforeToolChain = <R>(
  fns: ReadonlyArray<(context: BeforeTool) => Effect.Effect<BeforeToolDecision, unknown, R>>,
  context: BeforeTool,
  i: number,
  replaced: ReplaceInput | undefined,
  approval: RequireApproval | undefined
): Effect.Effect<BeforeToolDecision, unknown, R> => {
  if (i === fns.length) {
    if (approval === undefined) return Effect.succeed(replaced)
    return Effect.succeed(replaced === undefined ? approval : { ...approval, input: replaced.input })
  }
  return Effect.flatMap(fns[i]!(context), (decision) => {
    switch (decision?._tag) {
      case "Stop":
      case "Deny":
        return Effect.succeed(decision)
      case "ReplaceInput":
        return beforeToolChain(fns, { ...context, input: decision.input }, i + 1, decision, approval)
      case "RequireApproval": {
        const next = decision.input === undefined ? context : { ...context, input: decision.input }
        const input = decision.input === undefined ? replaced : replaceInput(decision.input)
        return beforeToolChain(fns, next, i + 1, input, approval ?? decision)
      }
      default:
        return beforeToolChain(fns, context, i + 1, replaced, approval)
    }
  })
}

const afterToolChain = <R>(
  fns: ReadonlyArray<(context: AfterTool) => Effect.Effect<AfterToolDecision, unknown, R>>,
  context: AfterTool,
  i: number,
  replaced: ReplaceResult | undefined
): Effect.Effect<AfterToolDecision, unknown, R> =>
  i === fns.length
    ? Effect.succeed(replaced)
    : Effect.flatMap(fns[i]!(context), (decision) => {
        if (decision?._tag === "Stop") return Effect.succeed(decision)
        if (decision?._tag !== "ReplaceResult") return afterToolChain(fns, context, i + 1, replaced)
        return afterToolChain(fns, { ...context, result: decision.result }, i + 1, decision)
      })
