/**
 * The tools step of the loop: the committed turn's tool calls run (`toolConcurrency` at a time),
 * each pull emitting the next `tool_result`, and their results are committed as the next user
 * message before the next turn.
 *
 * @internal
 */
import { type Cause, Channel, Effect, Exit, Pull, Scope, Stream } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { type Step as SessionStep, toolResultsStep } from "../store/Step.js"
import { type Ask, end, type Phase, type Step } from "./askState.js"
import { controlledTools, resultEvent } from "./controlSteps.js"
import { notRun } from "./history.js"
import { callTool } from "./toolCalls.js"

/** Runs the tool calls `uses`; once every result is committed, the next pull runs `then()`. */
export const startTools = (ask: Ask, uses: ReadonlyArray<Message.ToolUseBlock>, then: () => Step): Step =>
  toolsPhase(
    ask,
    ask.state.control.guardsTools
      ? controlledTools(ask, uses)
      : Stream.fromIterable(uses).pipe(
          Stream.mapEffect((use) => runTool(ask, use), { concurrency: ask.config.toolConcurrency })
        ),
    then
  )

/**
 * The tools phase over `results` (the events of the pending calls, their results kept for the
 * commit as they come); once every result is committed, the next pull runs `then()`.
 */
export const toolsPhase = (
  ask: Ask,
  results: Stream.Stream<StreamEvent.StreamEvent, HarnessError>,
  then: () => Step
): Step => {
  const scope = Scope.forkUnsafe(ask.scope)
  const phase: Extract<Phase, { _tag: "Tools" }> = {
    _tag: "Tools",
    scope,
    next: Effect.flatMap(Channel.toPullScoped(Stream.toChannel(results), scope), (pull) => {
      phase.next = Effect.matchCauseEffect(pull, {
        onSuccess: (events) => Effect.succeed(events),
        onFailure: (cause) => toolsEnded(ask, phase, cause, then)
      })
      return phase.next
    })
  }
  ask.state.phase = phase
  return phase.next
}

/** One tool call; its result is kept for the commit. */
const runTool = (ask: Ask, use: Message.ToolUseBlock): Effect.Effect<StreamEvent.StreamEvent> =>
  Effect.map(ask.trace.tool(use, callTool(ask.tools, use)), (outcome) => resultEvent(ask, use, outcome))

/** Every tool call ran: their results are committed, then `then()`. */
const toolsEnded = (
  ask: Ask,
  phase: Extract<Phase, { _tag: "Tools" }>,
  cause: Cause.Cause<HarnessError | Cause.Done>,
  then: () => Step
): Step => {
  if (!Pull.isDoneCause(cause)) return end(ask, Effect.failCause(cause))
  return Effect.andThen(Effect.andThen(commitResults(ask), Scope.close(phase.scope, Exit.void)), Effect.suspend(then))
}

/** Error results for tool calls that will not run, as events (their blocks are kept for the commit). */
export const answerAll = (
  ask: Ask,
  uses: ReadonlyArray<Message.ToolUseBlock>,
  why: string
): Array<StreamEvent.StreamEvent> => {
  for (const block of notRun(uses, why)) ask.state.results.set(block.tool_use_id, block)
  return uses.map((use) => ({
    type: "tool_result",
    tool_use_id: use.id,
    tool_name: use.name,
    content: why,
    is_error: true
  }))
}

/**
 * What a call that did not run reads when its ask ended first.
 * @internal
 */
export const CUT_OFF = "Tool call did not run: the run ended before it finished."

/**
 * The step that answers every pending tool call (a synthetic error for one that has none), except
 * those in `open` (calls whose wait for approval outlives the ask): the next user message. The
 * calls are no longer pending.
 */
export const resultsStep = (ask: Ask, open?: ReadonlySet<string>): SessionStep => {
  const { state } = ask
  const blocks: Array<Message.ToolResultBlock> = []
  for (const use of state.pending ?? []) {
    if (open?.has(use.id) || state.committed.has(use.id)) continue
    blocks.push(state.results.get(use.id) ?? Message.toolResult(use.id, CUT_OFF, true))
  }
  state.pending = undefined
  state.results.clear()
  state.committed.clear()
  state.paused = false
  return toolResultsStep(blocks)
}

/** Commits a result for every pending tool call (see {@link resultsStep}). */
export const commitResults = (ask: Ask): Effect.Effect<void, HarnessError> =>
  Effect.suspend(() => ask.session.commit([resultsStep(ask)]))
