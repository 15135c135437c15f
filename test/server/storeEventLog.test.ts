import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { SessionStore } from "../../src/index.js"
import { EventLog, type ServerEvent } from "../../src/server/index.js"

const start = (ask: string): ServerEvent.ServerEvent => ({ type: "ask_start", ask_id: ask, prompt: "q" })
const delta = (text: string): ServerEvent.ServerEvent => ({
  type: "content_block_delta",
  index: 0,
  delta: { type: "text_delta", text }
})
const end = (ask: string): ServerEvent.ServerEvent => ({
  type: "ask_end",
  ask_id: ask,
  status: "completed",
  usage: { input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
})

const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-store-log-"))),
  (directory) => Effect.promise(() => FsP.rm(directory, { recursive: true, force: true }))
)

/** Runs `f` with a store-backed log over `directory`: one "server process" (the layer is released after). */
const withLog = <A, E>(
  directory: string,
  f: (log: EventLog.Service, store: SessionStore.Service) => Effect.Effect<A, E>,
  options?: { readonly asksPerSession?: number; readonly capacity?: number }
) =>
  Effect.scoped(
    Effect.gen(function* () {
      return yield* f(yield* EventLog.EventLog, yield* SessionStore.SessionStore)
    }).pipe(
      Effect.provide(
        EventLog.layerStore({ capacity: options?.capacity ?? 4 }).pipe(
          Layer.provideMerge(SessionStore.layerFileSystem({ directory, asksPerSession: options?.asksPerSession ?? 20 }))
        )
      )
    )
  )

describe("EventLog.layerStore", () => {
  it.live("numbers a session's events across asks, and after a restart gives the same entries, bounds and ids", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const directory = yield* tempDirectory
        const stream = EventLog.sessionStream("acme/eu", "s1")
        const before = yield* withLog(directory, (log, store) =>
          Effect.gen(function* () {
            yield* store.create("acme/eu", { id: "s1" })
            assert.strictEqual(yield* log.append(stream, [start("ask_1"), delta("a"), delta("b")]), 3)
            assert.strictEqual(yield* log.append(stream, [end("ask_1")]), 4)
            assert.strictEqual(yield* log.append(stream, [start("ask_2"), delta("c"), delta("d"), end("ask_2")]), 8)
            return yield* log.read(stream, 0)
          })
        )
        assert.deepStrictEqual(
          before.map((e) => e.id),
          [1, 2, 3, 4, 5, 6, 7, 8]
        )
        const after = yield* withLog(directory, (log) =>
          Effect.gen(function* () {
            assert.deepStrictEqual(yield* log.bounds(stream), { first: 1, last: 8 })
            assert.strictEqual(yield* log.openAsk(stream), undefined)
            // from the middle of the first ask, across into the second
            assert.deepStrictEqual(yield* log.read(stream, 2), before.slice(2))
            // the next ask goes on numbering where the last process stopped
            assert.strictEqual(yield* log.append(stream, [start("ask_3")]), 9)
            return yield* log.read(stream, 0)
          })
        )
        assert.deepStrictEqual(after.slice(0, 8), before)
        assert.deepStrictEqual(after[8], { id: 9, event: start("ask_3") })
      })
    )
  )

  it.live("after a restart, a subscriber from an old id gets the stored entries, then the live ones", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const directory = yield* tempDirectory
        const stream = EventLog.sessionStream("t", "s")
        yield* withLog(directory, (log, store) =>
          Effect.gen(function* () {
            yield* store.create("t", { id: "s" })
            yield* log.append(stream, [start("ask_1"), delta("1"), delta("2"), delta("3"), delta("4"), delta("5")])
          })
        )
        yield* withLog(directory, (log) =>
          Effect.gen(function* () {
            // the process stopped inside ask_1: it is open
            assert.strictEqual(yield* log.openAsk(stream), "ask_1")
            const reader = yield* log.subscribe(stream, 1).pipe(
              Stream.takeUntil((entry) => entry.event.type === "ask_end"),
              Stream.runCollect,
              Effect.forkChild
            )
            yield* log.append(stream, [delta("6"), end("ask_1")])
            const entries = yield* Fiber.join(reader)
            assert.deepStrictEqual(
              entries.map((e) => e.id),
              [2, 3, 4, 5, 6, 7, 8]
            )
            assert.deepStrictEqual(
              entries.map((e) =>
                e.event.type === "content_block_delta" ? (e.event.delta as { text: string }).text : e.event.type
              ),
              ["1", "2", "3", "4", "5", "6", "ask_end"]
            )
            assert.strictEqual(yield* log.openAsk(stream), undefined)
          })
        )
        // the ask's end reached the store: it is closed for the next process too
        yield* withLog(directory, (log, store) =>
          Effect.gen(function* () {
            assert.strictEqual(yield* log.openAsk(stream), undefined)
            const asks = yield* store.asks({ tenant: "t", id: "s" })
            assert.strictEqual(asks.length, 1)
            assert.deepStrictEqual(asks[0]!.end, { status: "completed" })
          })
        )
      })
    )
  )

  it.live("asks the store no longer keeps are EventsExpired, naming the oldest id still kept", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const directory = yield* tempDirectory
        const stream = EventLog.sessionStream("t", "s")
        const options = { asksPerSession: 2, capacity: 2 }
        yield* withLog(
          directory,
          (log, store) =>
            Effect.gen(function* () {
              yield* store.create("t", { id: "s" })
              for (const ask of ["a1", "a2", "a3"]) yield* log.append(stream, [start(ask), delta(ask), end(ask)])
            }),
          options
        )
        yield* withLog(
          directory,
          (log) =>
            Effect.gen(function* () {
              assert.deepStrictEqual(yield* log.bounds(stream), { first: 4, last: 9 })
              const expired = yield* Effect.flip(log.read(stream, 1))
              assert.strictEqual(expired._tag, "EventsExpired")
              assert.strictEqual(expired.oldest, 4)
              assert.deepStrictEqual(
                (yield* log.read(stream, 3)).map((e) => e.id),
                [4, 5, 6, 7, 8, 9]
              )
            }),
          options
        )
      })
    )
  )
})
