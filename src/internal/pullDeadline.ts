/**
 * Per-pull deadlines on a stream (the agent's `firstEvent` and `idle` timeouts) without a timer
 * per pull.
 *
 * `Effect.timeoutOrElse` around every pull forks two fibers and arms a timer for each network
 * read; with 1,000 concurrent streams that was the harness's largest cost per delta. Here each
 * stream gets two fibers for its whole life:
 *
 * - a **puller** runs the upstream pull, one pull per downstream pull (still pull-driven: nothing
 *   is read ahead), and hands the result to the waiting consumer;
 * - a **watchdog** sleeps on Effect's `Clock` until the deadline of the pull in progress, then
 *   checks it again: if that pull is still waiting past its deadline the consumer fails with the
 *   timeout error, otherwise it sleeps until the next deadline. A watchdog that wakes with no pull
 *   in progress waits for the next one.
 *
 * So a timer is armed about once per limit, not once per pull. The watchdog never sleeps longer
 * than the smallest limit, so a deadline that moves earlier (a shorter `idle` after a long
 * `firstEvent`) is still met: every pull starts after the watchdog went to sleep, so its deadline
 * is at least that far away. Interrupting the consumer, or the end of the stream, closes the
 * stream's scope, which interrupts both fibers and with them the upstream pull in progress.
 *
 * @internal
 */
import { type Cause, Duration, Effect, Exit, type Pull, Stream } from "effect"
import type * as Arr from "effect/Array"

type Chunk<A> = Arr.NonEmptyReadonlyArray<A>
type Resume<A, E> = (effect: Effect.Effect<Chunk<A>, E | Cause.Done>) => void

/**
 * `self` where the consumer's pull fails with `onTimeout(first, limit)` once it has waited
 * `limit(first)` (none when `undefined`); `first` is whether no chunk has arrived yet.
 * @internal
 */
export const withPullDeadlines = <A, E, E2>(
  self: Stream.Stream<A, E>,
  limit: (first: boolean) => Duration.Duration | undefined,
  onTimeout: (first: boolean, limit: Duration.Duration) => E2
): Stream.Stream<A, E | E2> => {
  const limits = [limit(true), limit(false)].filter((l) => l !== undefined).map(Duration.toMillis)
  if (limits.length === 0) return self
  const maxSleep = Math.min(...limits)
  return Stream.transformPull(self, (upstream, scope) =>
    Effect.clockWith((clock) => {
      let first = true
      /** The consumer's pull in progress: its resume, when it started, and its limit. */
      let consumer: Resume<A, E | E2> | undefined
      let startedAt = 0
      let limitMillis: number | undefined
      /** The upstream's last exit when it ended or failed: every later pull gets it. */
      let ended: Exit.Exit<Chunk<A>, E | E2 | Cause.Done> | undefined
      let wakePuller: (() => void) | undefined
      let requested = false
      let wakeWatchdog: (() => void) | undefined

      const waitFor = (set: (wake: () => void) => void) =>
        Effect.callback<void>((resume) => set(() => resume(Effect.void)))

      const puller = Effect.gen(function* () {
        while (true) {
          if (!requested) {
            yield* waitFor((wake) => {
              wakePuller = wake
            })
          }
          requested = false
          const exit = yield* Effect.exit(upstream)
          if (Exit.isSuccess(exit)) first = false
          else ended = exit
          const resume = consumer
          consumer = undefined
          resume?.(exit)
          if (ended !== undefined) return
        }
      })

      const watchdog = Effect.gen(function* () {
        while (true) {
          if (consumer === undefined || limitMillis === undefined) {
            yield* waitFor((wake) => {
              wakeWatchdog = wake
            })
            continue
          }
          const remaining = startedAt + limitMillis - clock.currentTimeMillisUnsafe()
          if (remaining <= 0) {
            const resume = consumer
            consumer = undefined
            ended = Exit.fail(onTimeout(first, Duration.millis(limitMillis)))
            resume(ended)
            return
          }
          yield* Effect.sleep(Duration.millis(Math.min(remaining, maxSleep)))
        }
      })

      const pull: Pull.Pull<Chunk<A>, E | E2> = Effect.callback((resume) => {
        if (ended !== undefined) return resume(ended)
        consumer = resume
        startedAt = clock.currentTimeMillisUnsafe()
        const millis = limit(first)
        limitMillis = millis === undefined ? undefined : Duration.toMillis(millis)
        if (limitMillis !== undefined && wakeWatchdog !== undefined) {
          const wake = wakeWatchdog
          wakeWatchdog = undefined
          wake()
        }
        if (wakePuller !== undefined) {
          const wake = wakePuller
          wakePuller = undefined
          wake()
        } else requested = true
        return Effect.sync(() => {
          consumer = undefined
        })
      })

      return Effect.as(
        Effect.andThen(
          Effect.forkIn(puller, scope, { startImmediately: true }),
          Effect.forkIn(watchdog, scope, { startImmediately: true })
        ),
        pull
      )
    })
  )
}
