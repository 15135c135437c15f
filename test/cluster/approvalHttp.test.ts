/**
 * Tool approval over the cluster's HTTP front (`Cluster.layerHttp` over `Cluster.layerLocal`, the
 * memory `SessionStore`, the scripted model of `brain.ts` whose `email <name>` prompt calls
 * `send_email`, a tool that needs approval): the same routes and JSON as `data-harness/server`,
 * and `GET .../asks/{ask_id}/events` to read an ask a decision started.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import { HttpServer } from "effect/http"
import { Cluster } from "../../src/cluster/index.js"
import { Approval, Mock, SessionStore } from "../../src/index.js"
import { sendEmail, sent } from "../fixtures/email.js"
import { call, openSse, type SseEvent, TOKEN_A, TOKEN_B } from "../server/helpers.js"
import { assertValidHistory, lastUserMessage, toolResultBlocks } from "../utils/events.js"
import { brain, emailTo } from "./brain.js"

/** The front on a free port for the scope's life; tenants `a` and `b`; the agent asks before each email. */
const start: Effect.Effect<{ readonly url: string; readonly recorder: Mock.Recorder["Service"] }, never, Scope.Scope> =
  Effect.gen(function* () {
    sent.length = 0
    const layer = Cluster.layerHttp({
      port: 0,
      tokens: [
        { tenant: "a", token: TOKEN_A },
        { tenant: "b", token: TOKEN_B }
      ]
    }).pipe(
      Layer.provideMerge(
        Cluster.layerLocal({ agent: { tools: [Approval.require(sendEmail, { reason: "emails leave the company" })] } })
      ),
      Layer.provideMerge(SessionStore.layerMemory()),
      Layer.provideMerge(Mock.layer({ turns: [brain("local")] }))
    )
    const context = yield* Layer.build(layer).pipe(Effect.orDie)
    return {
      url: HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address),
      recorder: Context.get(context, Mock.Recorder)
    }
  })

/** A session `id` whose ask (`email <name>`) is read up to its approval_request. */
const pausedAsk = (url: string, id: string, name: string) =>
  Effect.gen(function* () {
    const created = yield* call(url, "POST", "/v1/sessions", { body: { id } })
    assert.strictEqual(created.status, 201, JSON.stringify(created.body))
    const stream = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, {
      body: { prompt: `email ${name}`, ask_id: `ask-${name}` }
    })
    const before = yield* stream.until((event) => event.event === "approval_request")
    return { stream, before, path: `/v1/sessions/${id}/approvals` }
  })

const textOf = (events: ReadonlyArray<SseEvent>) =>
  events
    .filter((e) => e.event === "content_block_delta" && e.data.delta.type === "text_delta")
    .map((e) => e.data.delta.text)
    .join("")
const idsOf = (events: ReadonlyArray<SseEvent>) => events.flatMap((e) => (e.id === undefined ? [] : [Number(e.id)]))
const resultOf = (events: ReadonlyArray<SseEvent>) => events.find((e) => e.event === "tool_result")?.data

/** Waits (never asserts) until the session runs no ask. */
const idle = (url: string, id: string) =>
  call(url, "GET", `/v1/sessions/${id}/history`).pipe(
    Effect.repeat({ until: (r) => r.body.running_ask === null, schedule: Schedule.spaced("10 millis") })
  )

describe("Cluster.layerHttp: tool approval", () => {
  it.live(
    "GET lists the waiting call; POST approve continues the same SSE stream to ask_end; a second POST is 409",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* start
          const { stream, before, path } = yield* pausedAsk(url, "s1", "ana")
          assert.deepStrictEqual(before.at(-1)!.data, {
            type: "approval_request",
            tool_use_id: "toolu_ana",
            tool_name: "send_email",
            input: emailTo("ana"),
            reason: "emails leave the company"
          })
          const listed = yield* call(url, "GET", path)
          assert.strictEqual(listed.status, 200)
          const { requested_at, ...pending } = listed.body.approvals[0]
          assert.deepStrictEqual(listed.body.approvals.length, 1)
          assert.deepStrictEqual(pending, {
            tool_use_id: "toolu_ana",
            tool_name: "send_email",
            input: emailTo("ana"),
            reason: "emails leave the company"
          })
          assert.isFalse(Number.isNaN(Date.parse(requested_at)))
          assert.strictEqual((yield* call(url, "GET", "/v1/sessions/s1/history")).body.running_ask, "ask-ana")

          const approved = yield* call(url, "POST", `${path}/toolu_ana`, { body: { decision: "approve" } })
          assert.strictEqual(approved.status, 200, JSON.stringify(approved.body))
          assert.deepStrictEqual(approved.body, { tool_use_id: "toolu_ana", decision: "approve", ask_id: "ask-ana" })
          const after = yield* stream.toEnd
          assert.deepInclude(resultOf(after), { content: "sent to ana@example.com", is_error: false })
          assert.strictEqual(textOf(after), "Result: sent to ana@example.com")
          assert.deepInclude(after.at(-1)!.data, { type: "ask_end", ask_id: "ask-ana", status: "completed" })
          const ids = idsOf([...before, ...after])
          assert.deepStrictEqual(
            ids,
            ids.map((_, i) => i + 1)
          )
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])

          assert.deepStrictEqual((yield* call(url, "GET", path)).body, { approvals: [] })
          const again = yield* call(url, "POST", `${path}/toolu_ana`, { body: { decision: "approve" } })
          assert.strictEqual(again.status, 409)
          assert.deepInclude(again.body, { _tag: "ApprovalNotPending", tool_use_id: "toolu_ana" })
          assertValidHistory((yield* call(url, "GET", "/v1/sessions/s1/history")).body.messages)
        })
      )
  )

  it.live("POST deny: the call does not run, and the model reads the reason (or that none was given)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, recorder } = yield* start
        const first = yield* pausedAsk(url, "s2", "bob")
        const denied = yield* call(url, "POST", `${first.path}/toolu_bob`, {
          body: { decision: "deny", reason: "Not to external addresses." }
        })
        assert.deepStrictEqual(denied.body, { tool_use_id: "toolu_bob", decision: "deny", ask_id: "ask-bob" })
        const after = yield* first.stream.toEnd
        const reason = "This tool call was denied: Not to external addresses."
        assert.deepInclude(resultOf(after), { content: reason, is_error: true })
        assert.strictEqual(textOf(after), `Result: ${reason}`)
        const requests = yield* recorder.requests
        assert.deepStrictEqual(
          toolResultBlocks(lastUserMessage(requests.at(-1)!)).map((r) => [r.tool_use_id, r.content, r.is_error]),
          [["toolu_bob", reason, true]]
        )

        const second = yield* pausedAsk(url, "s3", "cy")
        assert.strictEqual(
          (yield* call(url, "POST", `${second.path}/toolu_cy`, { body: { decision: "deny" } })).status,
          200
        )
        assert.deepInclude(resultOf(yield* second.stream.toEnd), {
          content: "This tool call was denied: the approver gave no reason",
          is_error: true
        })
        assert.deepStrictEqual(sent, [])
      })
    )
  )

  it.live(
    "another tenant gets 404 on both routes, an unknown id is 409 naming the waiting call, a bad body 400 naming the field; the call still waits",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* start
          const { stream, path } = yield* pausedAsk(url, "s4", "dan")
          for (const [method, suffix, body] of [
            ["GET", "", undefined],
            ["POST", "/toolu_dan", { decision: "approve" }],
            ["POST", "/toolu_dan", { decision: "deny", reason: "B says no" }]
          ] as const) {
            const response = yield* call(url, method, `${path}${suffix}`, { token: TOKEN_B, body })
            assert.strictEqual(response.status, 404, `${method} ${suffix}`)
            assert.deepInclude(response.body, { _tag: "SessionNotFound", session_id: "s4" })
          }
          assert.strictEqual((yield* call(url, "GET", "/v1/sessions/never/approvals")).status, 404)
          const unknown = yield* call(url, "POST", `${path}/toolu_other`, { body: { decision: "approve" } })
          assert.strictEqual(unknown.status, 409)
          assert.deepInclude(unknown.body, { _tag: "ApprovalNotPending", tool_use_id: "toolu_other" })
          assert.include(unknown.body.message, "toolu_dan")
          for (const [body, field] of [
            [{ decision: "maybe" }, "payload.decision"],
            [{ decision: "deny", input: {} }, "payload.input"],
            [{ decision: "approve", reason: "fine" }, "payload.reason"]
          ] as const) {
            const response = yield* call(url, "POST", `${path}/toolu_dan`, { body })
            assert.strictEqual(response.status, 400, JSON.stringify(body))
            assert.strictEqual(response.body.field, field)
          }
          assert.deepStrictEqual(
            (yield* call(url, "GET", path)).body.approvals.map((a: { tool_use_id: string }) => a.tool_use_id),
            ["toolu_dan"]
          )
          assert.deepStrictEqual(sent, [])
          const edited = { to: "dan@example.com", body: "Q3 numbers (reviewed)" }
          const approved = yield* call(url, "POST", `${path}/toolu_dan`, {
            body: { decision: "approve", input: edited }
          })
          assert.strictEqual(approved.status, 200)
          assert.deepInclude((yield* stream.toEnd).at(-1)!.data, { type: "ask_end", status: "completed" })
          assert.deepStrictEqual(sent, ["dan@example.com: Q3 numbers (reviewed)"])
        })
      )
  )

  it.live(
    "a client that drops while a call waits leaves it waiting; the decision starts an ask that resumes it, read with GET .../asks/{ask_id}/events",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* start
          const { stream, path } = yield* pausedAsk(url, "s5", "eve")
          yield* stream.close
          yield* idle(url, "s5")
          assert.deepStrictEqual(
            (yield* call(url, "GET", path)).body.approvals.map((a: { tool_use_id: string }) => a.tool_use_id),
            ["toolu_eve"]
          )
          const approved = yield* call(url, "POST", `${path}/toolu_eve`, { body: { decision: "approve" } })
          assert.strictEqual(approved.status, 200, JSON.stringify(approved.body))
          const askId: string = approved.body.ask_id
          assert.notStrictEqual(askId, "ask-eve", "the dropped ask ended: a new one resumes it")

          const events = yield* (yield* openSse(url, "GET", `/v1/sessions/s5/asks/${askId}/events`)).toEnd
          assert.deepInclude(resultOf(events), { tool_use_id: "toolu_eve", content: "sent to eve@example.com" })
          assert.strictEqual(textOf(events), "Result: sent to eve@example.com")
          assert.deepInclude(events.at(-1)!.data, { type: "ask_end", ask_id: askId, status: "completed" })
          const ids = idsOf(events)
          assert.deepStrictEqual(
            ids,
            ids.map((_, i) => i + 1)
          )
          const rest = yield* (yield* openSse(url, "GET", `/v1/sessions/s5/asks/${askId}/events`, {
            headers: { "last-event-id": "2" }
          })).toEnd
          assert.deepStrictEqual(idsOf(rest), ids.slice(2))
          assert.deepStrictEqual(sent, ["eve@example.com: Q3 numbers attached"])
          // the dropped ask: its events up to the cut, ending interrupted
          const dropped = yield* (yield* openSse(url, "GET", "/v1/sessions/s5/asks/ask-eve/events")).toEnd
          assert.deepInclude(dropped.at(-1)!.data, { type: "ask_end", ask_id: "ask-eve", status: "interrupted" })

          const unknown = yield* call(url, "GET", "/v1/sessions/s5/asks/nope/events")
          assert.strictEqual(unknown.status, 404)
          assert.deepInclude(unknown.body, { _tag: "AskNotFound", ask_id: "nope" })
          assert.strictEqual(
            (yield* call(url, "GET", `/v1/sessions/s5/asks/${askId}/events`, { token: TOKEN_B })).status,
            404
          )
          assertValidHistory((yield* call(url, "GET", "/v1/sessions/s5/history")).body.messages)
        })
      )
  )

  it.live("GET .../asks/{ask_id}/events follows a running ask live, from another client, to its end", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* start
        yield* call(url, "POST", "/v1/sessions", { body: { id: "s6" } })
        const ask = yield* openSse(url, "POST", "/v1/sessions/s6/asks", {
          body: { prompt: "stall here", ask_id: "live" }
        })
        yield* ask.until((e) => e.event === "content_block_delta")
        const follower = yield* openSse(url, "GET", "/v1/sessions/s6/asks/live/events")
        const seen = yield* follower.until((e) => e.event === "content_block_delta")
        assert.strictEqual(textOf(seen), "partial ")
        assert.deepStrictEqual((yield* call(url, "POST", "/v1/sessions/s6/interrupt")).body, {
          interrupted: true,
          ask_id: "live"
        })
        const end = (yield* follower.toEnd).at(-1)!
        assert.deepInclude(end.data, { type: "ask_end", ask_id: "live", status: "interrupted" })
        assert.deepInclude((yield* ask.toEnd).at(-1)!.data, { type: "ask_end", status: "interrupted" })
      })
    )
  )

  it.live("the OpenAPI document describes the approval and events routes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* start
        const openapi = (yield* call(url, "GET", "/openapi.json", { token: null })).body
        assert.includeMembers(Object.keys(openapi.paths["/v1/sessions/{id}/approvals"]), ["get"])
        const decide = openapi.paths["/v1/sessions/{id}/approvals/{tool_use_id}"].post
        assert.includeMembers(Object.keys(decide.responses), ["200", "400", "404", "409"])
        assert.includeMembers(Object.keys(openapi.paths["/v1/sessions/{id}/asks/{ask_id}/events"]), ["get"])
      })
    )
  )
})
