/**
 * The cluster's HTTP front (`Cluster.layerHttp`) over `Cluster.layerLocal` (Effect Cluster's
 * in-memory runner, every call encoded by the entity's schemas), the memory `SessionStore`, real
 * DuckDB and the scripted model: a real server on a free port, called with `fetch`. Routing to
 * another runner over HTTP is in the two-runner suite (`npm run test:cluster`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import { HttpServer } from "effect/http"
import { Cluster } from "../../src/cluster/index.js"
import { Mock, SessionStore } from "../../src/index.js"
import { call, openSse, type SseEvent, TOKEN_A, TOKEN_B } from "../server/helpers.js"
import { brain } from "./brain.js"

/** The front on a free port for the scope's life; tenants `a` and `b`. */
const start: Effect.Effect<string, never, Scope.Scope> = Effect.gen(function* () {
  const layer = Cluster.layerHttp({
    port: 0,
    tokens: [
      { tenant: "a", token: TOKEN_A },
      { tenant: "b", token: TOKEN_B }
    ]
  }).pipe(
    Layer.provideMerge(Cluster.layerLocal()),
    Layer.provideMerge(SessionStore.layerMemory()),
    Layer.provideMerge(Mock.layer({ turns: [brain("local")] }))
  )
  const context = yield* Layer.build(layer).pipe(Effect.orDie)
  return HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
})

const create = (url: string, id: string, token = TOKEN_A) =>
  Effect.map(call(url, "POST", "/v1/sessions", { token, body: { id } }), (response) => {
    assert.strictEqual(response.status, 201, JSON.stringify(response.body))
    assert.deepStrictEqual(response.body, { id })
  })

const textOf = (events: ReadonlyArray<SseEvent>) =>
  events
    .filter((e) => e.event === "content_block_delta" && e.data.delta.type === "text_delta")
    .map((e) => e.data.delta.text)
    .join("")

/** The ids of the events that have one, as numbers. */
const idsOf = (events: ReadonlyArray<SseEvent>) => events.flatMap((e) => (e.id === undefined ? [] : [Number(e.id)]))

describe("Cluster.layerHttp", () => {
  it.live(
    "create, put rows, an ask streamed as SSE (stored ids, increasing, then ask_end naming the runner), history",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* start
          yield* create(url, "s1")
          const put = yield* call(url, "PUT", "/v1/sessions/s1/data/sales", {
            body: [
              { region: "EU", revenue: 120 },
              { region: "US", revenue: 80 }
            ]
          })
          assert.strictEqual(put.status, 201, JSON.stringify(put.body))
          assert.deepStrictEqual(put.body, { name: "sales" })

          const ask = yield* openSse(url, "POST", "/v1/sessions/s1/asks", {
            body: { prompt: "sql: select sum(revenue) as total from sales", ask_id: "ask-1" }
          })
          assert.strictEqual(ask.status, 200)
          assert.include(ask.headers.get("content-type") ?? "", "text/event-stream")
          const events = yield* ask.toEnd
          assert.deepInclude(events[0]!, { id: undefined, event: "ask_start" })
          assert.strictEqual(events[0]!.data.ask_id, "ask-1")
          const ids = idsOf(events)
          assert.deepStrictEqual(
            ids,
            ids.map((_, i) => i + 1),
            "ids are the stored log's 1, 2, ..."
          )
          assert.isAbove(ids.length, 3)
          const end = events.at(-1)!
          assert.strictEqual(end.event, "ask_end")
          assert.strictEqual(end.id, undefined)
          assert.deepInclude(end.data, {
            type: "ask_end",
            ask_id: "ask-1",
            status: "completed",
            runner: "localhost:34431",
            session: "a/s1"
          })
          assert.isAbove(end.data.usage.output_tokens, 0)
          // the model's second turn answers with the SQL tool's result over the put rows
          assert.include(textOf(events), "200")

          const history = yield* call(url, "GET", "/v1/sessions/s1/history")
          assert.strictEqual(history.status, 200)
          assert.strictEqual(history.body.runner, "localhost:34431")
          assert.strictEqual(history.body.running_ask, null)
          assert.deepStrictEqual(history.body.messages[0], {
            role: "user",
            content: [{ type: "text", text: "sql: select sum(revenue) as total from sales" }]
          })
          assert.strictEqual(history.body.messages.at(-1).role, "assistant")
          assert.strictEqual(history.body.usage.output_tokens, end.data.usage.output_tokens)
        })
      )
  )

  it.live("asking again with the ask's id and Last-Event-ID replays only the stored events after that id", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* start
        yield* create(url, "s2")
        const body = { prompt: "hello", ask_id: "once" }
        const first = yield* (yield* openSse(url, "POST", "/v1/sessions/s2/asks", { body })).toEnd
        const firstIds = idsOf(first)
        const again = yield* (yield* openSse(url, "POST", "/v1/sessions/s2/asks", {
          body,
          headers: { "last-event-id": "2" }
        })).toEnd
        assert.deepStrictEqual(idsOf(again), firstIds.slice(2))
        assert.deepStrictEqual(
          again.filter((e) => e.id !== undefined),
          first.filter((e) => e.id !== undefined && Number(e.id) > 2)
        )
        // replayed, not run again: no usage this time, and one exchange in the history
        assert.deepInclude(again.at(-1)!.data, { type: "ask_end", status: "completed" })
        assert.strictEqual(again.at(-1)!.data.usage.output_tokens, 0)
        assert.strictEqual((yield* call(url, "GET", "/v1/sessions/s2/history")).body.messages.length, 2)
      })
    )
  )

  it.live("interrupt reaches the running ask: it answers with the ask's id and the stream ends interrupted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* start
        yield* create(url, "s3")
        const ask = yield* openSse(url, "POST", "/v1/sessions/s3/asks", { body: { prompt: "stall here" } })
        const seen = yield* ask.until((e) => e.event === "content_block_delta")
        const askId = seen[0]!.data.ask_id as string
        const interrupted = yield* call(url, "POST", "/v1/sessions/s3/interrupt")
        assert.strictEqual(interrupted.status, 200)
        assert.deepStrictEqual(interrupted.body, { interrupted: true, ask_id: askId })
        const end = (yield* ask.toEnd).at(-1)!
        assert.deepInclude(end.data, { type: "ask_end", ask_id: askId, status: "interrupted" })
        const idle = yield* call(url, "POST", "/v1/sessions/s3/interrupt")
        assert.deepStrictEqual(idle.body, { interrupted: false, ask_id: null })
      })
    )
  )

  it.live(
    "a client that drops interrupts its ask; asking again with its id replays up to the cut, ending interrupted",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* start
          yield* create(url, "s5")
          const body = { prompt: "stall here", ask_id: "dropped" }
          const ask = yield* openSse(url, "POST", "/v1/sessions/s5/asks", { body })
          const seen = yield* ask.until((e) => e.event === "content_block_delta")
          yield* ask.close
          // waits (never asserts) until the owner no longer runs it
          yield* call(url, "GET", "/v1/sessions/s5/history").pipe(
            Effect.repeat({ until: (r) => r.body.running_ask === null, schedule: Schedule.spaced("10 millis") })
          )
          const replayed = yield* (yield* openSse(url, "POST", "/v1/sessions/s5/asks", { body })).toEnd
          const seenIds = idsOf(seen)
          assert.deepStrictEqual(idsOf(replayed).slice(0, seenIds.length), seenIds)
          assert.deepInclude(replayed.at(-1)!.data, { type: "ask_end", ask_id: "dropped", status: "interrupted" })
          assert.strictEqual(textOf(replayed), "partial ")
        })
      )
  )

  it.live("a wrong or missing token is 401, and nothing is created", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* start
        const wrong = yield* call(url, "POST", "/v1/sessions", { token: "nope", body: { id: "x" } })
        assert.strictEqual(wrong.status, 401)
        assert.strictEqual(wrong.body._tag, "Unauthorized")
        const missing = yield* call(url, "GET", "/v1/sessions/x/history", { token: null })
        assert.strictEqual(missing.status, 401)
        // x was not created by the refused call
        assert.strictEqual((yield* call(url, "GET", "/v1/sessions/x/history")).status, 404)
      })
    )
  )

  it.live("another tenant's session is 404 on every route, and stays as it was", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* start
        yield* create(url, "mine")
        const asB = { token: TOKEN_B }
        const history = yield* call(url, "GET", "/v1/sessions/mine/history", asB)
        assert.strictEqual(history.status, 404)
        assert.deepInclude(history.body, { _tag: "SessionNotFound", session_id: "mine" })
        const ask = yield* openSse(url, "POST", "/v1/sessions/mine/asks", { ...asB, body: { prompt: "hi" } })
        assert.strictEqual(ask.status, 404)
        assert.strictEqual(ask.body._tag, "SessionNotFound")
        const put = yield* call(url, "PUT", "/v1/sessions/mine/data/x", { ...asB, body: [1, 2] })
        assert.strictEqual(put.status, 404)
        assert.strictEqual((yield* call(url, "POST", "/v1/sessions/mine/interrupt", asB)).status, 404)
        // tenant a still sees its session, untouched
        const own = yield* call(url, "GET", "/v1/sessions/mine/history")
        assert.strictEqual(own.status, 200)
        assert.deepStrictEqual(own.body.messages, [])
      })
    )
  )

  it.live("bad input is a 400 naming the field; an id taken is 409", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* start
        yield* create(url, "s4")
        const malformed = yield* call(url, "POST", "/v1/sessions/s4/asks", { body: '{"prompt": "hi"' })
        assert.strictEqual(malformed.status, 400)
        assert.strictEqual(malformed.body._tag, "BadRequest")
        const empty = yield* call(url, "POST", "/v1/sessions/s4/asks", { body: { prompt: "  " } })
        assert.strictEqual(empty.status, 400)
        assert.strictEqual(empty.body.field, "payload.prompt")
        const unknown = yield* call(url, "POST", "/v1/sessions/s4/asks", { body: { prompt: "hi", temperature: 1 } })
        assert.strictEqual(unknown.status, 400)
        const badCursor = yield* call(url, "POST", "/v1/sessions/s4/asks", {
          body: { prompt: "hi" },
          headers: { "last-event-id": "soon" }
        })
        assert.strictEqual(badCursor.status, 400)
        assert.strictEqual(badCursor.body.field, "headers.last-event-id")
        const taken = yield* call(url, "POST", "/v1/sessions", { body: { id: "s4" } })
        assert.strictEqual(taken.status, 409)
        assert.deepInclude(taken.body, { _tag: "SessionExists", session_id: "s4" })
        const badId = yield* call(url, "POST", "/v1/sessions", { body: { id: "no/slash" } })
        assert.strictEqual(badId.status, 400)
        assert.strictEqual(badId.body.field, "payload.id")
        // none of it ran an ask
        assert.deepStrictEqual((yield* call(url, "GET", "/v1/sessions/s4/history")).body.messages, [])
      })
    )
  )
})
