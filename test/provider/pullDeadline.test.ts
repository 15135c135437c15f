/**
 * The per-pull deadlines behind the agent's `firstEvent` and `idle` timeouts
 * (`src/internal/pullDeadline.ts`), on the edge cases the agent-level tests in
 * `resilience.test.ts` cannot reach: a consumer that gives up a pull and pulls again, a zero
 * limit, a failing timeout constructor.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, Option, Scheduler, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Watchdog, withPullDeadlines } from "../../src/provider/pullDeadline.js"

/** Chunks [1], [2], [3], each after `gapMillis` on the Clock. */
const slow = (gapMillis: number) =>
  Stream.fromIterable([1, 2, 3]).pipe(Stream.mapEffect((n) => Effect.as(Effect.sleep(gapMillis), n)))

const timedOut = (first: boolean, limit: Duration.Duration) =>
  `timeout ${first ? "first" : "idle"} ${Duration.toMillis(limit)}`

describe("pull deadlines", () => {
  it.effect("a pull its consumer gave up keeps its result for the next pull: nothing lost, nothing read ahead", () =>
    Effect.scoped(
      Effect.gen(function* () {
        // [1] at once, [2] after 100 ms, [3] at once after it
        const source = Stream.fromIterable([1, 2, 3]).pipe(
          Stream.mapEffect((n) => (n === 2 ? Effect.as(Effect.sleep(100), n) : Effect.succeed(n)))
        )
        const pull = yield* Stream.toPull(
          withPullDeadlines(source, { first: Duration.seconds(10), idle: Duration.seconds(10) }, timedOut)
        )
        const take = Effect.map(pull, (chunk) => [...chunk])
        const fiber = yield* Effect.forkChild(
          Effect.gen(function* () {
            const got: Array<unknown> = []
            got.push(yield* take)
            // gives up after 50 ms, while the second chunk is still 50 ms away
            got.push(yield* Effect.timeoutOption(take, "50 millis"))
            // the given-up pull's chunk arrives while nobody is pulling
            yield* Effect.sleep("100 millis")
            got.push(yield* take)
            got.push(yield* take)
            return got
          })
        )
        for (let i = 0; i < 10; i++) yield* TestClock.adjust("50 millis")
        const got = yield* Fiber.join(fiber)
        assert.deepStrictEqual(got, [[1], Option.none(), [2], [3]])
      })
    )
  )

  it.effect("a zero idle limit times out the first pull that has to wait, without spinning", () =>
    Effect.gen(function* () {
      // counts the watchdog's sleeps: a zero limit must not turn it into a busy loop of zero sleeps
      const clock = yield* Clock.Clock
      let sleeps = 0
      const counting = new Proxy(clock, {
        get: (target, key) => {
          if (key === "sleep") {
            return (duration: Duration.Duration) => {
              sleeps++
              return target.sleep(duration)
            }
          }
          const value = Reflect.get(target, key)
          return typeof value === "function" ? value.bind(target) : value
        }
      })
      const stream = withPullDeadlines(slow(10), { first: Duration.seconds(1), idle: Duration.zero }, timedOut)
      const fiber = yield* Effect.forkChild(
        Stream.runCollect(stream).pipe(Effect.provideService(Clock.Clock, counting))
      )
      yield* TestClock.adjust("10 millis")
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(exit, Exit.fail("timeout idle 0"))
      assert.isAtMost(sleeps, 30, `the watchdog slept ${sleeps} times in 11 ms`)
    })
  )

  it.effect("an error thrown while building the timeout error fails the stream as a defect, not a hang", () =>
    Effect.gen(function* () {
      const stream = withPullDeadlines(slow(5_000), { first: Duration.seconds(1), idle: Duration.seconds(1) }, () => {
        throw new Error("cannot build the error")
      })
      const fiber = yield* Effect.forkChild(Stream.runDrain(stream))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    })
  )
})

/** The current Clock with its `sleep` calls counted (the watcher's wake-ups are its sleeps ending). */
const countingSleeps = Effect.clockWith((clock) => {
  const counter = { sleeps: 0 }
  const counting = new Proxy(clock, {
    get: (target, key) => {
      if (key === "sleep") {
        return (duration: Duration.Duration) => {
          counter.sleeps++
          return target.sleep(duration)
        }
      }
      const value = Reflect.get(target, key)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
  return Effect.succeed({ clock: counting as Clock.Clock, counter })
})

describe("pull deadlines: the watcher wakes for the nearest deadline that can fire", () => {
  it.effect("a small idle limit does not wake the watcher while the stream waits for its first event", () =>
    Effect.gen(function* () {
      const { clock, counter } = yield* countingSleeps
      const stream = withPullDeadlines(
        Stream.never,
        { first: Duration.seconds(10), idle: Duration.millis(1) },
        timedOut
      )
      const fiber = yield* Effect.forkChild(Stream.runDrain(stream).pipe(Effect.provideService(Clock.Clock, clock)))
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      // one sleep until the first-event deadline; with the old watcher 9,999 sleeps of 1 ms
      assert.strictEqual(counter.sleeps, 1, "the watcher's sleeps while waiting 10 s for the first event")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.fail("timeout first 10000"))
      assert.strictEqual(counter.sleeps, 1)
    })
  )

  it.effect("after the first event the idle limit applies, and a nearer deadline reschedules the watcher", () =>
    Effect.gen(function* () {
      const { clock, counter } = yield* countingSleeps
      // one chunk at once, then nothing
      const stream = withPullDeadlines(
        Stream.concat(Stream.make(1), Stream.never),
        { first: Duration.hours(1), idle: Duration.seconds(2) },
        timedOut
      )
      const fiber = yield* Effect.forkChild(Stream.runDrain(stream).pipe(Effect.provideService(Clock.Clock, clock)))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.fail("timeout idle 2000"))
      assert.isAtMost(counter.sleeps, 2)
    })
  )

  it.effect("with nothing waiting, the watcher does not run: no sleep at all for a stream that never waits", () =>
    Effect.gen(function* () {
      const { clock, counter } = yield* countingSleeps
      const stream = withPullDeadlines(
        Stream.fromIterable([1, 2, 3]).pipe(Stream.rechunk(1)),
        { first: Duration.millis(1), idle: Duration.millis(1) },
        timedOut
      )
      const got = yield* Stream.runCollect(stream).pipe(Effect.provideService(Clock.Clock, clock))
      assert.deepStrictEqual(got, [1, 2, 3])
      assert.strictEqual(counter.sleeps, 0)
    })
  )
})

/** A live clock that counts its pending sleeps (the watcher's timers). */
const countingClock = () => {
  const state = { live: 0 }
  const monotonic = () => process.hrtime.bigint()
  const wall = () => BigInt(Date.now()) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => Date.now(),
    currentTimeMillis: Effect.sync(() => Date.now()),
    currentTimeNanosUnsafe: wall,
    currentTimeNanos: Effect.sync(wall),
    monotonicTimeNanosUnsafe: monotonic,
    monotonicTimeNanos: Effect.sync(monotonic),
    sleep: (duration) => {
      const millis = Duration.toMillis(duration)
      if (!Number.isFinite(millis)) return Effect.never
      return Effect.callback<void>((resume) => {
        state.live++
        const timer = setTimeout(() => {
          state.live--
          resume(Effect.void)
        }, millis)
        return Effect.sync(() => {
          state.live--
          clearTimeout(timer)
        })
      })
    }
  }
  return { clock, state }
}

describe("pull deadlines: one watcher per clock", () => {
  it.live("many waiting streams share one timer, and none is left when they end", () =>
    Effect.gen(function* () {
      // a live clock that counts the watcher's pending sleeps (each a real timer)
      const { clock, state } = countingClock()
      const gate = yield* Deferred.make<void>()
      // each stream's first pull waits (for the gate) under a one-minute limit
      const waiting = withPullDeadlines(
        Stream.fromEffect(Deferred.await(gate)),
        { first: Duration.minutes(1), idle: Duration.minutes(1) },
        timedOut
      )
      const fibers = yield* Effect.forEach(Array.from({ length: 50 }), () =>
        Effect.forkChild(Stream.runDrain(waiting).pipe(Effect.provideService(Clock.Clock, clock)))
      )
      yield* Effect.sleep("20 millis")
      assert.strictEqual(state.live, 1, "one timer for 50 waiting streams")
      yield* Fiber.interruptAll(fibers)
      yield* Effect.sleep("20 millis")
      assert.strictEqual(state.live, 0, "no timer once every stream has ended")
    })
  )

  it.effect("a stream with a smaller limit is still timed out on time while a longer one waits", () =>
    Effect.gen(function* () {
      const long = withPullDeadlines(Stream.never, { idle: Duration.hours(1), first: Duration.hours(1) }, timedOut)
      const short = withPullDeadlines(Stream.never, { first: Duration.seconds(1) }, timedOut)
      const longFiber = yield* Effect.forkChild(Stream.runDrain(long))
      yield* TestClock.adjust("10 millis")
      const shortFiber = yield* Effect.forkChild(Stream.runDrain(short))
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(shortFiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.await(shortFiber), Exit.fail("timeout first 1000"))
      assert.isUndefined(longFiber.pollUnsafe())
      yield* Fiber.interrupt(longFiber)
    })
  )
})

describe("pull deadlines: the shared watcher", () => {
  it.effect("a stream whose timeout throws when delivered does not stop the deadlines of the others", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        const throwing = (yield* Watchdog.make({ first: Duration.millis(20) }, () => "t", scope))!
        const other = (yield* Watchdog.make({ first: Duration.millis(20) }, () => "t", scope))!
        throwing.arm(() => {
          throw new Error("a consumer that throws when resumed")
        })
        yield* TestClock.adjust("5 millis")
        let expired = false
        other.arm(() => {
          expired = true
        })
        yield* TestClock.adjust("30 millis")
        assert.isTrue(expired)
      })
    )
  )
})

describe("pull deadlines: registration races", () => {
  it.live("two streams starting at once on a new clock start one watcher, and none is left after them", () =>
    Effect.gen(function* () {
      for (let yields = 0; yields < 20; yields++) {
        const { clock, state } = countingClock()
        const run = Stream.runDrain(withPullDeadlines(Stream.never, { first: Duration.seconds(2) }, timedOut)).pipe(
          Effect.provideService(Clock.Clock, clock)
        )
        // the first stream's start yields between any two of its steps; the second starts meanwhile
        const first = yield* Effect.forkChild(run.pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, 3)))
        for (let i = 0; i < yields; i++) yield* Effect.yieldNow
        const second = yield* Effect.forkChild(run, { startImmediately: true })
        yield* Effect.sleep("30 millis")
        assert.strictEqual(state.live, 1, `one watcher while both wait (${yields} yields)`)
        yield* Fiber.interruptAll([first, second])
        yield* Effect.sleep("30 millis")
        assert.strictEqual(state.live, 0, `no watcher once both have ended (${yields} yields)`)
      }
    })
  )
})
