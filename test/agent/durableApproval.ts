/**
 * The durable approval pause through the public API, run against each persistent layer
 * (`durable.fileSystem.test.ts`, `durable.postgres.test.ts`). A "restart" is a new store layer over
 * the same storage, a new agent and a new scripted model: each process has its own script.
 *
 * What must hold: a call that waits for approval is in the store before its `approval_request`
 * is seen; an ask that ends while it waits leaves it waiting; after a restart it is listed, can be
 * approved or denied, and `session.resume` runs or denies it and goes on to the model's next
 * turn; a new prompt moves on instead; a failed ask answers it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema, Stream } from "effect"
import {
  type Agent,
  Approval,
  Message,
  Mock,
  type SessionStore,
  type StreamEvent,
  Tool,
  Usage
} from "../../src/index.js"
import { emailInput, sendEmail, sent } from "../fixtures/email.js"
import { assertValidHistory, lastUserMessage, toolResultBlocks, toolResultEvents } from "../utils/events.js"
import { type Subject, withAgent } from "./durable.js"

const looked: Array<string> = []
const lookUp = Tool.make("look_up", {
  description: "Looks an address up.",
  parameters: Schema.Struct({ name: Schema.String }),
  handler: ({ name }) =>
    Effect.sync(() => {
      looked.push(name)
      return `${name.toLowerCase()}@example.com`
    })
})

const options: Agent.Options<never> = { tools: [Approval.require(sendEmail, { reason: "emails leave" }), lookUp] }

/**
 * The first process: the model emails Ana; the ask is read up to the pause, then its fiber is
 * interrupted (`"interrupt"`) or its consumer stops reading there (`"stop reading"`).
 */
const pauseIn = (
  subject: Subject,
  turns: ReadonlyArray<Mock.Turn | Mock.Script> = [emailTurn],
  end: "interrupt" | "stop reading" = "interrupt"
) =>
  withAgent(
    subject,
    { turns },
    (agent, store) =>
      Effect.gen(function* () {
        const session = yield* agent.session()
        const events: Array<StreamEvent.StreamEvent> = []
        /** What the store holds when the pause is announced: what a crash at that moment leaves. */
        let atPause: SessionStore.StoredSession | undefined
        const asked = session.askStream("Email Ana the numbers.").pipe(
          Stream.tap((event) =>
            event.type === "approval_request"
              ? Effect.map(store.load({ tenant: "default", id: session.id }), (stored) => {
                  atPause = stored
                })
              : Effect.void
          )
        )
        if (end === "stop reading") {
          events.push(...(yield* Stream.runCollect(Stream.takeUntil(asked, (e) => e.type === "approval_request"))))
          return { id: session.id, events, atPause: atPause! }
        }
        const fiber = yield* asked.pipe(
          Stream.runForEach((event) => Effect.sync(() => events.push(event))),
          Effect.forkChild
        )
        // the consumer has seen the pause
        while (!events.some((e) => e.type === "approval_request")) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(fiber)
        return { id: session.id, events, atPause: atPause! }
      }),
    options
  )

const emailTurn = Mock.toolCall("send_email", emailInput, "toolu_email")
const quote = Mock.reply(({ lastToolResults }) =>
  Mock.text(`Result: ${lastToolResults.map((r) => String(r.content)).join(" | ")}`)
)

const reset = () => {
  sent.length = 0
  looked.length = 0
}

/** Registers the suite for a layer. */
export const durableApprovals = (subject: Subject): void => {
  describe(`a durable approval pause on ${subject.name}`, () => {
    it.live(
      "survives a restart: the call is stored before its approval_request, listed after, and approve + resume runs it and the model answers",
      () =>
        Effect.gen(function* () {
          reset()
          const { id, events, atPause } = yield* pauseIn(subject)
          assert.deepStrictEqual(
            events.filter((e) => e.type === "approval_request").map((e) => e.tool_use_id),
            ["toolu_email"]
          )
          // in the store before anyone saw the approval_request
          assert.deepStrictEqual(
            atPause.approvals.map((a) => a.toolUseId),
            ["toolu_email"]
          )
          const text = yield* withAgent(
            subject,
            { turns: [quote] },
            (agent, store) =>
              Effect.gen(function* () {
                // what the store holds: the call open, and waiting
                const stored = yield* store.load({ tenant: "default", id })
                assert.deepStrictEqual(
                  stored.approvals.map((a) => [a.toolUseId, a.tool, a.input, a.reason]),
                  [["toolu_email", "send_email", emailInput, "emails leave"]]
                )
                assert.strictEqual(stored.history.at(-1)!.role, "assistant")

                const session = yield* agent.session({ id })
                const waiting = yield* session.approvals
                assert.deepStrictEqual(
                  waiting.map((p) => [p.toolUseId, p.tool, p.input]),
                  [["toolu_email", "send_email", emailInput]]
                )
                assert.deepStrictEqual(sent, [])
                yield* session.approve("toolu_email")
                // decided, so no longer listed; a second decision is refused
                assert.deepStrictEqual(yield* session.approvals, [])
                const again = yield* Effect.flip(session.deny("toolu_email", "no"))
                assert.strictEqual(again._tag, "ApprovalNotPending")
                assert.include(again.message, "already decided")
                const text = yield* session.resume()

                assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
                const requests = yield* (yield* Mock.Recorder).requests
                assert.deepStrictEqual(
                  toolResultBlocks(lastUserMessage(requests[0]!)).map((r) => [
                    r.tool_use_id,
                    r.content,
                    r.is_error === true
                  ]),
                  [["toolu_email", "sent to ana@example.com", false]]
                )
                const history = yield* session.history
                assertValidHistory(history)
                assert.deepStrictEqual(
                  history.map((m) => m.role),
                  ["user", "assistant", "user", "assistant"]
                )
                const after = yield* store.load({ tenant: "default", id })
                assert.deepStrictEqual(after.approvals, [])
                assert.deepStrictEqual(after.history, history)
                return text
              }),
            options
          )
          assert.strictEqual(text, "Result: sent to ana@example.com")
        })
    )

    it.live(
      "a consumer that stops reading at the pause leaves the call waiting; resumeStream announces it again, and a denial on that event is heard by the model",
      () =>
        Effect.gen(function* () {
          reset()
          const { id, events: before } = yield* pauseIn(subject, [emailTurn], "stop reading")
          assert.strictEqual(before.at(-1)!.type, "approval_request")
          const events = yield* withAgent(
            subject,
            { turns: [quote] },
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session({ id })
                return yield* session.resumeStream().pipe(
                  Stream.tap((event) =>
                    event.type === "approval_request"
                      ? session.deny(event.tool_use_id, "Not to external addresses.")
                      : Effect.void
                  ),
                  Stream.runCollect
                )
              }),
            options
          )
          assert.deepStrictEqual(
            events.filter((e) => e.type === "approval_request"),
            [
              {
                type: "approval_request",
                tool_use_id: "toolu_email",
                tool_name: "send_email",
                input: emailInput,
                reason: "emails leave"
              }
            ]
          )
          assert.deepStrictEqual(
            toolResultEvents(events).map((e) => [e.content, e.is_error]),
            [["This tool call was denied: Not to external addresses.", true]]
          )
          assert.deepStrictEqual(sent, [])
        })
    )

    it.live("a new prompt after a decision nobody resumed: the model reads the denial as a denial", () =>
      Effect.gen(function* () {
        reset()
        const { id } = yield* pauseIn(subject)
        yield* withAgent(
          subject,
          { turns: [quote] },
          (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session({ id })
              yield* session.deny("toolu_email", "Not to external addresses.")
              yield* session.ask("Then tell me the total instead.")
              const requests = yield* (yield* Mock.Recorder).requests
              const last = lastUserMessage(requests[0]!)
              assert.deepStrictEqual(
                toolResultBlocks(last).map((r) => [r.tool_use_id, r.content, r.is_error]),
                [["toolu_email", "This tool call was denied: Not to external addresses.", true]]
              )
              assert.strictEqual(Message.textOf(last.content), "Then tell me the total instead.")
              assert.strictEqual((yield* Effect.flip(session.resume()))._tag, "NothingToResume")
            }),
          options
        )
        assert.deepStrictEqual(sent, [])
      })
    )

    it.live(
      "a decision is kept: approved in one process, the call runs in the next without asking again, with the edited input",
      () =>
        Effect.gen(function* () {
          reset()
          const { id } = yield* pauseIn(subject)
          const edited = { to: "ana@example.com", body: "Q3 numbers (reviewed)" }
          // the second process decides and stops before resuming
          yield* withAgent(
            subject,
            { turns: [] },
            (agent, store) =>
              Effect.gen(function* () {
                const session = yield* agent.session({ id })
                yield* session.approve("toolu_email", { input: edited })
                const stored = yield* store.load({ tenant: "default", id })
                assert.deepStrictEqual(
                  stored.approvals.map((a) => [a.toolUseId, a.decision]),
                  [["toolu_email", { _tag: "Approved", input: edited }]]
                )
              }),
            options
          )
          assert.deepStrictEqual(sent, [])
          const events = yield* withAgent(
            subject,
            { turns: [quote] },
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session({ id })
                // decided: not listed as waiting, and deciding again is refused
                assert.deepStrictEqual(yield* session.approvals, [])
                assert.strictEqual((yield* Effect.flip(session.deny("toolu_email", "no")))._tag, "ApprovalNotPending")
                return yield* Stream.runCollect(session.resumeStream())
              }),
            options
          )
          assert.deepStrictEqual(
            events.filter((e) => e.type === "approval_request"),
            []
          )
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers (reviewed)"])
          assert.deepStrictEqual(
            toolResultEvents(events).map((e) => e.content),
            ["sent to ana@example.com"]
          )
        })
    )

    it.live(
      "a turn with two calls: the one that ran keeps its result across the restart, and only the waiting one runs after it",
      () =>
        Effect.gen(function* () {
          reset()
          const twoCalls = Mock.toolCalls([
            { name: "look_up", input: { name: "Ana" }, id: "toolu_look" },
            { name: "send_email", input: emailInput, id: "toolu_email" }
          ])
          const { id, atPause } = yield* pauseIn(subject, [twoCalls])
          assert.deepStrictEqual(looked, ["Ana"])
          // the result that came before the pause is committed with it: a crash then keeps it
          assert.deepStrictEqual(
            toolResultBlocks(atPause.history.at(-1)!).map((r) => [r.tool_use_id, r.content]),
            [["toolu_look", "ana@example.com"]]
          )
          yield* withAgent(
            subject,
            { turns: [quote] },
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session({ id })
                // the history holds the result that came in, the waiting call still open
                const before = yield* session.history
                assert.deepStrictEqual(
                  toolResultBlocks(before.at(-1)!).map((r) => [r.tool_use_id, r.content]),
                  [["toolu_look", "ana@example.com"]]
                )
                yield* session.approve("toolu_email")
                const text = yield* session.resume()
                assert.strictEqual(text, "Result: ana@example.com | sent to ana@example.com")
                assertValidHistory(yield* session.history)
              }),
            options
          )
          assert.deepStrictEqual(looked, ["Ana"])
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
        })
    )

    it.live("a new prompt after a restart moves on: the waiting call is answered as not run, and nothing waits", () =>
      Effect.gen(function* () {
        reset()
        const { id } = yield* pauseIn(subject)
        yield* withAgent(
          subject,
          { turns: [quote] },
          (agent, store) =>
            Effect.gen(function* () {
              const session = yield* agent.session({ id })
              yield* session.ask("Never mind, do not send it.")
              const requests = yield* (yield* Mock.Recorder).requests
              const last = lastUserMessage(requests[0]!)
              assert.deepStrictEqual(
                toolResultBlocks(last).map((r) => [r.tool_use_id, r.is_error]),
                [["toolu_email", true]]
              )
              assert.include(String(toolResultBlocks(last)[0]!.content), "before this call was approved")
              assert.strictEqual(Message.textOf(last.content), "Never mind, do not send it.")
              assert.deepStrictEqual(yield* session.approvals, [])
              assert.strictEqual((yield* Effect.flip(session.approve("toolu_email")))._tag, "ApprovalNotPending")
              assert.strictEqual((yield* Effect.flip(session.resume()))._tag, "NothingToResume")
              assertValidHistory(yield* session.history)
              assert.deepStrictEqual((yield* store.load({ tenant: "default", id })).approvals, [])
            }),
          options
        )
        assert.deepStrictEqual(sent, [])
      })
    )

    it.live(
      "an ask that fails while a call waits (another call's hook fails) answers the call: nothing waits after a reload",
      () =>
        Effect.gen(function* () {
          reset()
          const paused = yield* Deferred.make<void>()
          // the other call finishes only once the email waits, and its afterTool hook then fails
          const slowLookUp = Tool.make("look_up", {
            description: "Looks an address up.",
            parameters: Schema.Struct({ name: Schema.String }),
            handler: ({ name }) => Effect.as(Deferred.await(paused), `${name.toLowerCase()}@example.com`)
          })
          const twoCalls = Mock.toolCalls([
            { name: "send_email", input: emailInput, id: "toolu_email" },
            { name: "look_up", input: { name: "Ana" }, id: "toolu_look" }
          ])
          const id = yield* withAgent(
            subject,
            { turns: [twoCalls] },
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session()
                const fiber = yield* Effect.forkChild(Effect.flip(session.ask("Email Ana.")))
                while ((yield* session.approvals).length === 0) yield* Effect.sleep("5 millis")
                yield* Deferred.succeed(paused, undefined)
                const error = yield* Fiber.join(fiber)
                assert.strictEqual(error._tag, "HookFailed")
                assert.deepStrictEqual(yield* session.approvals, [])
                return session.id
              }),
            {
              tools: [Approval.require(sendEmail), slowLookUp],
              toolConcurrency: 2,
              hooks: [{ afterTool: () => Effect.fail("the audit log is down") }]
            }
          )
          const stored = yield* withAgent(subject, { turns: [] }, (_, store) => store.load({ tenant: "default", id }))
          assert.deepStrictEqual(stored.approvals, [])
          assertValidHistory(stored.history)
          assert.deepStrictEqual(
            toolResultBlocks(stored.history.at(-1)!).map((r) => [r.tool_use_id, r.is_error]),
            [
              ["toolu_email", true],
              ["toolu_look", true]
            ]
          )
          assert.deepStrictEqual(sent, [])
        })
    )

    it.live(
      "resume also continues an ask cut off before the model answered; with nothing to continue it is NothingToResume",
      () =>
        Effect.gen(function* () {
          const id = yield* withAgent(subject, { turns: [] }, (_, store) =>
            Effect.gen(function* () {
              const created = yield* store.create("default")
              // what a process that stopped right after committing the prompt leaves
              yield* store.commit({ tenant: "default", id: created.id }, [
                { _tag: "User", content: [Message.text("How many regions?")] }
              ])
              return created.id
            })
          )
          yield* withAgent(
            subject,
            { turns: [Mock.text("Two.")] },
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session({ id })
                assert.strictEqual(yield* session.resume(), "Two.")
                const nothing = yield* Effect.flip(session.resume())
                assert.strictEqual(nothing._tag, "NothingToResume")
                assert.include(nothing.message, "Ask instead")
              }),
            options
          )
        })
    )
  })
}

/** The store API rejects an approval record that names no pending call. */
export const approvalSteps = (subject: Subject): void => {
  it.live("an ApprovalRequested step must name a pending tool_use of the last turn", () =>
    withAgent(subject, { turns: [] }, (_, store) =>
      Effect.gen(function* () {
        const { id } = yield* store.create("default")
        const key = { tenant: "default", id }
        const approval = { toolUseId: "toolu_x", tool: "send_email", input: {}, requestedAt: 1 }
        const refused = yield* Effect.flip(
          store.commit(key, [
            { _tag: "User", content: [Message.text("hi")] },
            { _tag: "ApprovalRequested", approval }
          ])
        )
        assert.strictEqual(refused.reason, "InvalidStep")
        assert.include(refused.message, "toolu_x")
        assert.strictEqual((yield* store.load(key)).seq, 0)
        yield* store.commit(key, [
          { _tag: "User", content: [Message.text("hi")] },
          {
            _tag: "Turn",
            content: [{ type: "tool_use", id: "toolu_x", name: "send_email", input: {} }],
            usage: emptyUsage
          },
          { _tag: "ApprovalRequested", approval }
        ])
        const loaded = yield* store.load(key)
        assert.deepStrictEqual(loaded.approvals, [approval])
        // open, not answered by a synthetic result, while it waits
        assert.strictEqual(loaded.history.at(-1)!.role, "assistant")
        // a compaction while it waits keeps it waiting, a last message that answers some calls included
        const compacted: Message.History = [
          Message.user("[summary of earlier turns]"),
          {
            role: "assistant",
            content: [
              { type: "tool_use", id: "toolu_y", name: "look_up", input: {} },
              { type: "tool_use", id: "toolu_x", name: "send_email", input: {} }
            ]
          },
          { role: "user", content: [Message.toolResult("toolu_y", "found", false)] }
        ]
        const refusedCompaction = yield* Effect.flip(
          store.commit(key, [{ _tag: "Compacted", history: compacted.slice(0, 2).concat([Message.user("hi")]) }])
        )
        assert.strictEqual(refusedCompaction.reason, "InvalidStep")
        yield* store.commit(key, [{ _tag: "Compacted", history: compacted }])
        assert.deepStrictEqual((yield* store.load(key)).approvals, [approval])
        yield* store.commit(key, [{ _tag: "ToolResults", content: [Message.toolResult("toolu_x", "done", false)] }])
        const answered = yield* store.load(key)
        assert.deepStrictEqual(answered.approvals, [])
        assertValidHistory(answered.history)
      })
    )
  )
}

const emptyUsage = Usage.empty
