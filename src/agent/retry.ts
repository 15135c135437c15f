/**
 * Whether, and after how long, a failed model turn attempt is retried: the agent's `Schedule`
 * over the error (each turn gets the whole schedule, made at its first failure), and a server's
 * `retry-after` honoured up to `maxRetryAfter`; and the loop's step that retries or fails.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit, Option, Schedule } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import { isRetryable, ProviderError } from "../core/HarnessError.js"
import * as Usage from "../core/Usage.js"
import { failTurn } from "./askEnd.js"
import { type Ask, type AskState, emit, end, type Phase, type Step, withPartial } from "./askState.js"
import type { Config } from "./config.js"

/**
 * The delay before retrying after `error`, or a failure when it is not retried (not retryable,
 * retries off, or the schedule is done). `now` is the wall clock, as Effect's schedules expect.
 * @internal
 */
export const retryDelay = (
  config: Config,
  state: AskState,
  error: unknown,
  now: number
): Effect.Effect<Duration.Duration, unknown> => {
  const retry = config.retry
  if (retry === undefined || !isRetryable(error)) return Effect.fail(error)
  const step =
    state.retryStep !== undefined
      ? state.retryStep(now, error)
      : Effect.flatMap(Schedule.toStep(retry), (made) => {
          state.retryStep = made
          return made(now, error)
        })
  return Effect.map(step, ([, delay]) => {
    const retryAfter = error instanceof ProviderError ? error.retryAfter : undefined
    return retryAfter === undefined
      ? delay
      : Duration.max(delay, Duration.min(Duration.millis(retryAfter), config.maxRetryAfter))
  })
}

/**
 * Retries a retryable failure after the schedule's delay (a fresh attempt, `startAttempt`; after partial output
 * a `discard` event first), or fails the ask. Giving up leaves the attempt in progress for
 * `repair` (`askEnd.ts`), which keeps its partial text by policy and counts its usage.
 */
export const retryOrFail = (
  ask: Ask,
  phase: Extract<Phase, { _tag: "Model" }>,
  cause: Cause.Cause<unknown>,
  startAttempt: (attempt: number) => Step
): Step => {
  const failure = Cause.findErrorOption(cause)
  if (Cause.hasInterrupts(cause) || Option.isNone(failure))
    return end(ask, Effect.failCause(cause as Cause.Cause<never>))
  const error = failure.value
  const giveUp = () => end(ask, Effect.fail(withPartial(error, ask.state.partial()) as HarnessError))
  return Effect.flatMap(Effect.exit(retryDelay(ask.config, ask.state, error, ask.wallNow())), (delay): Step => {
    if (Exit.isFailure(delay)) return giveUp()
    const { state } = ask
    ask.trace.retrying(phase.attempt + 1, delay.value, error)
    state.usage = Usage.add(state.usage, phase.turn.usage)
    state.control.account(phase.turn.model, phase.turn.usage)
    state.turn = undefined
    const backoff = backoffPhase(ask, phase.attempt, delay.value, startAttempt)
    if (!phase.turn.emitted) {
      state.phase = backoff
      return backoff.next
    }
    const reason = (error as { readonly message?: unknown }).message
    return emit(ask, [{ type: "discard", attempt: phase.attempt, reason: String(reason) }], backoff)
  })
}

/** Waits `delay`, then starts the next attempt; when the turn's deadline comes first, fails at it. */
const backoffPhase = (
  ask: Ask,
  attempt: number,
  delay: Duration.Duration,
  startAttempt: (attempt: number) => Step
): Phase => {
  const deadline = ask.state.turnDeadline
  const remaining = deadline === undefined ? undefined : deadline - ask.now()
  const next: Step =
    remaining !== undefined && remaining <= Duration.toMillis(delay)
      ? Effect.andThen(Effect.sleep(Math.max(0, remaining)), failTurn(ask))
      : Effect.andThen(
          Effect.sleep(delay),
          Effect.suspend(() => startAttempt(attempt + 1))
        )
  return { _tag: "Backoff", next }
}
