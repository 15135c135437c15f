/**
 * The loop's side of control (`src/control`): the ask's `AskControl` made from the ask, and the
 * steps the loop runs around its model calls, its tool calls and its turns (hooks, budgets,
 * approval pauses, compaction). Each step does nothing, and builds no Effect, when the agent has
 * nothing to run there.
 *
 * @internal
 */
import { Effect, Ref, Stream } from "effect"
import * as Approval from "../control/Approval.js"
import { AskControl } from "../control/askControl.js"
import { composeHooks, sessionControl } from "../control/control.js"
import type { HarnessError } from "../core/HarnessError.js"
import { Partial } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type { TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"
import { approvalRequestedStep, compactedStep, type PendingApproval, toolResultsStep } from "../store/Step.js"
import type * as Tool from "../tools/Tool.js"
import { type Ask, type AskState, emit, end, type Step } from "./askState.js"
import { callTool, ToolIndex } from "./toolCalls.js"

/** The ask's output so far for an error: the turn in progress, else the last committed turn. */
const partialNow = (state: AskState): Partial => {
  if (state.turn !== undefined || state.response === undefined) return state.partial()
  const content = state.response.content
  return new Partial({ text: Message.textOf(content), content, usage: state.usage })
}

/**
 * The control of a new ask: the agent's hooks then the ask's, the ask's budget (else the
 * agent's default for asks), the session's control state.
 * @internal
 */
export const makeAskControl = (ask: Ask): AskControl => {
  const { config, session, state } = ask
  const control = config.control
  const index = ToolIndex.of(config.tools)
  const hooks =
    config.askHooks === undefined || control.hooks === undefined
      ? (config.askHooks ?? control.hooks)
      : composeHooks([control.hooks, config.askHooks])
  return new AskControl({
    agent: control,
    session: sessionControl(session, control),
    provider: config.provider,
    context: config.context,
    hooks,
    limits: config.askLimits ?? control.budget.ask,
    history: session.history,
    replace: (history) => session.commit([compactedStep(history)]),
    data: () => session.data,
    turn: () => state.turns,
    usage: () => state.usage,
    addUsage: (usage) => {
      state.usage = Usage.add(state.usage, usage)
    },
    partial: () => partialNow(state),
    now: ask.now,
    wallNow: ask.wallNow,
    tools: config.tools,
    tool: (name) => index.byName.get(name)
  })
}

/** `effect`'s value to `next`, or the ask ends with its failure. */
const orEnd = <A>(ask: Ask, effect: Effect.Effect<A, HarnessError>, next: (value: A) => Step): Step =>
  Effect.matchEffect(effect, {
    onFailure: (error) => end(ask, Effect.fail(error)),
    onSuccess: next
  })

// model calls

/** Before a model call: the `beforeModel` hooks and the budgets over `request`, then `open` it. */
export const beforeModel = (
  ask: Ask,
  attempt: number,
  request: Provider.Request,
  open: (request: Provider.Request) => Step
): Step => {
  const control = ask.state.control
  return control.guardsModel ? orEnd(ask, control.beforeModel(request, attempt), open) : open(request)
}

/** The response as hooks see it. */
const responseOf = (response: TurnResult) => ({
  model: response.model,
  stopReason: response.stopReason,
  content: response.content,
  usage: response.usage
})

/** After a committed response: its cost closes the turn's, then the `afterModel` hooks, then `next`. */
export const afterModel = (ask: Ask, next: () => Step): Step => {
  const control = ask.state.control
  if (control.env.hooks?.afterModel === undefined) return next()
  return orEnd(ask, control.afterModel(responseOf(ask.state.response!)), next)
}

/** After a turn and its tool results: the `afterTurn` hooks, then `next`. */
export const afterTurn = (ask: Ask, next: () => Step): Step => {
  const control = ask.state.control
  if (control.env.hooks?.afterTurn === undefined) return next()
  const history = Ref.getUnsafe(ask.session.history)
  const last = history[history.length - 1]
  const results =
    last?.role === "user" ? last.content.filter((b): b is Message.ToolResultBlock => b.type === "tool_result") : []
  return orEnd(ask, control.afterTurn(responseOf(ask.state.response!), results), next)
}

/**
 * Before a model turn: compacts the history when `request()` nears the context window, then
 * `next`, given the request the check built when the history stayed as it was (so the turn does
 * not build it again).
 */
export const compactBeforeTurn = (
  ask: Ask,
  request: () => Provider.Request,
  next: (built?: Provider.Request) => Step
): Step => {
  const control = ask.state.control
  if (!control.compacts) return next()
  let built: Provider.Request | undefined
  const check = control.compactIfNeeded(ask.config.params.model, () => {
    built = request()
    return built
  })
  if (check === undefined) return next()
  return orEnd(ask, check, (record): Step => {
    if (record === undefined) return next(built)
    const event: StreamEvent.Compaction = {
      type: "compaction",
      reason: record.reason,
      summarised: record.summarised,
      offloaded: record.offloaded.map((o) => o.handle),
      tokens_before: record.tokensBefore,
      tokens_after: record.tokensAfter
    }
    return emit(ask, [event], { _tag: "Starting", next: Effect.suspend(() => next()) })
  })
}

// tool calls

/** The outcome of `use` kept for the commit, as its `tool_result` event. */
export const resultEvent = (ask: Ask, use: Message.ToolUseBlock, outcome: Tool.Outcome): StreamEvent.ToolResult => {
  ask.state.results.set(use.id, Message.toolResult(use.id, outcome.content, outcome.isError))
  return {
    type: "tool_result",
    tool_use_id: use.id,
    tool_name: use.name,
    content: outcome.content,
    is_error: outcome.isError
  }
}

/**
 * The outcome of `use` kept for the commit (`resultEvent`); once a call of the turn paused for
 * approval, also committed now, so that with a store it outlives a crash while the pause lasts.
 */
const keep = (
  ask: Ask,
  use: Message.ToolUseBlock,
  outcome: Tool.Outcome
): Effect.Effect<StreamEvent.ToolResult, HarnessError> => {
  const event = resultEvent(ask, use, outcome)
  return ask.state.paused ? Effect.as(commitKept(ask), event) : Effect.succeed(event)
}

/** Commits the results kept and not committed yet (a turn with a paused call commits them as they come). */
const commitKept = (ask: Ask): Effect.Effect<void, HarnessError> =>
  Effect.suspend(() => {
    const { state } = ask
    const blocks = [...state.results.values()].filter((block) => !state.committed.has(block.tool_use_id))
    if (blocks.length === 0) return Effect.void
    for (const block of blocks) state.committed.add(block.tool_use_id)
    return ask.session.commit([toolResultsStep(blocks)])
  })

/** Runs `use` with `input` under the ask's control (budgets, compute limit, `afterTool` hooks). */
const run = (ask: Ask, use: Message.ToolUseBlock, input: unknown) =>
  Effect.flatMap(
    ask.state.control.runTool(use, input, (given) => {
      const called = given === use.input ? use : { ...use, input: given }
      return ask.trace.tool(called, callTool(ask.tools, called))
    }),
    (outcome) => keep(ask, use, outcome)
  )

/** One tool call under control: denied, run, or paused for approval (an `approval_request` first). */
const controlledTool = (ask: Ask, use: Message.ToolUseBlock): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  Stream.unwrap(
    Effect.map(ask.state.control.gate(use), (gate): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
      switch (gate._tag) {
        case "Deny":
          return Stream.fromEffect(keep(ask, use, { content: gate.message, isError: true }))
        case "Run":
          return Stream.fromEffect(run(ask, use, gate.input))
        case "Approval": {
          // as the store keeps it: its input is the model's JSON, or what a hook put there
          const approval: PendingApproval = {
            toolUseId: use.id,
            tool: use.name,
            input: gate.input as PendingApproval["input"],
            ...(gate.reason === undefined ? {} : { reason: gate.reason }),
            requestedAt: ask.wallNow()
          }
          // the pause is committed (with a store, durable) before it is registered and announced,
          // with the results of the turn so far; from now on each result is committed as it comes
          ask.state.paused = true
          return Stream.unwrap(
            Effect.andThen(
              Effect.andThen(commitKept(ask), ask.session.commit([approvalRequestedStep(approval)])),
              Effect.sync(() => awaitDecision(ask, use, new Approval.Pending(approval)))
            )
          )
        }
      }
    })
  )

/**
 * What the model reads as the result of a call denied with `reason`.
 * @internal
 */
export const deniedText = (reason: string): string => `This tool call was denied: ${reason}`

/**
 * A paused call: its `approval_request` (unless it was decided already, as a resumed pause may
 * be), then, once decided, its run or its denial as a `tool_result`. It is registered before the
 * event goes out: a consumer may decide as soon as it sees it.
 */
const awaitDecision = (
  ask: Ask,
  use: Message.ToolUseBlock,
  pending: Approval.Pending
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
  const control = ask.state.control
  const decided = control.approvals.get(use.id)?.decision !== undefined
  const decision = control.requestApproval(pending)
  const request: StreamEvent.ApprovalRequest = {
    type: "approval_request",
    tool_use_id: use.id,
    tool_name: use.name,
    input: pending.input,
    ...(pending.reason === undefined ? {} : { reason: pending.reason })
  }
  const result = Effect.flatMap(decision, (decision) =>
    decision._tag === "Approved"
      ? run(ask, use, "input" in decision ? decision.input : pending.input)
      : keep(ask, use, { content: deniedText(decision.reason), isError: true })
  )
  return decided ? Stream.fromEffect(result) : Stream.concat(Stream.succeed(request), Stream.fromEffect(result))
}

/**
 * The events of the calls a resumed ask finds waiting (`uses`, each with its pending value), one
 * at a time in call order: each announced again (unless decided already), then run or denied.
 * @internal
 */
export const resumedTools = (
  ask: Ask,
  waiting: ReadonlyArray<readonly [Message.ToolUseBlock, Approval.Pending]>
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  Stream.fromIterable(waiting).pipe(Stream.flatMap(([use, pending]) => awaitDecision(ask, use, pending)))

/**
 * The events of the tool calls `uses` under control, `toolConcurrency` at a time (in call order
 * when one at a time; as they come when several).
 * @internal
 */
export const controlledTools = (
  ask: Ask,
  uses: ReadonlyArray<Message.ToolUseBlock>
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  Stream.fromIterable(uses).pipe(
    Stream.flatMap((use) => controlledTool(ask, use), { concurrency: ask.config.toolConcurrency })
  )
