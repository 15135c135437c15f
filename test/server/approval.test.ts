/**
 * Tool approval over HTTP: a tool marked with `Approval.require` pauses the ask's SSE stream at
 * its `approval_request`; `GET .../approvals` lists the waiting call, `POST .../approvals/{id}`
 * approves (optionally with edited input) or denies it, and the same stream goes on to `ask_end`.
 */
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Approval, Mock, SessionStore } from "../../src/index.js"
import { emailInput, sendEmail, sent } from "../fixtures/email.js"
import { assertValidHistory, lastUserMessage, toolResultBlocks } from "../utils/events.js"
import { call, createSession, openSse, type SseEvent, startServer, TOKEN_B } from "./helpers.js"

/** The model emails Ana, then quotes what the tool gave back. */
const script: Mock.Options = {
  turns: [
    Mock.toolCall("send_email", emailInput, "toolu_email"),
    Mock.reply(({ lastToolResults }) => Mock.text(`Result: ${String(lastToolResults[0]?.content)}`))
  ]
}

const agent = { tools: [Approval.require(sendEmail, { reason: "emails leave the company" })] }

/**
 * A server whose agent asks before each email (with `options`, e.g. a session store), a session,
 * and its ask's stream read up to the pause.
 */
const pausedAskWith = (options: Parameters<typeof startServer>[1] = { agent }) =>
  Effect.gen(function* () {
    sent.length = 0
    const started = yield* startServer(script, options)
    const id = yield* createSession(started.url)
    const stream = yield* openSse(started.url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "Email Ana." } })
    const before = yield* stream.until((event) => event.event === "approval_request")
    return { ...started, id, stream, before, path: `/v1/sessions/${id}/approvals` }
  })
const pausedAsk = pausedAskWith()

const textOf = (events: ReadonlyArray<SseEvent>) =>
  events
    .filter((e) => e.event === "content_block_delta" && e.data.delta.type === "text_delta")
    .map((e) => e.data.delta.text)
    .join("")

describe("tool approval over HTTP", () => {
  it.live("the ask pauses at approval_request; GET lists the call, POST approve runs it and the stream goes on", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, id, stream, before, path } = yield* pausedAsk
        const request = before.at(-1)!
        assert.deepStrictEqual(request.data, {
          type: "approval_request",
          tool_use_id: "toolu_email",
          tool_name: "send_email",
          input: emailInput,
          reason: "emails leave the company"
        })
        assert.deepStrictEqual(sent, [])

        const listed = yield* call(url, "GET", path)
        assert.strictEqual(listed.status, 200)
        assert.strictEqual(listed.body.approvals.length, 1)
        const { requested_at, ...pending } = listed.body.approvals[0]
        assert.deepStrictEqual(pending, {
          tool_use_id: "toolu_email",
          tool_name: "send_email",
          input: emailInput,
          reason: "emails leave the company"
        })
        assert.isFalse(Number.isNaN(Date.parse(requested_at)))
        const info = yield* call(url, "GET", `/v1/sessions/${id}`)
        assert.strictEqual(info.body.running_ask, before[0]!.data.ask_id)

        const approved = yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })
        assert.strictEqual(approved.status, 200)
        assert.deepStrictEqual(approved.body, {
          tool_use_id: "toolu_email",
          decision: "approve",
          ask_id: before[0]!.data.ask_id
        })

        const after = yield* stream.toEnd
        assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
        const result = after.find((e) => e.event === "tool_result")!
        assert.strictEqual(result.data.content, "sent to ana@example.com")
        assert.isFalse(result.data.is_error)
        assert.strictEqual(textOf(after), "Result: sent to ana@example.com")
        assert.strictEqual(after.at(-1)!.data.status, "completed")
        // the ids run on without a gap across the pause
        assert.deepStrictEqual(
          [...before, ...after].map((e) => Number(e.id)),
          [...before, ...after].map((_, i) => i + 1)
        )

        assert.deepStrictEqual((yield* call(url, "GET", path)).body, { approvals: [] })
        const again = yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })
        assert.strictEqual(again.status, 409)
        assert.strictEqual(again.body._tag, "ApprovalNotPending")
        assert.strictEqual(again.body.tool_use_id, "toolu_email")
        assert.include(again.body.message, "toolu_email")
        const history = (yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages
        assertValidHistory(history)
        assert.deepStrictEqual(
          history.map((m: { role: string }) => m.role),
          ["user", "assistant", "user", "assistant"]
        )
      })
    )
  )

  it.live("POST deny: the call does not run, the model reads the reason as an error result, the ask completes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, id, stream, path, context } = yield* pausedAsk
        const denied = yield* call(url, "POST", `${path}/toolu_email`, {
          body: { decision: "deny", reason: "Not to external addresses." }
        })
        assert.strictEqual(denied.status, 200)
        assert.strictEqual(denied.body.decision, "deny")
        const after = yield* stream.toEnd
        assert.deepStrictEqual(sent, [])
        const result = after.find((e) => e.event === "tool_result")!
        assert.strictEqual(result.data.content, "This tool call was denied: Not to external addresses.")
        assert.isTrue(result.data.is_error)
        assert.strictEqual(after.at(-1)!.data.status, "completed")
        assert.strictEqual(textOf(after), "Result: This tool call was denied: Not to external addresses.")
        // what the model was sent on its next turn
        const requests = yield* Context.get(context, Mock.Recorder).requests
        assert.deepStrictEqual(
          toolResultBlocks(lastUserMessage(requests[1]!)).map((r) => [r.tool_use_id, r.content, r.is_error]),
          [["toolu_email", "This tool call was denied: Not to external addresses.", true]]
        )
        assertValidHistory((yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages)
      })
    )
  )

  it.live("POST deny without a reason: the model reads that no reason was given", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, stream, path } = yield* pausedAsk
        assert.strictEqual(
          (yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "deny" } })).status,
          200
        )
        const result = (yield* stream.toEnd).find((e) => e.event === "tool_result")!
        assert.strictEqual(result.data.content, "This tool call was denied: the approver gave no reason")
        assert.isTrue(result.data.is_error)
        assert.deepStrictEqual(sent, [])
      })
    )
  )

  it.live("approve with input runs the edited call; the history keeps the model's own call", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, id, stream, path } = yield* pausedAsk
        const edited = { to: "ana@example.com", body: "Q3 numbers (reviewed)" }
        const approved = yield* call(url, "POST", `${path}/toolu_email`, {
          body: { decision: "approve", input: edited }
        })
        assert.strictEqual(approved.status, 200)
        assert.strictEqual((yield* stream.toEnd).at(-1)!.data.status, "completed")
        assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers (reviewed)"])
        const history = (yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages
        assert.deepStrictEqual(
          history[1].content.find((b: { type: string }) => b.type === "tool_use").input,
          emailInput
        )
      })
    )
  )

  it.live(
    "another tenant gets 404 on both endpoints, a bad body is a 400 naming the field, an unknown id a 409; the call still waits",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url, stream, path } = yield* pausedAsk
          for (const [method, suffix, body] of [
            ["GET", "", undefined],
            ["POST", "/toolu_email", { decision: "approve" }],
            ["POST", "/toolu_email", { decision: "deny", reason: "B says no" }]
          ] as const) {
            const response = yield* call(url, method, `${path}${suffix}`, { token: TOKEN_B, body })
            assert.strictEqual(response.status, 404, `${method} ${suffix}`)
            assert.strictEqual(response.body._tag, "SessionNotFound")
          }
          const unknownSession = yield* call(url, "GET", "/v1/sessions/sess_never/approvals")
          assert.strictEqual(unknownSession.status, 404)
          assert.strictEqual(unknownSession.body._tag, "SessionNotFound")

          const cases: ReadonlyArray<readonly [unknown, string]> = [
            [{}, "payload.decision"],
            [{ decision: "maybe" }, "payload.decision"],
            [{ decision: "deny", input: {} }, "payload.input"],
            [{ decision: "approve", reason: "fine" }, "payload.reason"],
            [{ decision: "deny", reason: 7 }, "payload.reason"],
            [{ decision: "approve", note: "typo" }, "payload.note"],
            ["{not json", "payload"]
          ]
          for (const [body, field] of cases) {
            const response = yield* call(url, "POST", `${path}/toolu_email`, { body })
            assert.strictEqual(response.status, 400, JSON.stringify(body))
            assert.strictEqual(response.body._tag, "BadRequest")
            assert.strictEqual(response.body.field, field, JSON.stringify(response.body))
          }
          const unknown = yield* call(url, "POST", `${path}/toolu_other`, { body: { decision: "approve" } })
          assert.strictEqual(unknown.status, 409)
          assert.strictEqual(unknown.body._tag, "ApprovalNotPending")
          assert.strictEqual(unknown.body.tool_use_id, "toolu_other")
          assert.include(unknown.body.message, "toolu_email")

          // nothing of that decided the call: it still waits, and A's approval runs it
          assert.deepStrictEqual(sent, [])
          assert.deepStrictEqual(
            (yield* call(url, "GET", path)).body.approvals.map((a: { tool_use_id: string }) => a.tool_use_id),
            ["toolu_email"]
          )
          assert.strictEqual(
            (yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })).status,
            200
          )
          assert.strictEqual((yield* stream.toEnd).at(-1)!.data.status, "completed")
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
        })
      )
  )

  it.live("interrupting a paused ask ends it; nothing waits, the history is valid and the next ask runs", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, id, stream, path } = yield* pausedAsk
        const interrupted = yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)
        assert.strictEqual(interrupted.body.interrupted, true)
        assert.strictEqual((yield* stream.toEnd).at(-1)!.data.status, "interrupted")
        assert.deepStrictEqual((yield* call(url, "GET", path)).body, { approvals: [] })
        const late = yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })
        assert.strictEqual(late.status, 409)
        assert.deepStrictEqual(sent, [])
        assertValidHistory((yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages)
        const next = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "Never mind." } })
        assert.strictEqual((yield* next.toEnd).at(-1)!.data.status, "completed")
      })
    )
  )

  it.live("the OpenAPI document describes both approval endpoints", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(script, { agent })
        const openapi = (yield* call(url, "GET", "/openapi.json", { token: null })).body
        assert.includeMembers(Object.keys(openapi.paths["/v1/sessions/{id}/approvals"]), ["get"])
        const decide = openapi.paths["/v1/sessions/{id}/approvals/{tool_use_id}"].post
        assert.includeMembers(Object.keys(decide.responses), ["200", "400", "404", "409"])
        assert.isDefined(decide.requestBody.content["application/json"])
      })
    )
  )

  describe("on a session store, the pause is durable", () => {
    /** A store in a fresh directory, removed with the scope, and the options of a server on it. */
    const onStore = Effect.map(
      Effect.acquireRelease(
        Effect.promise(() => FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-server-approval-"))),
        (directory) => Effect.promise(() => FsP.rm(directory, { recursive: true, force: true }))
      ),
      (directory) => ({ agent, store: SessionStore.layerFileSystem({ directory }) })
    )
    /** After the first process, the model quotes the tool result. */
    const afterRestart: Mock.Options = { turns: [script.turns[1]!] }

    it.live(
      "a restart while a call waits keeps the ask: it goes on after the restart, announces the call again, and the approval ends it completed",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            sent.length = 0
            const options = yield* onStore
            const { id, before } = yield* Effect.scoped(
              Effect.gen(function* () {
                const { url } = yield* startServer(script, options)
                const id = yield* createSession(url)
                const stream = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, {
                  body: { prompt: "Email Ana." }
                })
                const before = yield* stream.until((event) => event.event === "approval_request")
                // the server stops with the client still reading
                return { id, before }
              })
            )
            const askId = before[0]!.data.ask_id
            // one ask at a time: the continued ask, which waits for a person, must not take it
            const { url } = yield* startServer(
              { turns: [Mock.text("Other answer."), ...afterRestart.turns] },
              { ...options, limits: { maxConcurrentAsks: 1 } }
            )
            const path = `/v1/sessions/${id}/approvals`
            const listed = (yield* call(url, "GET", path)).body.approvals
            assert.deepStrictEqual(
              listed.map((a: { tool_use_id: string; input: unknown }) => [a.tool_use_id, a.input]),
              [["toolu_email", emailInput]]
            )
            const info = (yield* call(url, "GET", `/v1/sessions/${id}`)).body
            assert.strictEqual(info.running_ask, askId)
            const other = yield* createSession(url)
            const otherAsk = yield* openSse(url, "POST", `/v1/sessions/${other}/asks`, { body: { prompt: "Hi." } })
            assert.strictEqual(otherAsk.status, 200)
            assert.strictEqual((yield* otherAsk.toEnd).at(-1)!.data.status, "completed")

            // the client reconnects where it was, and reads the rest of the same ask
            const resumed = yield* openSse(url, "GET", `/v1/sessions/${id}/events`, {
              headers: { "last-event-id": String(before.at(-1)!.id) }
            })
            const announced = yield* resumed.until((event) => event.event === "approval_request")
            assert.strictEqual(announced.at(-1)!.data.tool_use_id, "toolu_email")
            assert.deepStrictEqual(sent, [])
            const approved = yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })
            assert.strictEqual(approved.status, 200)
            assert.strictEqual(approved.body.ask_id, askId)
            const after = yield* resumed.toEnd
            assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
            assert.strictEqual(textOf(after), "Result: sent to ana@example.com")
            const end = after.at(-1)!.data
            assert.deepStrictEqual([end.type, end.ask_id, end.status], ["ask_end", askId, "completed"])
            // one ask in the log: its start before the restart, its end after
            const log = yield* (yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=0`)).toEnd
            assert.deepStrictEqual(
              log.filter((e) => e.event === "ask_start" || e.event === "ask_end").map((e) => e.event),
              ["ask_start", "ask_end"]
            )
            const history = (yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages
            assertValidHistory(history)
            assert.deepStrictEqual(
              history.map((m: { role: string }) => m.role),
              ["user", "assistant", "user", "assistant"]
            )
            assert.deepStrictEqual((yield* call(url, "GET", path)).body, { approvals: [] })
          })
        ),
      60_000
    )

    it.live(
      "an interrupted pause still waits; deciding it starts an ask that resumes it (ask_start resumed), and the model reads the denial",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const { url, context, id, stream, path } = yield* pausedAskWith(yield* onStore)
            assert.strictEqual((yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)).body.interrupted, true)
            assert.strictEqual((yield* stream.toEnd).at(-1)!.data.status, "interrupted")
            assert.deepStrictEqual(
              (yield* call(url, "GET", path)).body.approvals.map((a: { tool_use_id: string }) => a.tool_use_id),
              ["toolu_email"]
            )

            const denied = yield* call(url, "POST", `${path}/toolu_email`, {
              body: { decision: "deny", reason: "Not today." }
            })
            assert.strictEqual(denied.status, 200)
            const askId: string = denied.body.ask_id
            assert.isString(askId)
            const events = yield* (yield* openSse(url, "GET", `/v1/sessions/${id}/events`)).toEnd
            assert.deepStrictEqual(events[0]!.data, { type: "ask_start", ask_id: askId, prompt: "", resumed: true })
            assert.strictEqual(textOf(events), "Result: This tool call was denied: Not today.")
            assert.strictEqual(events.at(-1)!.data.status, "completed")
            const requests = yield* Context.get(context, Mock.Recorder).requests
            assert.deepStrictEqual(
              toolResultBlocks(lastUserMessage(requests.at(-1)!)).map((r) => [r.tool_use_id, r.is_error]),
              [["toolu_email", true]]
            )
            assert.deepStrictEqual(sent, [])
            const again = yield* call(url, "POST", `${path}/toolu_email`, { body: { decision: "approve" } })
            assert.strictEqual(again.status, 409)
          })
        ),
      60_000
    )

    it.live("a new prompt while a call is left waiting moves on: the call is answered as not run", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url, context, id, stream } = yield* pausedAskWith(yield* onStore)
          yield* call(url, "POST", `/v1/sessions/${id}/interrupt`)
          yield* stream.toEnd
          const next = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "Never mind." } })
          assert.strictEqual((yield* next.toEnd).at(-1)!.data.status, "completed")
          const requests = yield* Context.get(context, Mock.Recorder).requests
          const last = lastUserMessage(requests.at(-1)!)
          assert.deepStrictEqual(
            toolResultBlocks(last).map((r) => [r.tool_use_id, r.is_error]),
            [["toolu_email", true]]
          )
          assert.deepStrictEqual((yield* call(url, "GET", `/v1/sessions/${id}/approvals`)).body, { approvals: [] })
          assertValidHistory((yield* call(url, "GET", `/v1/sessions/${id}/history`)).body.messages)
          assert.deepStrictEqual(sent, [])
        })
      )
    )
  })
})
