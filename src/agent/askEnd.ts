/**
 * How an ask ends: {@link finish} when the run is over, {@link repair} when its stream closes
 * however it ended (the history left valid), {@link failTurn} at the turn's deadline.
 *
 * @internal
 */
import { Cause, Effect, type Exit } from "effect"
import type { Timeout } from "../core/HarnessError.js"
import type { RunResult } from "../core/RunResult.js"
import type { TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import { type Step as SessionStep, turnStep } from "../store/Step.js"
import { type Ask, keptOfPartial, type Phase, timeoutError } from "./askState.js"
import { keptOpen } from "./pause.js"
import { resultsStep } from "./toolRun.js"

/** The run ends with `status`: the stream ends, or fails with `onMaxTurns` at the turn limit. */
export const finish = (ask: Ask, status: RunResult["status"], response: TurnResult): Phase => {
  ask.state.ending = { status, response }
  const onMaxTurns = ask.options?.onMaxTurns
  return {
    _tag: "Ended",
    next:
      status === "max_turns" && onMaxTurns !== undefined ? Effect.fail(onMaxTurns(ask.state.result())) : Cause.done()
  }
}

/**
 * Runs when the ask's stream closes, however it ends: pending tool calls get results (except,
 * with a store, those whose wait for approval outlives the ask), the turn
 * in progress is kept (its text) or dropped by policy, the run's usage is added to the session's,
 * and a completed run reports its result.
 */
export const repair = (ask: Ask, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const { state, session, config } = ask
    // with a store, calls waiting for approval outlive the ask (pause.ts): they stay open
    const open = keptOpen(ask, exit)
    const steps: Array<SessionStep> = state.pending === undefined ? [] : [resultsStep(ask, open)]
    const turn = state.turn
    ask.trace.ended(exit, turn)
    state.turn = undefined
    if (turn !== undefined) {
      state.usage = Usage.add(state.usage, turn.usage)
      state.control.account(turn.model, turn.usage)
    }
    state.control.end()
    if (turn !== undefined && config.partialTurn === "keep") steps.push(turnStep(keptOfPartial(turn), Usage.empty))
    // one commit with the run's usage not yet committed; a store that fails it marks the session
    // for a reload at its next ask (this runs as the ask closes: there is nobody to fail)
    const committed = Effect.ignore(session.commit(steps, { askUsage: state.usage }))
    return Effect.andThen(
      committed,
      Effect.sync(() => {
        const onResult = ask.options?.onResult
        if (state.ending !== undefined && onResult !== undefined) onResult(state.result())
      })
    )
  })

/** Fails with the turn's timeout (its partial output as it is when it fires). */
export const failTurn = (ask: Ask): Effect.Effect<never, Timeout> =>
  Effect.suspend(() => Effect.fail(timeoutError("turn", ask.config.timeouts.turn!, ask.state, "The model turn")))
