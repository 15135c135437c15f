/**
 * The durable approval pause, as the loop sees it. With a session store, a tool call that waits
 * for approval is committed as waiting (`ApprovalRequested`) before its `approval_request` goes
 * out, and its wait outlives the ask: an ask that ends while calls wait (interrupted, its
 * consumer gone, its process stopped) leaves them open in the history and in
 * `session.approvals`. Then either
 * - `session.resume` continues the ask ({@link resumeAt}): the waiting calls are announced
 *   again, run or denied once decided, and the model's next turn follows; or
 * - a new prompt moves on ({@link commitPrompt}): the waiting calls are answered "not run" first.
 *
 * Without a store nothing outlives the process, so an ask that ends answers its waiting calls
 * with synthetic error results, as it answers any call that did not run.
 *
 * @internal
 */
import { Cause, Effect, Exit, Ref, Stream } from "effect"
import type * as Approval from "../control/Approval.js"
import type { HarnessError } from "../core/HarnessError.js"
import { NothingToResume } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import { toolResultsStep, userStep } from "../store/Step.js"
import type { StoreError } from "../store/StoreError.js"
import type { Ask, Step } from "./askState.js"
import { deniedText, resumedTools } from "./controlSteps.js"
import { answerAll, CUT_OFF, toolsPhase } from "./toolRun.js"

/**
 * What a call left waiting reads when a new prompt came first: why it did not run, by what was
 * decided about it (a denial reads as any denial).
 */
const superseded = (decision: Approval.Decision | undefined): string =>
  decision === undefined
    ? "Not run: the conversation went on (a new message came) before this call was approved."
    : decision._tag === "Approved"
      ? "Not run: it was approved, but the conversation went on (a new message came) before it ran."
      : deniedText(decision.reason)

/**
 * A new prompt is the user message (a new ask starts). Calls an earlier ask left waiting are
 * answered "not run" first (the model reads why) and wait no more, so the prompt follows a valid
 * history; both in one commit.
 * @internal
 */
export const commitPrompt = (ask: Ask, prompt: ReadonlyArray<Message.ContentBlock>): Effect.Effect<void, StoreError> =>
  Effect.suspend(() => {
    const open = Message.openToolUses(Ref.getUnsafe(ask.session.history))
    const approvals = ask.state.control.approvals
    const answers = open.map((use) => Message.toolResult(use.id, superseded(approvals.get(use.id)?.decision), true))
    approvals.release(open.map((use) => use.id))
    const steps = answers.length === 0 ? [] : [toolResultsStep(answers)]
    return ask.session.commit([...steps, userStep(prompt)], { startsAsk: true })
  })

/**
 * A resumed ask starts where the earlier one left off: with the open calls of the last turn (the
 * waiting ones announced again unless decided, and run or denied once decided; any other answered
 * "did not run"), then `afterCalls(uses)` goes on; or at the next model turn when the history
 * ends with a user message no turn answered. Else `NothingToResume`.
 */
export const resumeAt = (
  ask: Ask,
  afterCalls: (uses: ReadonlyArray<Message.ToolUseBlock>) => Step
): Effect.Effect<void, StoreError | NothingToResume> =>
  Effect.andThen(
    ask.session.commit([], { startsAsk: true }),
    Effect.suspend(() => {
      const history = Ref.getUnsafe(ask.session.history)
      const uses = Message.openToolUses(history)
      if (uses.length > 0) {
        const events = resumedCalls(ask, history, uses)
        ask.state.phase = {
          _tag: "Starting",
          next: Effect.suspend(() => toolsPhase(ask, events, () => afterCalls(uses)))
        }
        return Effect.void
      }
      // the phase the ask was made with: a model turn
      if (history.at(-1)?.role === "user") return Effect.void
      return Effect.fail(
        new NothingToResume({
          message:
            history.length === 0
              ? "This session has no messages: there is nothing to resume. Ask instead."
              : "No tool call waits for approval and the last ask ended with the model's answer: there is nothing to resume. Ask instead."
        })
      )
    })
  )

/** The events of the open calls `uses` of a resumed ask, `history` its session's (now its pending calls, under the turn that made them). */
const resumedCalls = (
  ask: Ask,
  history: Message.History,
  uses: ReadonlyArray<Message.ToolUseBlock>
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
  const { state } = ask
  const approvals = state.control.approvals
  const turn = history.findLast((message) => message.role === "assistant")!
  state.pending = uses
  // the turn that made the calls, as the hooks after it see it (its usage was counted by its own ask)
  state.response = { content: [...turn.content], stopReason: "tool_use", usage: Usage.empty }
  const waiting = uses.flatMap((use) => {
    const entry = approvals.get(use.id)
    return entry === undefined ? [] : [[use, entry.pending] as const]
  })
  const rest = uses.filter((use) => !approvals.has(use.id))
  // results are committed as they come while a call waits
  state.paused = waiting.length > 0
  return Stream.concat(Stream.fromIterable(answerAll(ask, rest, CUT_OFF)), resumedTools(ask, waiting))
}

/**
 * As an ask ends: the pending calls whose wait for approval outlives it (see the module comment),
 * left open by its last commit. The waits of every other pending call are released.
 */
export const keptOpen = (ask: Ask, exit: Exit.Exit<unknown, unknown>): ReadonlySet<string> | undefined => {
  const { state, session } = ask
  const pending = state.pending
  if (pending === undefined) return undefined
  const approvals = state.control.approvals
  const failed = Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
  const open = new Set<string>()
  for (const use of pending) {
    if (session.stored !== undefined && !failed && !state.results.has(use.id) && approvals.has(use.id)) {
      open.add(use.id)
    } else {
      approvals.release([use.id])
    }
  }
  return open.size === 0 ? undefined : open
}
