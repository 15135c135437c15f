/**
 * The deadline of a stream's pull in progress ({@link Watchdog}), and the one fiber per `Clock`
 * that watches every stream's watchdog: the machinery of `pullDeadline.ts`.
 *
 * `Effect.timeoutOrElse` around every pull forks two fibers and arms a timer for each network
 * read; with 1,000 concurrent streams that was the harness's largest cost per delta. Instead each
 * stream has a {@link Watchdog} (the deadline of its pull in progress, if one is waiting), and one
 * fiber per `Clock` watches them all: it sleeps on the `Clock` until the nearest deadline of a
 * pull that is waiting, ends every pull still waiting past its deadline with the timeout error,
 * and sleeps again; with nothing waiting it does not run. A wait whose deadline is nearer than
 * the watcher's next wake-up reschedules it. So a timer is armed about once per limit, not once
 * per pull or per stream, and the watcher never wakes for a limit that cannot fire yet (an
 * `idle: 1 ms` does not wake it while a stream waits for its first event).
 *
 * @internal
 */
import { Clock, Context, Duration, Effect, Exit, type Fiber, Scope } from "effect"

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
 * stream's watchdog, instead of a fiber and a timer per stream.
 * @internal
 */
export class Watchdog<E> {
  /** No chunk has arrived yet: the `first` limit applies. */
  first = true
  /** The timeout (or the defect of building it), once a pull outwaited its limit. */
  expired: Exit.Exit<never, E> | undefined = undefined
  private readonly firstMillis: number | undefined
  private readonly idleMillis: number | undefined
  /** When the pending wait ends (on the watchers' clock), or `undefined` when nothing waits under a limit. */
  private deadline: number | undefined = undefined
  private limitMillis = 0
  private expire: ((timeout: Exit.Exit<never, E>) => void) | undefined = undefined

  private constructor(
    limits: Limits,
    private readonly onTimeout: OnTimeout<E>,
    private readonly watchers: Watchers
  ) {
    this.firstMillis = limits.first === undefined ? undefined : Duration.toMillis(limits.first)
    this.idleMillis = limits.idle === undefined ? undefined : Duration.toMillis(limits.idle)
  }

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
    this.deadline = undefined
    this.watchers.remove(this)
  }

  /** A pull has to wait: from now it may wait its limit, then `expire` is called with the timeout. */
  arm(expire: (timeout: Exit.Exit<never, E>) => void): void {
    this.expire = expire
    const limit = this.first ? this.firstMillis : this.idleMillis
    if (limit === undefined || this.expired !== undefined) {
      this.deadline = undefined
      return
    }
    this.limitMillis = limit
    this.deadline = this.watchers.now() + limit
    this.watchers.armed(this.deadline)
  }

  /** The wait in progress goes on (its deadline stays), but `expire` now ends it. */
  handOver(expire: (timeout: Exit.Exit<never, E>) => void): void {
    if (this.expire !== undefined) this.expire = expire
    else this.arm(expire)
  }

  /** The pull in progress has its result: `chunk` when it is a chunk (not the end or a failure). */
  disarm(chunk: boolean): void {
    this.deadline = undefined
    this.expire = undefined
    if (chunk) this.first = false
  }

  /**
   * Called by the watcher at `now`: ends the pending wait if it outwaited its limit; returns how
   * long until it would, or `undefined` when nothing waits under a limit.
   */
  check(now: number): number | undefined {
    const remaining = this.deadline === undefined ? undefined : this.deadline - now
    if (remaining === undefined || remaining > 0) return remaining
    try {
      this.expired = Exit.fail(this.onTimeout(this.first, Duration.millis(this.limitMillis)))
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
 * The fiber that watches every {@link Watchdog} on one `Clock`. It runs only while some pull
 * waits under a limit: it sleeps until the nearest such deadline, ends the waits past theirs,
 * and sleeps until the next one, or stops when nothing waits. A wait that starts while it sleeps
 * and ends sooner than its wake-up reschedules it; the last watchdog to go stops it (and its timer).
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
  /** When the fiber wakes next; +Infinity when it does not run. */
  private wakeAt = Number.POSITIVE_INFINITY
  /** While the fiber checks the watchdogs: the nearest deadline armed meanwhile (by a consumer it resumed). */
  private armedWhileChecking: number | undefined = undefined
  /** Milliseconds on the clock's monotonic time, shared by its watchdogs. */
  readonly now: () => number
  /** The fiber runs with nothing of any stream's context but the Clock. */
  private readonly run: (effect: Effect.Effect<void>) => Fiber.Fiber<void>

  private constructor(clock: Clock.Clock) {
    this.now = monotonicMillis(clock)
    const context = Context.make(Clock.Clock, clock)
    this.run = (effect) => Effect.runForkWith(context)(effect)
  }

  /** Watches `watchdog`; nothing runs until one of its pulls waits. Synchronous. */
  add<E>(watchdog: Watchdog<E>): void {
    this.watched.add(watchdog)
  }

  /** Stops watching `watchdog`; the last one stops the fiber and its timer. Synchronous. */
  remove<E>(watchdog: Watchdog<E>): void {
    if (!this.watched.delete(watchdog)) return
    if (this.watched.size === 0) this.schedule(undefined)
  }

  /** A wait that ends at `deadline` started: the fiber wakes by then. Synchronous, fires nothing. */
  armed(deadline: number): void {
    if (this.armedWhileChecking !== undefined) {
      this.armedWhileChecking = Math.min(this.armedWhileChecking, deadline)
    } else if (deadline < this.wakeAt) {
      this.schedule(deadline)
    }
  }

  /** Replaces the fiber by one that wakes at `at`, or by none. */
  private schedule(at: number | undefined): void {
    const previous = this.fiber
    this.fiber = undefined
    this.wakeAt = at ?? Number.POSITIVE_INFINITY
    previous?.interruptUnsafe()
    // the fiber's first step is a sleep of at least 1 ms (a zero limit fires after 1 ms): starting
    // it inside `armed` (inside a consumer's pull) resumes no consumer
    if (at !== undefined) this.fiber = this.run(this.watch(Math.max(1, at - this.now())))
  }

  /** Ends every wait past its deadline; returns how long until the nearest one left, if any. */
  private checkAll(): number | undefined {
    const now = this.now()
    let nearest = Number.POSITIVE_INFINITY
    this.armedWhileChecking = Number.POSITIVE_INFINITY
    for (const watchdog of this.watched) {
      let remaining: number | undefined
      try {
        remaining = watchdog.check(now)
      } catch {
        // a consumer that throws when resumed must not stop the deadlines of every other stream
        remaining = undefined
      }
      if (remaining !== undefined && remaining < nearest) nearest = remaining
    }
    const armed = this.armedWhileChecking - now
    this.armedWhileChecking = undefined
    nearest = Math.min(nearest, armed)
    return Number.isFinite(nearest) ? Math.max(0, nearest) : undefined
  }

  /** Sleeps `millis`, checks, and goes on for as long as it is the watching fiber and something waits. */
  private watch(millis: number): Effect.Effect<void> {
    return Effect.withFiber((self) => {
      const loop = (sleep: number): Effect.Effect<void> =>
        Effect.flatMap(Effect.sleep(Duration.millis(sleep)), () => {
          if (self !== this.fiber) return Effect.void
          const next = this.checkAll()
          if (self !== this.fiber) return Effect.void
          if (next === undefined) {
            this.fiber = undefined
            this.wakeAt = Number.POSITIVE_INFINITY
            return Effect.void
          }
          this.wakeAt = this.now() + next
          return loop(next)
        })
      return loop(millis)
    })
  }
}
