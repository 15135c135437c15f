import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Logger } from "effect"
import { Mock } from "../../src/index.js"
import { Tenancy } from "../../src/server/index.js"
import { awaitIdle, call, createSession, openSse, startServer, TOKEN_A, TOKEN_B } from "./helpers.js"

describe("tenancy", () => {
  it.live("another tenant's session is not found on every endpoint, and nothing it tries touches the session", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const { url } = yield* startServer({
          turns: [Mock.reply(() => Effect.as(Deferred.await(gate), Mock.text("A's answer")))]
        })
        const id = yield* createSession(url, TOKEN_A)
        const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "A asks" } })
        yield* ask.until((e) => e.event === "ask_start")
        const tries = [
          ["GET", "", undefined],
          ["GET", "/data", undefined],
          ["GET", "/history", undefined],
          ["GET", "/events?after=0", undefined],
          ["POST", "/interrupt", undefined],
          ["POST", "/asks", { prompt: "B asks" }],
          ["DELETE", "", undefined]
        ] as const
        for (const [method, path, body] of tries) {
          const response = yield* call(url, method, `/v1/sessions/${id}${path}`, { token: TOKEN_B, body })
          assert.strictEqual(response.status, 404, `${method} ${path}`)
          assert.deepStrictEqual(Object.keys(response.body).sort(), ["_tag", "message", "session_id"])
          assert.strictEqual(response.body._tag, "SessionNotFound")
        }
        const upload = yield* Effect.promise(() =>
          fetch(`${url}/v1/sessions/${id}/data/t`, {
            method: "PUT",
            headers: { authorization: `Bearer ${TOKEN_B}`, "content-type": "text/csv" },
            body: "a\n1\n"
          })
        )
        assert.strictEqual(upload.status, 404)
        // the same answer as for a session that never existed
        const never = yield* call(url, "GET", "/v1/sessions/sess_never", { token: TOKEN_B })
        assert.strictEqual(never.status, 404)

        // A's ask ran on, uninterrupted, and A's data is untouched
        yield* Deferred.succeed(gate, undefined)
        const events = yield* ask.toEnd
        assert.strictEqual(events.at(-1)!.data.status, "completed")
        assert.deepStrictEqual((yield* call(url, "GET", `/v1/sessions/${id}/data`)).body.handles, [])
        const history = (yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages
        assert.strictEqual(history.length, 2)
      })
    )
  )

  it.live("a token is taken as a bearer, as x-api-key or as the dh_token cookie; none or an unknown one is a 401", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] })
        const ways: ReadonlyArray<Record<string, string>> = [
          { authorization: `Bearer ${TOKEN_A}` },
          { "x-api-key": TOKEN_A },
          { cookie: `dh_token=${TOKEN_A}` }
        ]
        for (const headers of ways) {
          const response = yield* call(url, "GET", "/v1/sessions", { token: null, headers })
          assert.strictEqual(response.status, 200, JSON.stringify(headers))
        }
        for (const headers of [
          {},
          { authorization: "Bearer wrong-token" },
          { "x-api-key": "" },
          { authorization: TOKEN_A }
        ]) {
          const response = yield* call(url, "GET", "/v1/sessions", { token: null, headers })
          assert.strictEqual(response.status, 401, JSON.stringify(headers))
          assert.strictEqual(response.body._tag, "Unauthorized")
          assert.notInclude(JSON.stringify(response.body), "wrong-token")
        }
        // a bad token with a bad body is a 401: nothing about the request is checked first
        const both = yield* call(url, "POST", "/v1/sessions", { token: "nope", body: "{not json" })
        assert.strictEqual(both.status, 401)
      })
    )
  )

  it.live(
    "a tenant runs at most maxConcurrentAsks asks at once (429), counting /v1/messages; other tenants are not held back",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const gate = yield* Deferred.make<void>()
          const { url } = yield* startServer(
            { turns: [Mock.reply(() => Effect.as(Deferred.await(gate), Mock.text("done")))] },
            { limits: { maxConcurrentAsks: 1 } }
          )
          const one = yield* createSession(url)
          const two = yield* createSession(url)
          const other = yield* createSession(url, TOKEN_B)
          const running = yield* openSse(url, "POST", `/v1/sessions/${one}/asks`, { body: { prompt: "q" } })
          yield* running.until((e) => e.event === "ask_start")

          const refused = yield* call(url, "POST", `/v1/sessions/${two}/asks`, { body: { prompt: "q" } })
          assert.strictEqual(refused.status, 429)
          assert.strictEqual(refused.body._tag, "TooManyRequests")
          assert.strictEqual(refused.body.limit, 1)
          const message = yield* call(url, "POST", "/v1/messages", {
            body: { model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }
          })
          assert.strictEqual(message.status, 429)
          assert.strictEqual(message.body.error.type, "rate_limit_error")
          // the refused ask left nothing behind
          assert.deepStrictEqual((yield* call(url, "GET", `/v1/sessions/${two}/history`)).body.messages, [])

          const b = yield* openSse(url, "POST", `/v1/sessions/${other}/asks`, { body: { prompt: "q" }, token: TOKEN_B })
          assert.strictEqual(b.status, 200)
          yield* Deferred.succeed(gate, undefined)
          yield* running.toEnd
          yield* b.toEnd
          yield* awaitIdle(url, one)
          // the slot is free again
          const again = yield* openSse(url, "POST", `/v1/sessions/${two}/asks`, { body: { prompt: "q" } })
          assert.strictEqual(again.status, 200)
          assert.strictEqual((yield* again.toEnd).at(-1)!.data.status, "completed")
        })
      )
  )

  it.live("sessions created at once are all kept, and the session limit holds however many arrive together", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] }, { limits: { maxSessions: 15 } })
        const created = yield* Effect.forEach(
          Array.from({ length: 20 }, () => undefined),
          () => call(url, "POST", "/v1/sessions", { body: {} }),
          { concurrency: "unbounded" }
        )
        const ok = created.filter((r) => r.status === 201).map((r) => r.body.id as string)
        assert.strictEqual(ok.length, 15)
        assert.strictEqual(created.filter((r) => r.status === 429).length, 5)
        for (const id of ok) assert.strictEqual((yield* call(url, "GET", `/v1/sessions/${id}`)).status, 200)
        assert.strictEqual((yield* call(url, "GET", "/v1/sessions")).body.sessions.length, 15)
      })
    )
  )

  it.live("a tenant holds at most maxSessions sessions (429); deleting one makes room", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] }, { limits: { maxSessions: 2 } })
        const first = yield* createSession(url)
        yield* createSession(url)
        const third = yield* call(url, "POST", "/v1/sessions", { body: {} })
        assert.strictEqual(third.status, 429)
        assert.strictEqual(third.body.limit, 2)
        assert.strictEqual((yield* call(url, "POST", "/v1/sessions", { body: {}, token: TOKEN_B })).status, 201)
        yield* call(url, "DELETE", `/v1/sessions/${first}`)
        assert.strictEqual((yield* call(url, "POST", "/v1/sessions", { body: {} })).status, 201)
      })
    )
  )

  it.live("no token appears in a log line or an error body, also when an ask crashes", () => {
    const lines: Array<string> = []
    const capture = Logger.make((options) => {
      lines.push(JSON.stringify([options.message, String(options.cause)]))
    })
    return Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({
          turns: [Mock.reply(() => Effect.die(new Error("the scripted model crashed")))]
        })
        const id = yield* createSession(url)
        const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "q" } })
        const end = (yield* ask.toEnd).at(-1)!.data
        assert.strictEqual(end.status, "failed")
        assert.deepStrictEqual(end.error, {
          _tag: "InternalError",
          message: "The server failed while running the ask.",
          retryable: false
        })
        const bodies = [
          yield* call(url, "GET", "/v1/sessions", { token: "secret-token-1" }),
          yield* call(url, "GET", "/v1/sessions", { token: null, headers: { "x-api-key": "secret-token-2" } }),
          yield* call(url, "GET", "/v1/nothing"),
          yield* call(url, "POST", "/v1/messages", { token: "secret-token-3", body: {} })
        ]
        assert.isAbove(lines.length, 0, "the crash was logged")
        for (const text of [...lines, ...bodies.map((b) => JSON.stringify(b.body))]) {
          for (const token of [TOKEN_A, TOKEN_B, "secret-token-1", "secret-token-2", "secret-token-3"]) {
            assert.notInclude(text, token)
          }
        }
      })
    ).pipe(Effect.provide(Logger.layer([capture])))
  })

  it("a token table matches tokens by digest and refuses one token for two tenants", () => {
    const table = Tenancy.tokens([
      { tenant: "a", token: "t1" },
      { tenant: "b", token: "t2" },
      { tenant: "a", token: "" }
    ])
    assert.strictEqual(table.size, 2)
    assert.throws(() =>
      Tenancy.tokens([
        { tenant: "a", token: "same" },
        { tenant: "b", token: "same" }
      ])
    )
  })
})
