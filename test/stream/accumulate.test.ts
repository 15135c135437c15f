import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  Accumulate,
  Agent,
  HarnessError,
  Message,
  Mock,
  Provider,
  type StreamEvent,
  Tool,
  Usage
} from "../../src/index.js"
import { isPrefixCompletion } from "./prefix.js"

const events = (list: ReadonlyArray<Record<string, unknown>>) => list as ReadonlyArray<StreamEvent.StreamEvent>

const start = (id = "msg_1") => ({
  type: "message_start",
  message: { id, role: "assistant", model: "m", content: [], usage: { input_tokens: 5, output_tokens: 1 } }
})
const textStart = (index: number) => ({ type: "content_block_start", index, content_block: { type: "text", text: "" } })
const text = (index: number, value: string) => ({
  type: "content_block_delta",
  index,
  delta: { type: "text_delta", text: value }
})
const toolStart = (index: number, id: string, name: string) => ({
  type: "content_block_start",
  index,
  content_block: { type: "tool_use", id, name, input: {} }
})
const json = (index: number, partial_json: string) => ({
  type: "content_block_delta",
  index,
  delta: { type: "input_json_delta", partial_json }
})
const stop = (index: number) => ({ type: "content_block_stop", index })
const end = (stop_reason: string, output_tokens = 7) => [
  { type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage: { output_tokens } },
  { type: "message_stop" }
]

/** Each event after its delay on the Clock. */
const timed = (steps: ReadonlyArray<readonly [number, Record<string, unknown>]>) =>
  Stream.fromArray(steps).pipe(
    Stream.mapEffect(([millis, event]) => Effect.as(Effect.sleep(millis), event as StreamEvent.StreamEvent))
  )

const millis = (duration: Option.Option<Duration.Duration>) => Option.map(duration, Duration.toMillis)

/** Runs an effect in a fiber while moving the TestClock on, far enough for every delay and backoff. */
const withTime = <A, E>(effect: Effect.Effect<A, E>, total = 60_000, steps = 600) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < steps; i++) yield* TestClock.adjust(total / steps)
    return yield* Fiber.join(fiber)
  })

const echo = Tool.make("echo", {
  description: "Echoes its input.",
  parameters: Schema.Struct({ x: Schema.Number }),
  handler: ({ x }) => `echo ${x}`
})

const overloaded = () =>
  new HarnessError.ProviderError({ reason: "Overloaded", provider: "mock", status: 529, message: "Overloaded" })

describe("Accumulate.summary", () => {
  it.effect("measures the duration, the time to the first token and to the first tool call on the Clock", () =>
    Effect.gen(function* () {
      const stream = timed([
        [100, start()],
        [10, textStart(0)],
        [10, text(0, "")], // an empty delta is not a token
        [50, text(0, "Hi")],
        [5, text(0, " there")],
        [5, stop(0)],
        [20, toolStart(1, "toolu_1", "sql")],
        [30, json(1, '{"query": "SELECT 1"}')],
        [5, stop(1)],
        [5, end("tool_use")[0]!],
        [5, end("tool_use")[1]!]
      ])
      const fiber = yield* Effect.forkChild(Stream.run(stream, Accumulate.summary))
      yield* TestClock.adjust("1 second")
      const summary = yield* Fiber.join(fiber)
      assert.deepStrictEqual(millis(summary.timeToFirstToken), Option.some(170))
      assert.deepStrictEqual(millis(summary.timeToFirstToolCall), Option.some(200))
      assert.strictEqual(Duration.toMillis(summary.duration), 245)
      assert.strictEqual(summary.events, 11)
      assert.strictEqual(summary.deltas, 4)
      assert.strictEqual(summary.text, "Hi there")
      assert.deepStrictEqual(summary.stopReason, Option.some("tool_use"))
      assert.deepStrictEqual(summary.content, [
        { type: "text", text: "Hi there" },
        { type: "tool_use", id: "toolu_1", name: "sql", input: { query: "SELECT 1" } }
      ])
      assert.strictEqual(summary.usage.inputTokens, 5)
      assert.strictEqual(summary.usage.outputTokens, 7)
    })
  )

  it.effect("has no first token or tool call when the stream had none, and its duration is the stream's", () =>
    Effect.gen(function* () {
      const stream = timed([
        [40, start()],
        [10, end("end_turn")[0]!],
        [10, end("end_turn")[1]!]
      ])
      const fiber = yield* Effect.forkChild(Stream.run(stream, Accumulate.summary))
      yield* TestClock.adjust("1 second")
      const summary = yield* Fiber.join(fiber)
      assert.isTrue(Option.isNone(summary.timeToFirstToken))
      assert.isTrue(Option.isNone(summary.timeToFirstToolCall))
      assert.strictEqual(Duration.toMillis(summary.duration), 60)
      assert.strictEqual(summary.text, "")
    })
  )

  it.effect("over a session's askStream: every turn, the tool results, the counts and the times on the TestClock", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false, tools: [echo] })
      const session = yield* agent.session()
      let seen = 0
      const summary = yield* withTime(
        session.askStream("echo 1").pipe(
          Stream.tap(() => Effect.sync(() => seen++)),
          Stream.run(Accumulate.summary)
        ),
        1_000,
        100
      )
      // turn 1: headers at 100 ms, then an event every 10 ms: message_start 110, the tool call 120,
      // two input deltas, stop, message_delta, message_stop at 170; the tool result; turn 2:
      // headers at 270, message_start 280, text block 290, first text delta 300, ... message_stop 350
      assert.deepStrictEqual(millis(summary.timeToFirstToolCall), Option.some(120))
      assert.deepStrictEqual(millis(summary.timeToFirstToken), Option.some(300))
      assert.strictEqual(Duration.toMillis(summary.duration), 350)
      assert.strictEqual(summary.events, seen)
      assert.strictEqual(summary.turns.length, 2)
      assert.strictEqual(summary.text, "done here")
      assert.deepStrictEqual(summary.stopReason, Option.some("end_turn"))
      assert.deepStrictEqual(
        summary.toolResults.map((r) => [r.tool_name, r.content, r.is_error]),
        [["echo", "echo 1", false]]
      )
      assert.deepStrictEqual(
        { ...summary.usage },
        { ...summary.turns.map((turn) => turn.usage).reduce(Usage.add, Usage.empty) }
      )
      assert.isAbove(summary.usage.inputTokens, 0)
      const history = yield* session.history
      assert.strictEqual(Message.textOf(history[history.length - 1]!.content), summary.text)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.toolCall("echo", { x: 1 }), Mock.text("done here")],
          chunkSize: 4,
          eventDelay: "10 millis",
          headersDelay: "100 millis"
        })
      )
    )
  )

  it.effect("a discarded attempt is left out: the summary holds the retried turn only", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false })
      const summary = yield* withTime(Stream.run(agent.runStream("hi"), Accumulate.summary))
      assert.strictEqual(summary.discarded, 1)
      assert.strictEqual(summary.turns.length, 1)
      assert.strictEqual(summary.text, "Hello again")
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded(), "Hel"), Mock.text("Hello again")], chunkSize: 3 }))
    )
  )

  it.effect("fails with InvalidResponse when the stream ends in the middle of a turn", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Stream.run(Stream.fromArray(events([start(), textStart(0), text(0, "Hi")])), Accumulate.summary)
      )
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.include(error.message, "without message_stop")
      assert.strictEqual(error.partial?.text, "Hi")
    })
  )
})

describe("Accumulate.snapshots", () => {
  it.effect("a discard clears the turn in progress; the retried turn starts over", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false })
      const snapshots = yield* withTime(Stream.runCollect(Accumulate.snapshots(agent.runStream("hi"))))
      const at = snapshots.findIndex((s) => s.event.type === "discard")
      assert.isAbove(at, 0)
      assert.strictEqual(snapshots[at - 1]!.message?.text, "Hel")
      assert.isUndefined(snapshots[at]!.message)
      assert.strictEqual(snapshots[at + 1]!.message?.text, "")
      const last = snapshots[snapshots.length - 1]!
      assert.strictEqual(last.message?.text, "Hello again")
      assert.isTrue(last.message?.complete)
      assert.strictEqual(last.turns.length, 1)
      // what was held before the discard is unchanged
      assert.strictEqual(snapshots[at - 1]!.message?.text, "Hel")
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded(), "Hel"), Mock.text("Hello again")], chunkSize: 3 }))
    )
  )

  it.effect(
    "the tool call being streamed shows its input so far; its result is attached to it; the answer streams as it is typed",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({ builtinTools: false, tools: [Agent.answer] })
        const value = { region: "EU", revenue: 120, months: ["2024-01", "2024-02"] }
        const snapshots = yield* Stream.runCollect(Accumulate.snapshots(agent.runStream("answer")))
        const streaming = snapshots.filter((s) => s.toolCall !== undefined)
        assert.isAbove(streaming.length, 5)
        for (const s of streaming) {
          assert.strictEqual(s.toolCall!.name, "answer")
          assert.isTrue(JSON.stringify({ value }).startsWith(s.toolCall!.json))
          assert.isTrue(isPrefixCompletion(s.toolCall!.input, { value }))
          assert.strictEqual(s.answer?.id, s.toolCall!.id)
        }
        const inputs = [...new Set(streaming.map((s) => JSON.stringify(s.answer!.input)))]
        assert.includeMembers(inputs, [
          "{}",
          '{"value":{"region":"EU"}}',
          '{"value":{"region":"EU","revenue":120,"months":["2024-01"]}}',
          JSON.stringify({ value })
        ])
        const last = snapshots[snapshots.length - 1]!
        assert.isUndefined(last.toolCall)
        assert.deepStrictEqual(last.answer?.input, { value })
        assert.isTrue(last.answer?.complete)
        assert.strictEqual(last.answer?.result?.content, "Answer recorded.")
        assert.deepStrictEqual(
          last.toolCalls.map((c) => [c.name, c.complete, c.result?.is_error]),
          [["answer", true, false]]
        )
        assert.strictEqual(last.message?.text, "Done.")
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.toolCall("answer", { value: { region: "EU", revenue: 120, months: ["2024-01", "2024-02"] } }),
              Mock.text("Done.")
            ],
            chunkSize: 3
          })
        )
      )
  )

  it.effect("over a provider's stream, the last snapshot is the response Provider.collect folds", () =>
    Effect.gen(function* () {
      const provider = yield* Provider.Provider
      const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }
      const last = yield* Stream.runLast(Accumulate.snapshots(provider.stream(request)))
      const folded = yield* Provider.collect(provider.stream(request))
      const message = Option.getOrThrow(last).message!
      assert.isTrue(message.complete)
      assert.deepStrictEqual(message.content, folded.content)
      assert.strictEqual(message.stopReason, folded.stopReason)
      assert.deepStrictEqual({ ...message.usage }, { ...folded.usage })
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            {
              thinking: { thinking: "Let me think.", signature: "sig" },
              text: "It is 42.",
              toolCalls: [{ name: "sql", input: { query: "SELECT 42" }, id: "toolu_1" }]
            }
          ],
          chunkSize: 2
        })
      )
    )
  )

  it.effect("a malformed sequence fails with InvalidResponse after the snapshots of the events before it", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const error = yield* Stream.fromArray(events([start(), textStart(0), text(3, "x")])).pipe(
        Accumulate.snapshots,
        Stream.runForEach((s) => Effect.sync(() => seen.push(s.event.type))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, ["message_start", "content_block_start"])
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.include(error.message, "never started")
      const early = yield* Effect.flip(
        Stream.runCollect(Accumulate.snapshots(Stream.fromArray(events([text(0, "x")]))))
      )
      assert.strictEqual(early.reason, "InvalidResponse")
    })
  )
})

describe("Accumulate.text and Accumulate.onText", () => {
  it.effect("stream the text deltas; onText passes every event on to the summary", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false, tools: [echo] })
      const pieces = yield* Stream.runCollect(Accumulate.text(agent.runStream("echo")))
      assert.deepStrictEqual(pieces, ["Let", " me", " ec", "ho.", "Don", "e: ", "ech", "o 2"])
      const called: Array<string> = []
      const summary = yield* agent.runStream("echo").pipe(
        Accumulate.onText((text) => Effect.sync(() => called.push(text))),
        Stream.run(Accumulate.summary)
      )
      assert.deepStrictEqual(called, pieces)
      assert.strictEqual(summary.text, "Done: echo 2")
      assert.strictEqual(summary.turns.length, 2)
      assert.strictEqual(summary.toolResults.length, 1)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCalls([{ name: "echo", input: { x: 2 } }], "Let me echo."),
            Mock.text("Done: echo 2"),
            Mock.toolCalls([{ name: "echo", input: { x: 2 } }], "Let me echo."),
            Mock.text("Done: echo 2")
          ],
          chunkSize: 3
        })
      )
    )
  )
})
