/**
 * Tool approval through the public API: a marked tool (or a hook) pauses the ask with an
 * `approval_request`; `session.approve` runs the call, `session.deny` answers it with the reason;
 * interrupting while paused leaves a valid history; the pause is a value that encodes to JSON.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, Stream } from "effect"
import { Agent, Approval, Message, Mock, type StreamEvent } from "../../src/index.js"
import { sendEmail, sent } from "../fixtures/email.js"
import { assertValidHistory, lastUserMessage, toolResultBlocks, toolResultEvents } from "../utils/events.js"

const script = Mock.layer({
  turns: [
    Mock.toolCall("send_email", { to: "ana@example.com", body: "Q3 numbers attached" }, "toolu_email"),
    Mock.reply(({ lastToolResults }) => ({ text: `Result: ${String(lastToolResults[0]?.content)}` }))
  ]
})

const isRequest = (event: StreamEvent.StreamEvent): event is StreamEvent.ApprovalRequest =>
  event.type === "approval_request"

describe("tool approval", () => {
  it.effect("a marked tool pauses with an approval_request; approve runs it and the ask goes on", () =>
    Effect.gen(function* () {
      sent.length = 0
      const agent = yield* Agent.make({ tools: [Approval.require(sendEmail, { reason: "emails leave the company" })] })
      const session = yield* agent.session()
      const events: Array<StreamEvent.StreamEvent> = []
      yield* session.askStream("Email Ana the numbers.").pipe(
        Stream.tap((event) =>
          Effect.gen(function* () {
            events.push(event)
            if (!isRequest(event)) return
            // nothing ran yet, and the pause is listed as a value
            assert.deepStrictEqual(sent, [])
            const pending = yield* session.approvals
            assert.deepStrictEqual(
              pending.map((p) => [p.toolUseId, p.tool, p.input, p.reason]),
              [
                [
                  "toolu_email",
                  "send_email",
                  { to: "ana@example.com", body: "Q3 numbers attached" },
                  "emails leave the company"
                ]
              ]
            )
            const stored = Schema.encodeSync(Schema.fromJsonString(Approval.Pending))(pending[0]!)
            assert.deepStrictEqual(Schema.decodeSync(Schema.fromJsonString(Approval.Pending))(stored), pending[0])
            yield* session.approve(event.tool_use_id)
          })
        ),
        Stream.runDrain
      )
      const requests = events.filter(isRequest)
      assert.deepStrictEqual(requests, [
        {
          type: "approval_request",
          tool_use_id: "toolu_email",
          tool_name: "send_email",
          input: { to: "ana@example.com", body: "Q3 numbers attached" },
          reason: "emails leave the company"
        }
      ])
      assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
      assert.deepStrictEqual(
        toolResultEvents(events).map((e) => e.content),
        ["sent to ana@example.com"]
      )
      assert.deepStrictEqual(yield* session.approvals, [])
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(script))
  )

  it.effect("deny: the call does not run, the model reads the reason as an error result", () =>
    Effect.gen(function* () {
      sent.length = 0
      const agent = yield* Agent.make({ tools: [sendEmail], hooks: [Approval.hook(["send_email"])] })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.askResult("Email Ana."))
      // wait until the call waits
      while ((yield* session.approvals).length === 0) yield* Effect.yieldNow
      yield* session.deny("toolu_email", "Not to external addresses.")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.text, "Result: This tool call was denied: Not to external addresses.")
      assert.deepStrictEqual(sent, [])
      const requests = yield* (yield* Mock.Recorder).requests
      const seen = toolResultBlocks(lastUserMessage(requests[1]!))
      assert.deepStrictEqual(
        seen.map((r) => [r.content, r.is_error]),
        [["This tool call was denied: Not to external addresses.", true]]
      )
    }).pipe(Effect.provide(script))
  )

  it.effect("approve with edited input runs the edited call", () =>
    Effect.gen(function* () {
      sent.length = 0
      const agent = yield* Agent.make({ tools: [Approval.require(sendEmail)] })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.ask("Email Ana."))
      while ((yield* session.approvals).length === 0) yield* Effect.yieldNow
      yield* session.approve("toolu_email", { input: { to: "ana@example.com", body: "Q3 numbers (reviewed)" } })
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers (reviewed)"])
    }).pipe(Effect.provide(script))
  )

  it.effect("interrupting while paused: the tool_use gets a synthetic result, nothing waits, the next ask works", () =>
    Effect.gen(function* () {
      sent.length = 0
      const agent = yield* Agent.make({ tools: [Approval.require(sendEmail)] })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.ask("Email Ana."))
      while ((yield* session.approvals).length === 0) yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* session.approvals, [])
      const history = yield* session.history
      assertValidHistory(history)
      const last = history[history.length - 1]!
      assert.deepStrictEqual(
        toolResultBlocks(last).map((r) => [r.tool_use_id, r.is_error]),
        [["toolu_email", true]]
      )
      assert.deepStrictEqual(sent, [])
      // deciding it now is an error: it no longer waits
      const late = yield* Effect.flip(session.approve("toolu_email"))
      assert.strictEqual(late._tag, "ApprovalNotPending")
      // the next ask is served (the script's next turn answers)
      assert.include(yield* session.ask("Never mind."), "Result:")
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(script))
  )

  it.effect("approving an id nobody waits under is ApprovalNotPending naming it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [sendEmail] })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.deny("toolu_nope", "no"))
      assert.strictEqual(error._tag, "ApprovalNotPending")
      assert.include(error.message, "toolu_nope")
      assert.strictEqual(Message.textOf([]), "")
    }).pipe(Effect.provide(script))
  )
})
