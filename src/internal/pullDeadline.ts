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

/**
 * `self` where the consumer's pull fails with `onTimeout(first, limit)` once it has waited its
 * limit: `limits.first` until the first chunk has arrived, `limits.idle` after it (none when
 * unset). `first` says which of the two ran out.
 * @internal
 */
export const withPullDeadlines = <A, E, E2>(
  self: Stream.Stream<A, E>,
  limits: { readonly first?: Duration.Duration | undefined; readonly idle?: Duration.Duration | undefined },
  onTimeout: (first: boolean, limit: Duration.Duration) => E2
): Stream.Stream<A, E | E2> => {
  const firstMillis = limits.first === undefined ? undefined : Duration.toMillis(limits.first)
  const idleMillis = limits.idle === undefined ? undefined : Duration.toMillis(limits.idle)
  const set = [firstMillis, idleMillis].filter((l) => l !== undefined)
  if (set.length === 0) return self
  // at least 1 ms: a zero limit must not make the watchdog spin
  const maxSleep = Math.max(1, Math.min(...set))
  return Stream.transformPull(self, (upstream, scope) =>
    Effect.clockWith((clock) => {
      // monotonic: a wall-clock jump must not fire or delay a deadline (TestClock drives it too)
      const now = () => Number(clock.monotonicTimeNanosUnsafe()) / 1_000_000
      type Result = Exit.Exit<Chunk<A>, E | E2 | Cause.Done>
      let first = true
      /** A pull is in progress: it started at `startedAt` and may wait `limitMillis`. */
      let pending = false
      let startedAt = 0
      let limitMillis: number | undefined
      /** The waiting consumer of the pull in progress, or its result when it came at once. */
      let consumer: ((result: Result) => void) | undefined
      let ready: Result | undefined
      /** The upstream's last exit when it ended or failed (or the timeout): every later pull gets it. */
      let ended: Result | undefined
      let requested = false
      let wakePuller: (() => void) | undefined
      let wakeWatchdog: (() => void) | undefined
      let watchdogStarted = false

      /** The result waiting for a pull (one that came at once, or one its consumer gave up on), taken. */
      const takeReady = (): Result | undefined => {
        const result = ready
        ready = undefined
        return result
      }

      const deliver = (result: Result) => {
        pending = false
        const resume = consumer
        consumer = undefined
        if (resume !== undefined) resume(result)
        else ready = result
      }

      const waitForRequest = Effect.callback<void>((resume) => {
        if (requested) return resume(Effect.void)
        wakePuller = () => resume(Effect.void)
      })

      // built once: every pull of the stream runs the same effect
      const pullOnce = Effect.andThen(
        waitForRequest,
        Effect.flatMap(Effect.exit(upstream), (exit) => {
          // timed out meanwhile: the late result is dropped, every pull gets the timeout
          if (ended !== undefined) return Effect.void
          requested = false
          if (Exit.isSuccess(exit)) first = false
          else ended = exit
          deliver(exit)
          return Effect.void
        })
      )
      const puller = Effect.whileLoop({ while: () => ended === undefined, body: () => pullOnce, step: () => {} })

      const waitForPull = Effect.callback<void>((resume) => {
        wakeWatchdog = () => resume(Effect.void)
      })

      const watchdog = Effect.whileLoop({
        while: () => ended === undefined,
        body: () => {
          if (!pending || limitMillis === undefined) return waitForPull
          const remaining = startedAt + limitMillis - now()
          if (remaining > 0) return Effect.sleep(Duration.millis(Math.min(remaining, maxSleep)))
          try {
            ended = Exit.fail(onTimeout(first, Duration.millis(limitMillis)))
          } catch (defect) {
            ended = Exit.die(defect)
          }
          deliver(ended)
          return Effect.void
        },
        step: () => {}
      })

      const awaitResult = Effect.callback<Chunk<A>, E | E2 | Cause.Done>((resume) => {
        // the watchdog, started or woken just before, may already have delivered a zero-limit timeout
        const result = takeReady()
        if (result !== undefined) return resume(result)
        consumer = resume
        return Effect.sync(() => {
          // the consumer gave up this pull: its result, when it comes, is kept for the next one
          consumer = undefined
          pending = false
        })
      })

      const pull: Pull.Pull<Chunk<A>, E | E2> = Effect.suspend(() => {
        // the result of a pull its consumer gave up on comes first
        const leftover = takeReady()
        if (leftover !== undefined) return leftover
        if (ended !== undefined) return ended
        pending = true
        startedAt = now()
        limitMillis = first ? firstMillis : idleMillis
        requested = true
        if (wakePuller !== undefined) {
          const wake = wakePuller
          wakePuller = undefined
          wake()
        }
        // answered at once (events already buffered): no waiting, no watchdog
        const immediate = takeReady()
        if (immediate !== undefined) return immediate
        if (limitMillis === undefined) return awaitResult
        if (!watchdogStarted) {
          watchdogStarted = true
          return Effect.andThen(Effect.forkIn(watchdog, scope, { startImmediately: true }), awaitResult)
        }
        if (wakeWatchdog !== undefined) {
          const wake = wakeWatchdog
          wakeWatchdog = undefined
          wake()
        }
        return awaitResult
      })

      return Effect.as(Effect.forkIn(puller, scope, { startImmediately: true }), pull)
    })
  )
}
