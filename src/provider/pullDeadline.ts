/**
 * Per-pull deadlines on a stream (the agent's `firstEvent` and `idle` timeouts) without a timer
 * per pull, and without one per stream: each stream has a {@link Watchdog} (`watchdog.ts`: the
 * deadline of its pull in progress, and the one fiber per `Clock` that watches them all).
 *
 * Ending a pull from outside needs a hold on it. A source that reads through a callback of its
 * own (the Anthropic provider's SSE reader) arms the watchdog when a pull has to wait and resumes
 * its consumer with the timeout itself ({@link EnforcesDeadlines}). Any other stream runs each
 * upstream pull on a fiber of its own, started at once: a pull that has its chunk at hand
 * completes synchronously and costs a fiber object (one puller fiber per stream, the design
 * before, cost about 1.5 µs per pull and 10 µs per stream: `bench/README.md`, fix 14); only a
 * pull that has to wait arms the watchdog, which can then answer the consumer and interrupt it.
 *
 * Interrupting the consumer, or the end of the stream, closes the stream's scope, which stops
 * watching its watchdog (the last one stops the watcher and its timer) and interrupts a pull
 * still running.
 *
 * @internal
 */
import { Channel, Effect, Exit, Fiber, type Pull, Scope, Stream } from "effect"
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"
import { type Limits, type OnTimeout, Watchdog } from "./watchdog.js"

export { type Limits, monotonicMillis, type OnTimeout, Watchdog } from "./watchdog.js"

type Chunk<A> = Arr.NonEmptyReadonlyArray<A>

/**
 * A stream that enforces per-pull deadlines itself, without a fiber per pull: `withDeadlines`
 * returns the same stream with them.
 * @internal
 */
export interface EnforcesDeadlines<A, E> {
  readonly [EnforcesDeadlines]: <E2>(limits: Limits, onTimeout: OnTimeout<E2>) => Stream.Stream<A, E | E2>
}

/** @internal */
export const EnforcesDeadlines: unique symbol = Symbol.for("data-harness/internal/EnforcesDeadlines")

/**
 * Marks `stream` as able to enforce its own deadlines: `withDeadlines` builds it with them.
 * @internal
 */
export const enforcingDeadlines = <A, E>(
  stream: Stream.Stream<A, E>,
  withDeadlines: <E2>(limits: Limits, onTimeout: OnTimeout<E2>) => Stream.Stream<A, E | E2>
): Stream.Stream<A, E> => Object.assign(stream, { [EnforcesDeadlines]: withDeadlines })

const enforcesDeadlines = <A, E>(
  stream: Stream.Stream<A, E>
): stream is Stream.Stream<A, E> & EnforcesDeadlines<A, E> => EnforcesDeadlines in stream

/**
 * `self` where the consumer's pull fails with `onTimeout(first, limit)` once it has waited its
 * limit: `limits.first` until the first chunk has arrived, `limits.idle` after it (none when
 * unset).
 * @internal
 */
export const withPullDeadlines = <A, E, E2>(
  self: Stream.Stream<A, E>,
  limits: Limits,
  onTimeout: OnTimeout<E2>
): Stream.Stream<A, E | E2> => {
  if (limits.first === undefined && limits.idle === undefined) return self
  if (enforcesDeadlines(self)) return self[EnforcesDeadlines](limits, onTimeout)
  return Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.uninterruptible(
        Effect.flatMap(Watchdog.start(limits, onTimeout), (watchdog) => {
          const pulls = new DeadlinePulls<A, E, E2>(self, watchdog!)
          // one finalizer: the watch, a pull still running, then the upstream (in that order)
          return Effect.as(
            Scope.addFinalizerExit(scope, (exit) => pulls.close(exit)),
            pulls.pull
          )
        })
      )
    )
  )
}

type Result<A, E> = Exit.Exit<Chunk<A>, E | Cause.Done>

/**
 * The pulls of a stream without deadlines of its own: each upstream pull runs on a fiber of its
 * own, started at once; one that completes synchronously is returned as it is, one that has to
 * wait is awaited under the watchdog, which can end it. The first pull opens the upstream, so a
 * stream that does its work when it starts (sends a request) is timed from its first pull.
 */
class DeadlinePulls<A, E, E2> {
  /** The upstream's own scope, closed after a pull still running was interrupted. */
  private readonly scope = Scope.makeUnsafe()
  private upstream: Pull.Pull<Chunk<A>, E> | undefined = undefined
  /** The upstream's last exit when it ended or failed (or the timeout): every later pull gets it. */
  private ended: Result<A, E | E2> | undefined = undefined
  /** A pull whose consumer gave up, still running: the next pull takes its result. */
  private running: Fiber.Fiber<Chunk<A>, E | Cause.Done> | undefined = undefined
  private readonly open: Pull.Pull<Chunk<A>, E>

  constructor(
    self: Stream.Stream<A, E>,
    private readonly watchdog: Watchdog<E2>
  ) {
    this.open = Effect.flatMap(Channel.toPullScoped(Stream.toChannel(self), this.scope), (pull) => {
      this.upstream = pull
      return pull
    })
  }

  readonly pull: Pull.Pull<Chunk<A>, E | E2> = Effect.withFiber((consumer) => {
    if (this.ended !== undefined) return this.ended
    let fiber = this.running
    this.running = undefined
    fiber ??= Effect.runForkWith(consumer.context)(this.upstream ?? this.open)
    const exit = fiber.pollUnsafe()
    return exit !== undefined ? this.settle(exit) : this.await(fiber)
  })

  /** The pull has its result: the watchdog learns whether a chunk came, and an end or failure is kept. */
  private settle(exit: Result<A, E | E2>): Result<A, E | E2> {
    this.watchdog.disarm(Exit.isSuccess(exit))
    if (Exit.isFailure(exit)) this.ended = exit
    return exit
  }

  /** Waits for `fiber` under the pull's deadline; a consumer that gives up leaves it for the next pull. */
  private await(fiber: Fiber.Fiber<Chunk<A>, E | Cause.Done>): Pull.Pull<Chunk<A>, E | E2> {
    return Effect.callback<Chunk<A>, E | E2 | Cause.Done>((resume) => {
      let waiting = true
      const unobserve = fiber.addObserver((exit) => {
        waiting = false
        resume(this.settle(exit))
      })
      this.watchdog.arm((timeout) => {
        if (!waiting) return
        waiting = false
        unobserve()
        this.ended = timeout
        // interrupted now, awaited when the stream closes (before the upstream is closed)
        this.running = fiber
        fiber.interruptUnsafe()
        resume(timeout)
      })
      return Effect.sync(() => {
        if (!waiting) return
        waiting = false
        unobserve()
        this.watchdog.disarm(false)
        this.running = fiber
      })
    })
  }

  /** Stops the watch, interrupts a pull still running, then closes the upstream. */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.watchdog.stop()
    const running = this.running
    this.running = undefined
    const closeUpstream = Scope.close(this.scope, exit)
    return running === undefined ? closeUpstream : Effect.andThen(Fiber.interrupt(running), closeUpstream)
  }
}
