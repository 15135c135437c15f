import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Mock } from "../../src/index.js"
import { Server, ServerSessions, Tenancy } from "../../src/server/index.js"
import { call, createSession, startServer, TOKEN_A, TOKEN_B } from "./helpers.js"

const tokens = Tenancy.tokens([
  { tenant: "a", token: TOKEN_A },
  { tenant: "b", token: TOKEN_B }
])

/** A page route (public) and a data route of ours (authenticated, reading the tenant's sessions). */
const page = HttpRouter.add("GET", "/", HttpServerResponse.html("<h1>analyst</h1>"))
const mine = HttpRouter.add(
  "GET",
  "/my/sessions",
  Effect.gen(function* () {
    const tenant = yield* Tenancy.Tenant
    const sessions = yield* ServerSessions.ServerSessions
    const list = yield* sessions.list(tenant.id)
    return HttpServerResponse.jsonUnsafe({ tenant: tenant.id, sessions: list.map((s) => s.id) })
  })
).pipe(Layer.provide(Server.authenticate(tokens).layer))

describe("routes beside the API", () => {
  it.live("routes passed to Server.layer are served next to the API and reach its sessions", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] }, { routes: Layer.mergeAll(page, mine) })
        const html = yield* Effect.promise(() => fetch(url).then((r) => r.text()))
        assert.strictEqual(html, "<h1>analyst</h1>")
        const id = yield* createSession(url)
        const a = yield* call(url, "GET", "/my/sessions")
        assert.deepStrictEqual(a.body, { tenant: "a", sessions: [id] })
        const viaKey = yield* call(url, "GET", "/my/sessions", { token: null, headers: { "x-api-key": TOKEN_B } })
        assert.deepStrictEqual(viaKey.body, { tenant: "b", sessions: [] })
        const viaCookie = yield* call(url, "GET", "/my/sessions", {
          token: null,
          headers: { cookie: `dh_token=${TOKEN_A}` }
        })
        assert.strictEqual(viaCookie.body.tenant, "a")
        const none = yield* call(url, "GET", "/my/sessions", { token: "nope" })
        assert.strictEqual(none.status, 401)
        assert.strictEqual(none.body._tag, "Unauthorized")
        // the API is unchanged beside them
        assert.strictEqual((yield* call(url, "GET", "/v1/sessions")).body.sessions.length, 1)
      })
    )
  )
})
