import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Message, Mock, RunResult, Tool, Usage } from "../../src/index.js"
import { assertValidHistory, label, lastUserMessage, runEvents, textBlocks, toolResultEvents } from "../utils/events.js"

const mean = Tool.make("mean", {
  description: "Arithmetic mean of a list of numbers.",
  parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
  handler: ({ values }) => Effect.succeed(values.reduce((a, b) => a + b, 0) / values.length)
})

const SYSTEM = "You are a data analyst."

describe("the agent loop", () => {
  const usage1 = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 80, cacheWriteTokens: 10 }
  const usage2 = { inputTokens: 130, outputTokens: 12, cacheReadTokens: 90, cacheWriteTokens: 5 }
  const script = Mock.layer({
    turns: [
      { toolCalls: [{ name: "mean", input: { values: [1, 2, 3, 4, 5] } }], usage: usage1 },
      Mock.reply(({ lastToolResults }) => ({
        text: `The mean is ${String(lastToolResults[0]?.content)}.`,
        usage: usage2
      }))
    ]
  })

  it.effect("runs a tool, feeds its result back to the model, and sums usage over the turns", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean] })
      const session = yield* agent.session()
      const result = yield* session.askResult("Compute the mean of [1, 2, 3, 4, 5].")

      assert.instanceOf(result, RunResult.RunResult)
      assert.strictEqual(result.text, "The mean is 3.")
      assert.strictEqual(result.status, "completed")
      assert.strictEqual(result.stopReason, "end_turn")
      assert.strictEqual(result.turns, 2)
      assert.strictEqual(result.attempts, 2)
      assert.deepStrictEqual(result.usage, Usage.add(Usage.make(usage1), Usage.make(usage2)))
      assert.deepStrictEqual(yield* session.usage, result.usage)

      const history = yield* session.history
      assertValidHistory(history)
      assert.deepStrictEqual(
        history.map((message) => [message.role, message.content.map((block) => block.type)]),
        [
          ["user", ["text"]],
          ["assistant", ["tool_use"]],
          ["user", ["tool_result"]],
          ["assistant", ["text"]]
        ]
      )
      assert.deepStrictEqual(history[0], Message.user("Compute the mean of [1, 2, 3, 4, 5]."))
      assert.deepStrictEqual(history[2]!.content[0], Message.toolResult("toolu_mock_0_0", "3"))
      assert.strictEqual(Message.textOf(history[3]!.content), "The mean is 3.")
    }).pipe(Effect.provide(script))
  )

  it.effect("run returns the final text", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean] })
      assert.strictEqual(yield* agent.run("Mean of 1..5?"), "The mean is 3.")
    }).pipe(Effect.provide(script))
  )

  it.effect("a thinking turn's signature is kept in the history and sent back", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean] })
      const session = yield* agent.session()
      yield* session.ask("Mean of 2 and 4?")
      const history = yield* session.history
      assert.deepStrictEqual(history[1]!.content[0], {
        type: "thinking",
        thinking: "Use the tool.",
        signature: "sig_1"
      })
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(requests[1]!.messages[1]!.content[0], history[1]!.content[0])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            {
              thinking: { thinking: "Use the tool.", signature: "sig_1" },
              toolCalls: [{ name: "mean", input: { values: [2, 4] } }]
            },
            Mock.text("3")
          ]
        })
      )
    )
  )
})

describe("runStream", () => {
  const firstText = "Computing both means."
  const firstInput = { values: [1, 2, 3] }
  const secondInput = { values: [4, 5] }
  const finalText = "The means are 2 and 4.5."
  const chunkSize = 4

  it.effect("emits the exact event order for a turn with text and two tool calls, then a final text turn", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean] })
      const { events, exit } = yield* runEvents(agent.runStream("Means of [1,2,3] and [4,5]?"))
      assert.isTrue(Exit.isSuccess(exit))

      const deltas = (text: string, type: string) =>
        Array.from({ length: Math.ceil(text.length / chunkSize) }, () => `content_block_delta:${type}`)
      const expected = [
        "message_start",
        "content_block_start:text",
        ...deltas(firstText, "text_delta"),
        "content_block_stop",
        "content_block_start:tool_use",
        ...deltas(JSON.stringify(firstInput), "input_json_delta"),
        "content_block_stop",
        "content_block_start:tool_use",
        ...deltas(JSON.stringify(secondInput), "input_json_delta"),
        "content_block_stop",
        "message_delta",
        "message_stop",
        "tool_result",
        "tool_result",
        "message_start",
        "content_block_start:text",
        ...deltas(finalText, "text_delta"),
        "content_block_stop",
        "message_delta",
        "message_stop"
      ]
      assert.deepStrictEqual(events.map(label), expected)

      // block indices run 0, 1, 2 in the first turn and 0 in the second
      const indices = events.flatMap((event) => (event.type === "content_block_start" ? [event.index] : []))
      assert.deepStrictEqual(indices, [0, 1, 2, 0])

      // the tool results answer the calls in order
      assert.deepStrictEqual(
        toolResultEvents(events).map(({ tool_use_id, tool_name, content, is_error }) => ({
          tool_use_id,
          tool_name,
          content,
          is_error
        })),
        [
          { tool_use_id: "toolu_mock_0_0", tool_name: "mean", content: "2", is_error: false },
          { tool_use_id: "toolu_mock_0_1", tool_name: "mean", content: "4.5", is_error: false }
        ]
      )
      // the first turn's stop reason is tool_use, the last one's end_turn
      const stops = events.flatMap((event) => (event.type === "message_delta" ? [event.delta.stop_reason] : []))
      assert.deepStrictEqual(stops, ["tool_use", "end_turn"])
    }).pipe(
      Effect.provide(
        Mock.layer({
          chunkSize,
          turns: [
            Mock.toolCalls(
              [
                { name: "mean", input: firstInput },
                { name: "mean", input: secondInput }
              ],
              firstText
            ),
            Mock.text(finalText)
          ]
        })
      )
    )
  )
})

describe("tool concurrency", () => {
  const slowTool = (log: Ref.Ref<ReadonlyArray<string>>) =>
    Tool.make("slow", {
      description: "Takes a second.",
      parameters: Schema.Struct({ name: Schema.String }),
      handler: ({ name }) =>
        Effect.gen(function* () {
          yield* Ref.update(log, (all) => [...all, `start ${name}`])
          yield* Effect.sleep("1 second")
          yield* Ref.update(log, (all) => [...all, `end ${name}`])
          return name
        })
    })

  const turns = Mock.layer({
    turns: [
      Mock.toolCalls([
        { name: "slow", input: { name: "a" } },
        { name: "slow", input: { name: "b" } }
      ]),
      Mock.text("done")
    ]
  })

  it.effect("tools run one at a time by default, in call order", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const agent = yield* Agent.make({ tools: [slowTool(log)] })
      const fiber = yield* Effect.forkChild(agent.run("go"))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.deepStrictEqual(yield* Ref.get(log), ["start a", "end a", "start b", "end b"])
    }).pipe(Effect.provide(turns))
  )

  it.effect("toolConcurrency lets the calls of one turn overlap", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const agent = yield* Agent.make({ tools: [slowTool(log)], toolConcurrency: 2 })
      const fiber = yield* Effect.forkChild(agent.run("go"))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.deepStrictEqual((yield* Ref.get(log)).slice(0, 2), ["start a", "start b"])
    }).pipe(Effect.provide(turns))
  )
})

describe("max turns", () => {
  const alwaysTool = Mock.layer({
    turns: [
      Mock.toolCall("mean", { values: [1, 2] }),
      Mock.toolCall("mean", { values: [3, 4] }),
      // the third turn answers the next ask
      Mock.text("Fine, here is the answer.")
    ]
  })

  it.effect("runResult reports max_turns after the limit", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean], maxTurns: 2 })
      const result = yield* agent.runResult("Keep going")
      assert.strictEqual(result.status, "max_turns")
      assert.strictEqual(result.turns, 2)
      assert.strictEqual(result.stopReason, "tool_use")
      assert.strictEqual(yield* (yield* Mock.Recorder).turns, 2)
    }).pipe(Effect.provide(alwaysTool))
  )

  it.effect("run fails with MaxTurnsExceeded", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean], maxTurns: 2 })
      const error = yield* Effect.flip(agent.run("Keep going"))
      assert.strictEqual(error._tag, "MaxTurnsExceeded")
      if (error._tag === "MaxTurnsExceeded") assert.strictEqual(error.maxTurns, 2)
      assert.include(error.message, "maxTurns")
    }).pipe(Effect.provide(alwaysTool))
  )

  it.effect("the last turn carries a reminder at the end, the system prompt stays byte-identical", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean], maxTurns: 2 })
      yield* agent.runResult("Keep going")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests.length, 2)

      const lastBlocks = textBlocks(lastUserMessage(requests[1]!))
      const reminder = lastBlocks[lastBlocks.length - 1]!
      assert.include(reminder.text, "last turn")
      assert.strictEqual(
        lastUserMessage(requests[1]!).content.at(-1),
        reminder,
        "the reminder is the last block of the final user message"
      )
      // the first request carries no reminder
      assert.notInclude(JSON.stringify(requests[0]!.messages), reminder.text)

      const systems = requests.map((request) => JSON.stringify(request.system))
      assert.strictEqual(systems[0], systems[1])
      assert.include(systems[0]!, SYSTEM)
    }).pipe(Effect.provide(alwaysTool))
  )

  it.effect("the history ends with synthetic tool results, so the next ask is valid", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean], maxTurns: 2 })
      const session = yield* agent.session()
      const first = yield* session.askResult("Keep going")
      assert.strictEqual(first.status, "max_turns")

      const history = yield* session.history
      assertValidHistory(history)
      const last = history[history.length - 1]!
      assert.strictEqual(last.role, "user")
      assert.deepStrictEqual(last.content, [
        Message.toolResult("toolu_mock_1_0", "Not run: the turn limit (2) was reached.", true)
      ])
      // the reminder is not kept in the history
      assert.notInclude(JSON.stringify(history), "last turn")

      assert.strictEqual(yield* session.ask("Now answer."), "Fine, here is the answer.")
      const requests = yield* (yield* Mock.Recorder).requests
      assertValidHistory(requests[2]!.messages)
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(alwaysTool))
  )

  it.effect("runStream fails with MaxTurnsExceeded after the events", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean], maxTurns: 2 })
      const { events, exit } = yield* runEvents(agent.runStream("Keep going"))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "MaxTurnsExceeded")

      assert.strictEqual(events.filter((event) => event.type === "message_stop").length, 2)
      const results = toolResultEvents(events)
      assert.deepStrictEqual(
        results.map((event) => event.is_error),
        [false, true]
      )
      assert.strictEqual(events[events.length - 1]!.type, "tool_result", "the synthetic result is the last event")
    }).pipe(Effect.provide(alwaysTool))
  )

  it.effect("maxTurns: 1 with a tool call still produces a valid history", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [mean], maxTurns: 1 })
      const session = yield* agent.session()
      const result = yield* session.askResult("Keep going")
      assert.strictEqual(result.status, "max_turns")
      assert.strictEqual(result.turns, 1)
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(alwaysTool))
  )
})

describe("prompt caching", () => {
  it.effect("requests carry cache markers on the system prompt and the final user block; the history none", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, tools: [mean] })
      const session = yield* agent.session()
      yield* session.ask("Mean of 1..3?")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests.length, 2)
      for (const request of requests) {
        assert.deepStrictEqual(request.system, [{ type: "text", text: SYSTEM, cache_control: { type: "ephemeral" } }])
        const last = lastUserMessage(request).content.at(-1) as Record<string, unknown>
        assert.deepStrictEqual(last.cache_control, { type: "ephemeral" })
        const marked = JSON.stringify(request.messages).split("cache_control").length - 1
        assert.strictEqual(marked, 1, "exactly one message block is marked")
      }
      assert.strictEqual(lastUserMessage(requests[1]!).content.at(-1)?.type, "tool_result")
      assert.notInclude(JSON.stringify(yield* session.history), "cache_control")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("mean", { values: [1, 2, 3] }), Mock.text("2")] })))
  )

  it.effect("cache: false sends the request unmarked", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ system: SYSTEM, cache: false })
      yield* agent.run("hi")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests[0]!.system, SYSTEM)
      assert.notInclude(JSON.stringify(requests[0]!.messages), "cache_control")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("hello")] })))
  )
})

describe("a turn cut short by max_tokens", () => {
  it.effect("does not run its tool calls and tells the model why", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const counted = Tool.make("mean", {
        description: "Arithmetic mean of a list of numbers.",
        parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
        handler: ({ values }) =>
          Effect.as(
            Ref.update(calls, (n) => n + 1),
            values[0]
          )
      })
      const agent = yield* Agent.make({ tools: [counted], builtinTools: false })
      const session = yield* agent.session()
      const { events, exit } = yield* runEvents(session.askStream("Mean?"))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(yield* Ref.get(calls), 0)
      const [result] = toolResultEvents(events)
      assert.isTrue(result!.is_error)
      assert.include(result!.content as string, "max_tokens")
      assertValidHistory(yield* session.history)
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests.length, 2)
      assertValidHistory(requests[1]!.messages)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [{ toolCalls: [{ name: "mean", input: { values: [1] } }], stopReason: "max_tokens" }, Mock.text("ok")]
        })
      )
    )
  )
})
