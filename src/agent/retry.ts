/**
 * Whether, and after how long, a failed model turn attempt is retried: the agent's `Schedule`
 * over the error (each turn gets the whole schedule, made at its first failure), and a server's
 * `retry-after` honoured up to `maxRetryAfter`.
 *
 * @internal
 */
import { Duration, Effect, Schedule } from "effect"
import { isRetryable, ProviderError } from "../core/HarnessError.js"
import type { AskState } from "./askState.js"
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
