import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Mock } from "../../src/index.js"
import { call, createSession, openSse, startServer } from "./helpers.js"

it.live("smoke", () =>
  Effect.scoped(
    Effect.gen(function* () {
      const { url } = yield* startServer({ turns: [Mock.toolCall("list_variables"), Mock.text("hello there")] })
      const id = yield* createSession(url)
      console.log(id)
      const sse = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "hi" } })
      const events = yield* sse.toEnd
      console.log(sse.status, events.map((e) => `${e.id} ${e.event}`).join("\n"))
      console.log(JSON.stringify(yield* call(url, "GET", `/v1/sessions/${id}/history`)))
      console.log(JSON.stringify(yield* call(url, "POST", `/v1/sessions`, { body: { nope: 1, system: 3 } })))
      console.log(JSON.stringify(yield* call(url, "POST", `/v1/sessions`, { body: "{bad" })))
      console.log(JSON.stringify(yield* call(url, "POST", `/v1/sessions`, { token: null, body: {} })))
      console.log(JSON.stringify(yield* call(url, "GET", `/v1/nothing`)))
      console.log(
        JSON.stringify(yield* call(url, "GET", `/v1/sessions/${id}/events`, { headers: { "last-event-id": "x" } }))
      )
      const o = yield* call(url, "GET", `/openapi.json`)
      console.log(o.status, Object.keys(o.body.paths))
      assert.strictEqual(sse.status, 200)
    })
  )
)
