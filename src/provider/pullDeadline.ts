/**
 * Per-pull deadlines on a stream (the agent's `firstEvent` and `idle` timeouts) without a timer
 * per pull, and without one per stream.
 *
 * `Effect.timeoutOrElse` around every pull forks two fibers and arms a timer for each network
 * read; with 1,000 concurrent streams that was the harness's largest cost per delta. Instead each
 * stream has a {@link Watchdog} (the deadline of its pull in progress, if one is waiting), and one
 * fiber per `Clock` watches them all: it sleeps on the `Clock` until the earliest deadline, ends
 * every pull still waiting past its deadline with the timeout error, and sleeps again. So a timer
 * is armed about once per limit, not once per pull or per stream. The watcher never sleeps longer
 * than the smallest limit it watches, so a deadline that starts while it sleeps is still met
 * (every such deadline is at least that far away).
 *
 * Ending a pull from outside needs a hold on it. A source that reads through a callback of its
 * own (the Anthropic provider's SSE reader) has one: it arms the watchdog when a pull has to wait
 * and resumes its consumer with the timeout itself, so each event costs nothing extra. It says so
 * by implementing {@link EnforcesDeadlines}. Any other stream gets a **puller** fiber that runs
 * the upstream pull, one pull per downstream pull (still pull-driven: nothing is read ahead), and
 * hands the result to the waiting consumer, which the watchdog can then answer instead. That
 * hand-off between two fibers costs a few microseconds per pull.
 *
 * Interrupting the consumer, or the end of the stream, closes the stream's scope, which stops
 * watching its watchdog (the last one stops the watcher and its timer) and interrupts the
 * puller, with the upstream pull in progress.
 *
 * @internal
 */
import { Channel, Clock, Context, Duration, Effect, Exit, type Fiber, type Pull, Scope, Stream } from "effect"
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"

type Chunk<A> = Arr.NonEmptyReadonlyArray<A>

/** The limits of a stream's pulls: `first` until the first chunk has arrived, `idle` after it. */
export interface Limits {
  readonly first?: Duration.Duration | undefined
  readonly idle?: Duration.Duration | undefined
}

/**
 * Milliseconds on `clock`'s monotonic time (a wall-clock jump must not fire or delay a deadline;
 * `TestClock` drives it too).
 * @internal
 */
export const monotonicMillis = (clock: Clock.Clock) => (): number =>
  Number(clock.monotonicTimeNanosUnsafe()) / 1_000_000

/** Builds the error of a pull that outwaited its limit; `first` says which of the two ran out. */
export type OnTimeout<E> = (first: boolean, limit: Duration.Duration) => E

/**
 * One stream's deadlines. The source calls {@link Watchdog.arm} when a pull has to wait and
 * {@link Watchdog.disarm} when that pull has its result; if the wait outlasts its limit the
 * watchdog calls the `expire` given to `arm` with the timeout, once, and {@link Watchdog.expired}
 * keeps it for every later pull. One fiber per `Clock` ({@link Watchers}) watches every
 * stream's watchdog, instead of a fiber and a timer per stream: 1,000 concurrent streams had
 * 1,000 of each, forked at their start and interrupted at their end.
 * @internal
 */
export class Watchdog<E> {
  /** No chunk has arrived yet: the `first` limit applies. */
  first = true
  /** The timeout (or the defect of building it), once a pull outwaited its limit. */
  expired: Exit.Exit<never, E> | undefined = undefined
  private readonly firstMillis: number | undefined
  private readonly idleMillis: number | undefined
  /** The smallest of the limits (at least 1 ms: a zero limit must not make the watcher spin). */
  readonly maxSleep: number
  private pending = false
  private startedAt = 0
  private limitMillis: number | undefined = undefined
  private expire: ((timeout: Exit.Exit<never, E>) => void) | undefined = undefined

  private constructor(
    limits: Limits,
    private readonly onTimeout: OnTimeout<E>,
    private readonly watchers: Watchers
  ) {
    this.now = watchers.now
    this.firstMillis = limits.first === undefined ? undefined : Duration.toMillis(limits.first)
    this.idleMillis = limits.idle === undefined ? undefined : Duration.toMillis(limits.idle)
    const set = [this.firstMillis, this.idleMillis].filter((limit) => limit !== undefined)
    this.maxSleep = Math.max(1, Math.min(...set))
  }

  private readonly now: () => number

  /**
   * A watchdog on the current `Clock` ({@link monotonicMillis}), watched until {@link stop};
   * `undefined` when no limit is set. Synchronous once the Clock is known: call it in the same
   * uninterruptible step that registers its `stop`.
   */
  static start<E>(limits: Limits, onTimeout: OnTimeout<E>): Effect.Effect<Watchdog<E> | undefined> {
    if (limits.first === undefined && limits.idle === undefined) return Effect.undefined
    return Effect.clockWith((clock) => {
      const watchdog = new Watchdog(limits, onTimeout, Watchers.of(clock))
      watchdog.watchers.add(watchdog)
      return Effect.succeed(watchdog)
    })
  }

  /**
   * {@link start}, watched until `scope` closes (for a source with nothing else to finalize; one
   * that has should stop the watchdog in its own finalizer: Effect closes a scope of one finalizer
   * directly, and one of several through a generator that cost about 9 µs at every turn's end).
   */
  static make<E>(limits: Limits, onTimeout: OnTimeout<E>, scope: Scope.Scope): Effect.Effect<Watchdog<E> | undefined> {
    let watchdog: Watchdog<E> | undefined
    // the finalizer first, then the watch in one uninterruptible step: an interruption in between
    // leaves nothing watched (stopping a watchdog that was never started does nothing)
    return Effect.uninterruptible(
      Effect.andThen(
        Scope.addFinalizer(
          scope,
          Effect.sync(() => watchdog?.stop())
        ),
        Effect.map(Watchdog.start(limits, onTimeout), (started) => {
          watchdog = started
          return started
        })
      )
    )
  }

  /** Stops watching this watchdog; the last one on its Clock stops the watching fiber. Synchronous. */
  stop(): void {
    this.watchers.remove(this)
  }

  /** A pull has to wait: from now it may wait its limit, then `expire` is called with the timeout. */
  arm(expire: (timeout: Exit.Exit<never, E>) => void): void {
    this.pending = true
    this.startedAt = this.now()
    this.limitMillis = this.first ? this.firstMillis : this.idleMillis
    this.expire = expire
  }

  /** The wait in progress goes on (its deadline stays), but `expire` now ends it. */
  handOver(expire: (timeout: Exit.Exit<never, E>) => void): void {
    if (this.pending) this.expire = expire
    else this.arm(expire)
  }

  /** The pull in progress has its result: `chunk` when it is a chunk (not the end or a failure). */
  disarm(chunk: boolean): void {
    this.pending = false
    this.expire = undefined
    if (chunk) this.first = false
  }

  /** How long the pending wait may still wait at `now`, or `undefined` when nothing waits under a limit. */
  remaining(now: number): number | undefined {
    if (!this.pending || this.limitMillis === undefined || this.expired !== undefined) return undefined
    return this.startedAt + this.limitMillis - now
  }

  /**
   * Called by the watcher at `now`: ends the pending wait if it outwaited its limit; returns how
   * long until it would, or `undefined` when nothing waits under a limit.
   */
  check(now: number): number | undefined {
    const remaining = this.remaining(now)
    if (remaining === undefined || remaining > 0) return remaining
    try {
      this.expired = Exit.fail(this.onTimeout(this.first, Duration.millis(this.limitMillis!)))
    } catch (defect) {
      this.expired = Exit.die(defect)
    }
    const expire = this.expire
    this.disarm(false)
    if (expire !== undefined) expire(this.expired)
    return undefined
  }
}

/**
 * The fiber that watches every {@link Watchdog} on one `Clock` while any stream has one: it wakes
 * at the earliest pending deadline, and never sleeps longer than the smallest limit it watches,
 * so a wait that starts while it sleeps (its deadline is at least that far away) is still met.
 * A watchdog with a smaller limit restarts it; the last one to go stops it (and its timer).
 */
class Watchers {
  private static readonly byClock = new WeakMap<Clock.Clock, Watchers>()

  static of(clock: Clock.Clock): Watchers {
    let watchers = Watchers.byClock.get(clock)
    if (watchers === undefined) {
      watchers = new Watchers(clock)
      Watchers.byClock.set(clock, watchers)
    }
    return watchers
  }

  // biome-ignore lint/suspicious/noExplicitAny: watchdogs of every stream, whatever their error type
  private readonly watched = new Set<Watchdog<any>>()
  /** The watching fiber; one that finds it is no longer this one stops. */
  private fiber: Fiber.Fiber<void> | undefined = undefined
  /** The longest the fiber sleeps: the smallest limit it has watched since it started. */
  private maxSleep = Number.POSITIVE_INFINITY
  /** Milliseconds on the clock's monotonic time, shared by its watchdogs. */
  readonly now: () => number
  /** The fiber runs with nothing of any stream's context but the Clock. */
  private readonly run: (effect: Effect.Effect<void>) => Fiber.Fiber<void>

  private constructor(clock: Clock.Clock) {
    this.now = monotonicMillis(clock)
    const context = Context.make(Clock.Clock, clock)
    this.run = (effect) => Effect.runForkWith(context)(effect)
  }

  /** Watches `watchdog`, starting (or restarting, for a smaller limit) the fiber. Synchronous. */
  add<E>(watchdog: Watchdog<E>): void {
    this.watched.add(watchdog)
    if (this.fiber !== undefined && watchdog.maxSleep >= this.maxSleep) return
    this.maxSleep = Math.min(this.maxSleep, watchdog.maxSleep)
    const previous = this.fiber
    this.fiber = undefined
    previous?.interruptUnsafe()
    this.fiber = this.run(this.watch)
  }

  /** Stops watching `watchdog`; the last one stops the fiber and its timer. Synchronous. */
  remove<E>(watchdog: Watchdog<E>): void {
    if (!this.watched.delete(watchdog)) return
    if (this.watched.size > 0 || this.fiber === undefined) return
    const fiber = this.fiber
    this.fiber = undefined
    this.maxSleep = Number.POSITIVE_INFINITY
    fiber.interruptUnsafe()
  }

  /** Ends every wait past its deadline; returns how long to sleep until the next one. */
  private checkAll(fire: boolean): number {
    const now = this.now()
    let sleep = this.maxSleep
    for (const watchdog of this.watched) {
      let remaining: number | undefined
      try {
        remaining = fire ? watchdog.check(now) : watchdog.remaining(now)
      } catch {
        // a consumer that throws when resumed must not stop the deadlines of every other stream
        remaining = undefined
      }
      if (remaining !== undefined && remaining < sleep) sleep = Math.max(0, remaining)
    }
    return sleep
  }

  /**
   * Sleeps, then checks, for as long as it is the watching fiber (the first sleep is computed
   * without firing anything: the fiber starts inside `add`, which must not resume consumers).
   */
  private readonly watch: Effect.Effect<void> = Effect.withFiber((self) => {
    const loop = (sleep: number): Effect.Effect<void> =>
      Effect.flatMap(Effect.sleep(Duration.millis(sleep)), () =>
        self === this.fiber ? loop(this.checkAll(true)) : Effect.void
      )
    return loop(this.checkAll(false))
  })
}

/**
 * A stream that enforces per-pull deadlines itself, without a puller fiber: `withDeadlines`
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
      Effect.flatMap(Watchdog.make(limits, onTimeout, scope), (watchdog) =>
        // the upstream is opened by the puller, under the first pull's deadline: a stream that
        // does its work when it starts (sends a request) is timed from its first pull
        puller(Channel.toPullScoped(Stream.toChannel(self), scope), watchdog!, scope)
      )
    )
  )
}

/** The generic deadline: a puller fiber runs the upstream pull, so the watchdog can answer the consumer. */
const puller = <A, E, E2>(
  open: Effect.Effect<Pull.Pull<Chunk<A>, E>>,
  watchdog: Watchdog<E2>,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<Chunk<A>, E | E2>> => {
  type Result = Exit.Exit<Chunk<A>, E | E2 | Cause.Done>
  let opened: Pull.Pull<Chunk<A>, E> | undefined
  const upstream = Effect.suspend(
    () =>
      opened ??
      Effect.flatMap(open, (pull) => {
        opened = pull
        return pull
      })
  )
  /** The waiting consumer of the pull in progress, or its result when it came at once. */
  let consumer: ((result: Result) => void) | undefined
  let ready: Result | undefined
  /** The upstream's last exit when it ended or failed (or the timeout): every later pull gets it. */
  let ended: Result | undefined
  let requested = false
  let wakePuller: (() => void) | undefined

  /** The result waiting for a pull (one that came at once, or one its consumer gave up on), taken. */
  const takeReady = (): Result | undefined => {
    const result = ready
    ready = undefined
    return result
  }

  const deliver = (result: Result) => {
    const resume = consumer
    consumer = undefined
    if (resume !== undefined) resume(result)
    else ready = result
  }

  const expire = (timeout: Exit.Exit<never, E2>) => {
    ended = timeout
    deliver(timeout)
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
      watchdog.disarm(Exit.isSuccess(exit))
      if (Exit.isFailure(exit)) ended = exit
      deliver(exit)
      return Effect.void
    })
  )
  const loop = Effect.whileLoop({ while: () => ended === undefined, body: () => pullOnce, step: () => {} })

  const awaitResult = Effect.callback<Chunk<A>, E | E2 | Cause.Done>((resume) => {
    // the watchdog, started just before, may already have delivered a zero-limit timeout
    const result = takeReady()
    if (result !== undefined) return resume(result)
    consumer = resume
    return Effect.sync(() => {
      // the consumer gave up this pull: its result, when it comes, is kept for the next one
      consumer = undefined
      watchdog.disarm(false)
    })
  })

  const pull: Pull.Pull<Chunk<A>, E | E2> = Effect.suspend(() => {
    // the result of a pull its consumer gave up on comes first
    const leftover = takeReady()
    if (leftover !== undefined) return leftover
    if (ended !== undefined) return ended
    watchdog.arm(expire)
    requested = true
    if (wakePuller !== undefined) {
      const wake = wakePuller
      wakePuller = undefined
      wake()
    }
    // answered at once (events already buffered): no waiting
    const immediate = takeReady()
    if (immediate !== undefined) return immediate
    return awaitResult
  })

  return Effect.as(Effect.forkIn(loop, scope, { startImmediately: true }), pull)
}
