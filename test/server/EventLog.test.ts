import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import { EventLog, type ServerEvent } from "../../src/server/index.js"

const stop: ServerEvent.ServerEvent = { type: "message_stop" }
const start = (ask: string): ServerEvent.ServerEvent => ({ type: "ask_start", ask_id: ask, prompt: "q" })

describe("EventLog.layerMemory", () => {
  it.effect("numbers the entries of each stream from 1 and reads what follows an id", () =>
    Effect.gen(function* () {
      const log = yield* EventLog.EventLog
      assert.strictEqual(yield* log.append("a", [start("x"), stop]), 2)
      assert.strictEqual(yield* log.append("b", [stop]), 1)
      assert.strictEqual(yield* log.append("a", [stop]), 3)
      const after = yield* log.read("a", 1)
      assert.deepStrictEqual(
        after.map((e) => e.id),
        [2, 3]
      )
      assert.deepStrictEqual(yield* log.bounds("a"), { first: 1, last: 3 })
      assert.deepStrictEqual(yield* log.bounds("none"), { first: 1, last: 0 })
    }).pipe(Effect.provide(EventLog.layerMemory()))
  )

  it.effect("keeps the newest `capacity` entries; reading older ones fails with EventsExpired", () =>
    Effect.gen(function* () {
      const log = yield* EventLog.EventLog
      for (let i = 0; i < 7; i++) yield* log.append("a", [stop])
      assert.deepStrictEqual(yield* log.bounds("a"), { first: 5, last: 7 })
      assert.deepStrictEqual(
        (yield* log.read("a", 4)).map((e) => e.id),
        [5, 6, 7]
      )
      const expired = yield* Effect.flip(log.read("a", 3))
      assert.strictEqual(expired._tag, "EventsExpired")
      assert.strictEqual(expired.oldest, 5)
      const subscribed = yield* Effect.exit(Stream.runCollect(log.subscribe("a", 2)))
      assert.isTrue(Exit.isFailure(subscribed))
    }).pipe(Effect.provide(EventLog.layerMemory({ capacity: 3 })))
  )

  it.effect(
    "a subscriber gets the entries after its id, then each live one once, and ends when the stream is removed",
    () =>
      Effect.gen(function* () {
        const log = yield* EventLog.EventLog
        yield* log.append("a", [start("x"), stop, stop])
        const fiber = yield* log.subscribe("a", 1).pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.yieldNow
        yield* log.append("a", [stop])
        yield* log.append("b", [stop])
        yield* log.append("a", [stop, stop])
        yield* log.remove("a")
        const entries = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          entries.map((e) => e.id),
          [2, 3, 4, 5, 6]
        )
      }).pipe(Effect.provide(EventLog.layerMemory()))
  )

  it.effect("a subscriber that falls further behind than the log keeps fails with EventsExpired", () =>
    Effect.gen(function* () {
      const log = yield* EventLog.EventLog
      yield* log.append("a", [stop])
      // reads one entry, then the writer appends more than the capacity before the next pull
      const first = yield* log.subscribe("a", 0).pipe(
        Stream.tap(() => log.append("a", [stop, stop, stop])),
        Stream.runCollect,
        Effect.flip
      )
      assert.strictEqual(first._tag, "EventsExpired")
      assert.strictEqual(first.after, 1)
    }).pipe(Effect.provide(EventLog.layerMemory({ capacity: 2 })))
  )
})
