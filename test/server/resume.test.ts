import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Mock } from "../../src/index.js"
import { EventLog } from "../../src/server/index.js"
import { awaitIdle, call, createSession, openSse, type SseEvent, startServer } from "./helpers.js"

const ids = (events: ReadonlyArray<SseEvent>) => events.map((e) => Number(e.id))

/**
 * A script whose second and third turns wait for gates: the test decides when the ask moves on,
 * and learns (from `reachedThird`) when every event of the second turn was written to the log.
 */
const gated = Effect.gen(function* () {
  const second = yield* Deferred.make<void>()
  const third = yield* Deferred.make<void>()
  const reachedThird = yield* Deferred.make<void>()
  const mock: Mock.Options = {
    turns: [
      Mock.toolCall("list_variables"),
      Mock.reply(() =>
        Effect.as(Deferred.await(second), Mock.toolCalls([{ name: "list_variables" }], "Looking again."))
      ),
      Mock.reply(() =>
        Effect.andThen(
          Deferred.succeed(reachedThird, undefined),
          Effect.as(Deferred.await(third), Mock.text("Nothing."))
        )
      )
    ],
    chunkSize: 4
  }
  return { mock, second, third, reachedThird }
})

describe("resumable event streams", () => {
  it.live(
    "a client that reconnects with Last-Event-ID mid-ask gets exactly the events it missed, once, then the live ones",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { mock, second, third, reachedThird } = yield* gated
          const { url } = yield* startServer(mock)
          const id = yield* createSession(url)

          // the first connection reads up to the first tool result, then drops
          const first = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "What is there?" } })
          const seen = yield* first.until((e) => e.event === "tool_result")
          yield* first.close
          const last = seen.at(-1)!.id!

          // with no client attached the ask runs on: its second turn is written to the log
          yield* Deferred.succeed(second, undefined)
          yield* Deferred.await(reachedThird)

          const resumed = yield* openSse(url, "GET", `/v1/sessions/${id}/events`, {
            headers: { "last-event-id": last }
          })
          assert.strictEqual(resumed.status, 200)
          const missed = yield* resumed.until((e) => e.event === "tool_result")
          yield* Deferred.succeed(third, undefined)
          const live = yield* resumed.toEnd

          const whole = yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=0`)
          const all = yield* whole.toEnd
          assert.deepStrictEqual(
            ids(all),
            ids(all).map((_, i) => i + 1)
          )
          const received = [...seen, ...missed, ...live]
          // every event exactly once, in order, with the same content
          assert.deepStrictEqual(received, all)
          assert.strictEqual(Number(missed[0]!.id), Number(last) + 1)
          assert.isTrue(missed.some((e) => e.event === "content_block_delta" && e.data.delta.text === "Look"))
          assert.strictEqual(live.at(-1)!.data.type, "ask_end")
          assert.strictEqual(live.at(-1)!.data.status, "completed")
        })
      )
  )

  it.live("?after= resumes like Last-Event-ID; without a cursor a stream starts at the running ask's ask_start", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { mock, second, third } = yield* gated
        const { url } = yield* startServer(mock)
        const id = yield* createSession(url)
        const first = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "q" } })
        const seen = yield* first.until((e) => e.event === "tool_result")
        yield* first.close

        const fromStart = yield* openSse(url, "GET", `/v1/sessions/${id}/events`)
        const byQuery = yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=${seen[2]!.id}`)
        yield* Deferred.succeed(second, undefined)
        yield* Deferred.succeed(third, undefined)
        const wholeAsk = yield* fromStart.toEnd
        const rest = yield* byQuery.toEnd
        assert.deepStrictEqual(wholeAsk.slice(0, seen.length), seen)
        assert.strictEqual(wholeAsk[0]!.event, "ask_start")
        assert.strictEqual(wholeAsk.at(-1)!.event, "ask_end")
        assert.deepStrictEqual(rest, wholeAsk.slice(3))

        // caught up and nothing running: the stream ends at once, empty
        const idle = yield* openSse(url, "GET", `/v1/sessions/${id}/events`)
        assert.deepStrictEqual(yield* idle.toEnd, [])
      })
    )
  )

  it.live("?follow=true stays open across asks until the session is deleted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("one"), Mock.text("two")] })
        const id = yield* createSession(url)
        const follow = yield* openSse(url, "GET", `/v1/sessions/${id}/events?follow=true`)
        for (const prompt of ["first", "second"]) {
          const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt } })
          yield* ask.toEnd
        }
        const two = yield* follow.until((e) => e.event === "ask_end")
        const three = yield* follow.until((e) => e.event === "ask_end")
        assert.strictEqual(two[0]!.data.prompt, "first")
        assert.strictEqual(three[0]!.data.prompt, "second")
        yield* call(url, "DELETE", `/v1/sessions/${id}`)
        assert.deepStrictEqual(yield* follow.toEnd, [])
      })
    )
  )

  it.live("a Last-Event-ID older than the log keeps is a 410 EventsExpired naming the oldest kept id", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(
          { turns: [Mock.text("a long enough answer")], chunkSize: 1 },
          { eventLog: EventLog.layerMemory({ capacity: 10 }) }
        )
        const id = yield* createSession(url)
        // the ask writes more events than the log keeps; its own stream is not read
        const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "q" } })
        yield* ask.close
        yield* awaitIdle(url, id)
        const last = (yield* call(url, "GET", `/v1/sessions/${id}`)).body.last_event_id as number
        assert.isAbove(last, 20)
        const gone = yield* call(url, "GET", `/v1/sessions/${id}/events`, { headers: { "last-event-id": "1" } })
        assert.strictEqual(gone.status, 410)
        assert.strictEqual(gone.body._tag, "EventsExpired")
        assert.strictEqual(gone.body.oldest, last - 9)
        const kept = yield* openSse(url, "GET", `/v1/sessions/${id}/events`, {
          headers: { "last-event-id": String(last - 10) }
        })
        assert.strictEqual((yield* kept.toEnd).length, 10)
      })
    )
  )
})
