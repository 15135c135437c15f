import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Mock } from "../../src/index.js"
import { call, createSession, openSse, startServer, TOKEN_A, TOKEN_B } from "./helpers.js"

const twoTurns = { turns: [Mock.toolCall("list_variables"), Mock.text("There is no data yet.")] }

describe("session API", () => {
  it.live("creates a session with its system prompt and the server's provider; lists and gets it per tenant", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(twoTurns, { system: "default prompt" })
        const created = yield* call(url, "POST", "/v1/sessions", { body: { system: "You are terse." } })
        assert.strictEqual(created.status, 201)
        assert.strictEqual(created.body.system, "You are terse.")
        assert.strictEqual(created.body.provider, "mock")
        assert.strictEqual(created.body.model, "mock-model")
        assert.strictEqual(created.body.running_ask, null)
        assert.strictEqual(created.body.last_event_id, 0)
        const plain = yield* call(url, "POST", "/v1/sessions", { body: {} })
        assert.strictEqual(plain.body.system, "default prompt")

        const listA = yield* call(url, "GET", "/v1/sessions")
        assert.sameMembers(
          listA.body.sessions.map((s: { id: string }) => s.id),
          [created.body.id, plain.body.id]
        )
        const listB = yield* call(url, "GET", "/v1/sessions", { token: TOKEN_B })
        assert.deepStrictEqual(listB.body, { sessions: [] })
        const got = yield* call(url, "GET", `/v1/sessions/${created.body.id}`)
        assert.deepStrictEqual(got.body, created.body)
      })
    )
  )

  it.live(
    "an ask streams its events as SSE from ask_start to ask_end, each with the next id and its type as event",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* startServer(twoTurns)
          const id = yield* createSession(url)
          const sse = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, {
            body: { prompt: "What data is there?" }
          })
          assert.strictEqual(sse.status, 200)
          assert.include(sse.headers.get("content-type"), "text/event-stream")
          const events = yield* sse.toEnd
          assert.deepStrictEqual(
            events.map((e) => Number(e.id)),
            events.map((_, i) => i + 1)
          )
          for (const event of events) assert.strictEqual(event.event, event.data.type)
          assert.strictEqual(events[0]!.data.type, "ask_start")
          assert.strictEqual(events[0]!.data.prompt, "What data is there?")
          const end = events[events.length - 1]!.data
          assert.strictEqual(end.type, "ask_end")
          assert.strictEqual(end.ask_id, events[0]!.data.ask_id)
          assert.strictEqual(end.status, "completed")
          assert.isAbove(end.usage.input_tokens, 0)
          assert.strictEqual(events.filter((e) => e.event === "tool_result").length, 1)
          const text = events
            .filter((e) => e.event === "content_block_delta" && e.data.delta.type === "text_delta")
            .map((e) => e.data.delta.text)
            .join("")
          assert.strictEqual(text, "There is no data yet.")

          const info = yield* call(url, "GET", `/v1/sessions/${id}`)
          assert.strictEqual(info.body.last_event_id, events.length)
          assert.strictEqual(info.body.running_ask, null)
        })
      )
  )

  it.live("history holds the conversation and the session's usage", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(twoTurns)
        const id = yield* createSession(url)
        const sse = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "hi" } })
        const end = (yield* sse.toEnd).at(-1)!.data
        const history = yield* call(url, "GET", `/v1/sessions/${id}/history`)
        assert.strictEqual(history.status, 200)
        assert.deepStrictEqual(
          history.body.messages.map((m: { role: string }) => m.role),
          ["user", "assistant", "user", "assistant"]
        )
        assert.deepStrictEqual(history.body.messages[0].content, [{ type: "text", text: "hi" }])
        assert.strictEqual(history.body.messages[1].content[0].name, "list_variables")
        assert.deepStrictEqual(history.body.usage, end.usage)
      })
    )
  )

  it.live("DELETE removes the session and its directory; afterwards every endpoint answers 404", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, sessions } = yield* startServer(twoTurns)
        const id = yield* createSession(url)
        const directory = (yield* sessions.get("a", id)).directory
        const fs = yield* Effect.promise(() => import("node:fs"))
        assert.isTrue(fs.existsSync(directory))
        const removed = yield* call(url, "DELETE", `/v1/sessions/${id}`)
        assert.strictEqual(removed.status, 204)
        assert.isFalse(fs.existsSync(directory))
        for (const [method, path, body] of [
          ["GET", "", undefined],
          ["DELETE", "", undefined],
          ["GET", "/data", undefined],
          ["GET", "/history", undefined],
          ["POST", "/interrupt", undefined],
          ["POST", "/asks", { prompt: "hi" }],
          ["GET", "/events", undefined]
        ] as const) {
          const response = yield* call(url, method, `/v1/sessions/${id}${path}`, { body })
          assert.strictEqual(response.status, 404, `${method} ${path}`)
          assert.strictEqual(response.body._tag, "SessionNotFound")
          assert.strictEqual(response.body.session_id, id)
        }
      })
    )
  )

  it.live("bad input of every kind is a 400 whose field names the part at fault", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(twoTurns)
        const id = yield* createSession(url)
        const cases: ReadonlyArray<
          readonly [string, string, { body?: unknown; headers?: Record<string, string> }, string]
        > = [
          ["POST", "/v1/sessions", { body: { system: 42 } }, "payload.system"],
          ["POST", "/v1/sessions", { body: { sytem: "typo" } }, "payload.sytem"],
          ["POST", "/v1/sessions", { body: "{not json" }, "payload"],
          ["POST", `/v1/sessions/${id}/asks`, { body: {} }, "payload.prompt"],
          ["POST", `/v1/sessions/${id}/asks`, { body: { prompt: "  \n " } }, "payload.prompt"],
          ["POST", `/v1/sessions/${id}/asks`, { body: { prompt: ["a"] } }, "payload.prompt"],
          ["GET", `/v1/sessions/${id}/events`, { headers: { "last-event-id": "seven" } }, "headers.last-event-id"],
          ["GET", `/v1/sessions/${id}/events?after=-1`, {}, "query.after"],
          ["GET", `/v1/sessions/${id}/events?follow=yes`, {}, "query.follow"],
          [
            "PUT",
            `/v1/sessions/${id}/data/t?format=xlsx`,
            { body: "a\n1\n", headers: { "content-type": "text/csv" } },
            "query.format"
          ]
        ]
        for (const [method, path, options, field] of cases) {
          const response = yield* call(url, method, path, options)
          assert.strictEqual(response.status, 400, `${method} ${path}`)
          assert.strictEqual(response.body._tag, "BadRequest")
          assert.strictEqual(response.body.field, field, `${method} ${path}: ${JSON.stringify(response.body)}`)
          assert.include(response.body.message, field)
        }
        // two problems at once are both named
        const both = yield* call(url, "POST", "/v1/sessions", { body: { system: 1, extra: true } })
        assert.sameMembers(
          both.body.issues.map((i: { field: string }) => i.field),
          ["payload.system", "payload.extra"]
        )
        // nothing of the session was lost: it answers its next ask
        const sse = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "hi" } })
        assert.strictEqual((yield* sse.toEnd).at(-1)!.data.status, "completed")
      })
    )
  )

  it.live("a second ask while one runs is a 409 naming the running ask", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const { url } = yield* startServer({
          turns: [Mock.reply(() => Effect.as(Deferred.await(gate), Mock.text("done")))]
        })
        const id = yield* createSession(url)
        const first = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "one" } })
        const [start] = yield* first.until((e) => e.event === "ask_start")
        const second = yield* call(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "two" } })
        assert.strictEqual(second.status, 409)
        assert.strictEqual(second.body._tag, "AskInProgress")
        assert.strictEqual(second.body.ask_id, start!.data.ask_id)
        const info = yield* call(url, "GET", `/v1/sessions/${id}`)
        assert.strictEqual(info.body.running_ask, start!.data.ask_id)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual((yield* first.toEnd).at(-1)!.data.status, "completed")
      })
    )
  )

  it.live("a JSON body over the request limit is a 413 JSON error naming the body", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(twoTurns, { limits: { maxRequestBytes: 1024 } })
        const id = yield* createSession(url)
        const response = yield* call(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "x".repeat(2000) } })
        assert.strictEqual(response.status, 413)
        assert.strictEqual(response.body._tag, "PayloadTooLarge")
        assert.strictEqual(response.body.field, "body")
        const history = yield* call(url, "GET", `/v1/sessions/${id}/history`)
        assert.deepStrictEqual(history.body.messages, [])
      })
    )
  )

  it.live(
    "an unknown route is a 404 JSON error; the OpenAPI document describes every endpoint and the token schemes",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* startServer(twoTurns)
          const missing = yield* call(url, "GET", "/v1/nothing")
          assert.strictEqual(missing.status, 404)
          assert.strictEqual(missing.body._tag, "NotFound")
          const openapi = yield* call(url, "GET", "/openapi.json", { token: null })
          assert.strictEqual(openapi.status, 200)
          assert.includeMembers(Object.keys(openapi.body.paths), [
            "/v1/sessions",
            "/v1/sessions/{id}",
            "/v1/sessions/{id}/data/{name}",
            "/v1/sessions/{id}/data",
            "/v1/sessions/{id}/asks",
            "/v1/sessions/{id}/events",
            "/v1/sessions/{id}/interrupt",
            "/v1/sessions/{id}/history",
            "/v1/messages"
          ])
          assert.deepStrictEqual(
            Object.keys(openapi.body.paths["/v1/sessions/{id}/asks"].post.responses["200"].content),
            ["text/event-stream"]
          )
          assert.includeMembers(Object.keys(openapi.body.components.securitySchemes), ["bearer", "apiKey", "cookie"])
          assert.notInclude(JSON.stringify(openapi.body), TOKEN_A)
        })
      )
  )
})
