import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Mock } from "../../src/index.js"
import { call, createSession, openSse, startServer } from "./helpers.js"

describe("interrupting asks", () => {
  it.live("interrupt ends a running ask with ask_end interrupted, and the session takes the next ask", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.stall("Let me think"), Mock.text("Second answer.")] })
        const id = yield* createSession(url)
        const first = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "one" } })
        const seen = yield* first.until((e) => e.event === "content_block_delta")
        const askId = seen[0]!.data.ask_id

        const interrupted = yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)
        assert.strictEqual(interrupted.status, 200)
        assert.deepStrictEqual(interrupted.body, { interrupted: true, ask_id: askId })
        const rest = yield* first.toEnd
        const end = rest.at(-1)!.data
        assert.strictEqual(end.type, "ask_end")
        assert.strictEqual(end.status, "interrupted")
        assert.strictEqual(end.ask_id, askId)
        // the interrupt answered after the ask had ended
        assert.strictEqual((yield* call(url, "GET", `/v1/sessions/${id}`)).body.running_ask, null)

        const second = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "two" } })
        const events = yield* second.toEnd
        assert.strictEqual(events.at(-1)!.data.status, "completed")
        const history = (yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages
        // the partial turn kept, then the second exchange; roles alternate
        assert.deepStrictEqual(
          history.map((m: { role: string }) => m.role),
          ["user", "assistant", "user", "assistant"]
        )
        assert.deepStrictEqual(history[1].content, [{ type: "text", text: "Let me think" }])
        assert.deepStrictEqual(history[3].content, [{ type: "text", text: "Second answer." }])
      })
    )
  )

  it.live("interrupt with nothing running says so", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] })
        const id = yield* createSession(url)
        const response = yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)
        assert.deepStrictEqual(response.body, { interrupted: false, ask_id: null })
      })
    )
  )

  it.live("a client that drops does not stop the ask; interrupt does, with no client attached", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.stall("partial")] })
        const id = yield* createSession(url)
        const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "q" } })
        const [start] = yield* ask.until((e) => e.event === "ask_start")
        yield* ask.close
        assert.strictEqual((yield* call(url, "GET", `/v1/sessions/${id}`)).body.running_ask, start!.data.ask_id)
        const interrupted = yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)
        assert.isTrue(interrupted.body.interrupted)
        const events = yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=0`)
        const all = yield* events.toEnd
        assert.strictEqual(all.at(-1)!.data.status, "interrupted")
      })
    )
  )

  it.live("deleting a session interrupts its ask and ends the streams reading it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, sessions } = yield* startServer({ turns: [Mock.stall("partial")] })
        const id = yield* createSession(url)
        const ask = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "q" } })
        yield* ask.until((e) => e.event === "content_block_delta")
        const removed = yield* call(url, "DELETE", `/v1/sessions/${id}`)
        assert.strictEqual(removed.status, 204)
        // the stream gets the ask's end, then ends
        assert.strictEqual((yield* ask.toEnd).at(-1)!.data.status, "interrupted")
        assert.deepStrictEqual(yield* sessions.list("a"), [])
      })
    )
  )
})
