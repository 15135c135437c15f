/**
 * An agent's asks as OpenTelemetry sees them: runs of a scripted model (`Mock`, provider name
 * `mock`) with real tools, exported by `Telemetry.layerOtlp` to a local OTLP/HTTP receiver. The
 * span tree, its attributes and the metric values, for a two-tool run, a retried model call and
 * a timeout; times on `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, HarnessError, Hooks, Mock, type RunResult, Tool } from "../../src/index.js"
import * as OtlpReceiver from "../utils/otlpReceiver.js"
import { countWhere, metric, named, observed, only, sumWhere } from "./helpers.js"

const lookup = Tool.make("lookup", {
  description: "Looks a key up.",
  parameters: Schema.Struct({ key: Schema.String }),
  handler: ({ key }) => `value of ${key}`
})

const broken = Tool.make("broken", {
  description: "Always fails.",
  parameters: Schema.Struct({}),
  handler: () => Effect.fail("the disk is on fire")
})

const overloaded = () =>
  new HarnessError.ProviderError({ reason: "Overloaded", provider: "mock", status: 529, message: "Overloaded" })

/** Runs `effect` in a fiber while the TestClock moves `millis` forward in 50 ms steps. */
const withTime = <A, E, R>(effect: Effect.Effect<A, E, R>, millis = 10_000) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < millis / 50; i++) yield* TestClock.adjust(50)
    return yield* Fiber.await(fiber)
  })

const twoTools = Mock.layer({
  headersDelay: "1 second",
  turns: [
    {
      toolCalls: [
        { name: "lookup", input: { key: "a" }, id: "toolu_a" },
        { name: "broken", input: {}, id: "toolu_b" }
      ],
      usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 1000, cacheWriteTokens: 50 }
    },
    { text: "a is value of a", usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 1150 } }
  ]
})

describe("Telemetry of an agent", () => {
  it.effect("a two-tool run is an invoke_agent span over two chat spans and two execute_tool spans", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const exit = yield* observed(
        receiver,
        withTime(
          Effect.gen(function* () {
            const agent = yield* Agent.make({ tools: [lookup, broken], builtinTools: false, retry: false })
            return yield* agent.runResult("What is a?")
          }).pipe(Effect.provide(twoTools))
        )
      )
      const result: RunResult.RunResult = yield* exit
      const spans = yield* receiver.spans
      assert.strictEqual(
        OtlpReceiver.tree(spans),
        [
          "invoke_agent",
          "  chat mock-model",
          "  execute_tool lookup",
          "  execute_tool broken [ToolError]",
          "  chat mock-model"
        ].join("\n")
      )
      const agent = only(spans, "invoke_agent")
      assert.deepInclude(agent.attributes, {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "mock",
        "gen_ai.request.model": "mock-model",
        "gen_ai.usage.input_tokens": 100 + 1000 + 50 + 40 + 1150,
        "gen_ai.usage.output_tokens": 28
      })
      assert.strictEqual(agent.status.code, 0)
      const [first, second] = named(spans, "chat mock-model")
      assert.strictEqual(first!.kind, 3)
      assert.deepInclude(first!.attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "mock",
        "gen_ai.request.model": "mock-model",
        "gen_ai.request.stream": true,
        "gen_ai.response.id": "msg_mock_0",
        "gen_ai.response.model": "mock-model",
        "gen_ai.response.time_to_first_chunk": 1,
        "gen_ai.usage.input_tokens": 1150,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 50
      })
      assert.deepStrictEqual(first!.attributes["gen_ai.response.finish_reasons"], ["tool_call"])
      assert.deepStrictEqual(second!.attributes["gen_ai.response.finish_reasons"], ["stop"])
      assert.strictEqual(second!.attributes["gen_ai.response.id"], "msg_mock_1")
      const toolA = only(spans, "execute_tool lookup")
      assert.deepInclude(toolA.attributes, { "gen_ai.tool.name": "lookup", "gen_ai.tool.call.id": "toolu_a" })
      assert.strictEqual(toolA.status.code, 0)
      const toolB = only(spans, "execute_tool broken")
      assert.deepInclude(toolB.attributes, { "gen_ai.tool.call.id": "toolu_b", "error.type": "ToolError" })
      assert.strictEqual(toolB.status.code, 2)
      for (const span of spans) assert.strictEqual(span.traceId, agent.traceId, "one trace per ask")

      const metrics = yield* receiver.metrics
      const tokens = metric(metrics, "gen_ai.client.token.usage")
      const { usage } = result
      assert.strictEqual(
        sumWhere(tokens, { "gen_ai.token.type": "input" }),
        usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens,
        "input token usage sums to the run's input, cached tokens included"
      )
      assert.strictEqual(sumWhere(tokens, { "gen_ai.token.type": "output" }), usage.outputTokens)
      assert.strictEqual(countWhere(metric(metrics, "gen_ai.client.operation.duration"), {}), 2)
      const ttfc = metric(metrics, "gen_ai.client.operation.time_to_first_chunk")
      assert.strictEqual(sumWhere(ttfc, {}), 2, "each turn's first chunk came after the 1 s headers delay")
      const tools = metric(metrics, "gen_ai.execute_tool.duration")
      assert.strictEqual(countWhere(tools, { "gen_ai.tool.name": "lookup" }), 1)
      assert.strictEqual(countWhere(tools, { "gen_ai.tool.name": "broken", "error.type": "ToolError" }), 1)
    })
  )

  it.effect(
    "tool calls under hooks are traced too: a call a hook lets run has its span with the input the hook gave",
    () =>
      Effect.gen(function* () {
        const receiver = yield* OtlpReceiver.make
        yield* observed(
          receiver,
          withTime(
            Effect.gen(function* () {
              const agent = yield* Agent.make({
                tools: [lookup, broken],
                builtinTools: false,
                retry: false,
                hooks: {
                  beforeTool: (call) =>
                    Effect.succeed(
                      call.name === "broken" ? Hooks.deny("broken is switched off.") : Hooks.replaceInput({ key: "z" })
                    )
                }
              })
              return yield* agent.runResult("What is a?")
            }).pipe(Effect.provide(twoTools))
          )
        )
        const spans = yield* receiver.spans
        // the denied call never ran: no span; the allowed one ran with the hook's input
        assert.strictEqual(
          OtlpReceiver.tree(spans),
          ["invoke_agent", "  chat mock-model", "  execute_tool lookup", "  chat mock-model"].join("\n")
        )
        assert.deepInclude(only(spans, "execute_tool lookup").attributes, { "gen_ai.tool.call.id": "toolu_a" })
      })
  )

  it.effect("an ask's own model parameters are the chat span's request attributes", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const agent = yield* Agent.make({ builtinTools: false, maxTokens: 512 })
          yield* agent.run("hi", { model: "mock-large", temperature: 0.25, topP: 0.5, stopSequences: ["END"] })
        }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("hello")] })))
      )
      const chat = only(yield* receiver.spans, "chat mock-large")
      assert.deepInclude(chat.attributes, {
        "gen_ai.request.model": "mock-large",
        "gen_ai.request.max_tokens": 512,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.request.top_p": 0.5
      })
      assert.deepStrictEqual(chat.attributes["gen_ai.request.stop_sequences"], ["END"])
    })
  )

  it.effect("a retried model call is two chat spans under one ask, with a retry event on the ask", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const exit = yield* observed(
        receiver,
        withTime(
          Effect.gen(function* () {
            const agent = yield* Agent.make({ builtinTools: false, retry: { schedule: Schedule.spaced("1 second") } })
            return yield* agent.runResult("hi")
          }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded()), Mock.text("hello")] })))
        )
      )
      const result = yield* exit
      assert.strictEqual(result.attempts, 2)
      const spans = yield* receiver.spans
      assert.strictEqual(OtlpReceiver.tree(spans), "invoke_agent\n  chat mock-model [Overloaded]\n  chat mock-model")
      const [failed, retried] = named(spans, "chat mock-model")
      assert.strictEqual(failed!.status.code, 2)
      assert.strictEqual(failed!.attributes["data_harness.attempt"], 1)
      assert.strictEqual(retried!.status.code, 0)
      assert.strictEqual(retried!.attributes["data_harness.attempt"], 2)
      assert.strictEqual(retried!.start - failed!.end, 1_000_000_000n, "the second attempt starts after the delay")
      const agent = only(spans, "invoke_agent")
      assert.strictEqual(agent.status.code, 0)
      assert.deepStrictEqual(
        agent.events.map((event) => [event.name, event.attributes]),
        [
          [
            "data_harness.retry",
            { "data_harness.retry.attempt": 2, "data_harness.retry.delay_ms": 1000, "error.type": "Overloaded" }
          ]
        ]
      )
      const duration = metric(yield* receiver.metrics, "gen_ai.client.operation.duration")
      assert.strictEqual(countWhere(duration, { "error.type": "Overloaded" }), 1)
      assert.strictEqual(countWhere(duration, {}), 2)
    })
  )

  it.effect("an idle timeout fails the chat span and the ask with error.type Timeout and a timeout event", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const exit = yield* observed(
        receiver,
        withTime(
          Effect.gen(function* () {
            const agent = yield* Agent.make({ builtinTools: false, retry: false, timeouts: { idle: "2 seconds" } })
            return yield* agent.runResult("hi")
          }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, turns: [Mock.stall("abc")] })))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      const spans = yield* receiver.spans
      assert.strictEqual(OtlpReceiver.tree(spans), "invoke_agent [Timeout]\n  chat mock-model [Timeout]")
      const chat = only(spans, "chat mock-model")
      assert.strictEqual(chat.status.code, 2, "a timeout is a failure, not an interrupted span")
      assert.isUndefined(chat.attributes["effect.fiber.interrupted"])
      assert.deepStrictEqual(
        chat.events.filter((event) => event.name === "data_harness.timeout").map((event) => event.attributes),
        [{ "data_harness.timeout.phase": "idle", "data_harness.timeout.limit_ms": 2000 }]
      )
      assert.strictEqual(chat.end - chat.start, 2_000_000_000n)
      assert.strictEqual(only(spans, "invoke_agent").status.code, 2)
    })
  )

  it.effect("a run timeout ends the ask with error.type Timeout and a timeout event on the invoke_agent span", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const exit = yield* observed(
        receiver,
        withTime(
          Effect.gen(function* () {
            const agent = yield* Agent.make({ builtinTools: false, retry: false, timeouts: { run: "3 seconds" } })
            return yield* agent.runResult("hi")
          }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("abc")] })))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      const spans = yield* receiver.spans
      const agent = only(spans, "invoke_agent")
      assert.strictEqual(agent.attributes["error.type"], "Timeout")
      assert.deepStrictEqual(
        agent.events.filter((event) => event.name === "data_harness.timeout").map((event) => event.attributes),
        [{ "data_harness.timeout.phase": "run", "data_harness.timeout.limit_ms": 3000 }]
      )
      const chat = only(spans, "chat mock-model")
      assert.strictEqual(chat.attributes["error.type"], "Timeout", "the attempt in progress ended with the run")
    })
  )

  it.effect("a consumer that stops reading ends every span without an error", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const agent = yield* Agent.make({ builtinTools: false })
          yield* Stream.runDrain(Stream.take(agent.runStream("hi"), 2))
        }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, turns: [Mock.text("hello there")] })))
      )
      const spans = yield* receiver.spans
      assert.strictEqual(OtlpReceiver.tree(spans), "invoke_agent\n  chat mock-model")
      for (const span of spans) assert.isUndefined(span.attributes["error.type"], span.name)
    })
  )

  it.effect("each ask of a session is its own trace under the caller's span", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const agent = yield* Agent.make({ builtinTools: false })
          yield* Effect.scoped(
            Effect.gen(function* () {
              const session = yield* agent.session()
              yield* session.ask("one")
              yield* session.ask("two")
            })
          )
        }).pipe(
          Effect.withSpan("conversation"),
          Effect.provide(Mock.layer({ turns: [Mock.text("1"), Mock.text("2")] }))
        )
      )
      const spans = yield* receiver.spans
      assert.strictEqual(
        OtlpReceiver.tree(spans),
        "conversation\n  invoke_agent\n    chat mock-model\n  invoke_agent\n    chat mock-model"
      )
    })
  )

  it.effect("content is on the spans only with captureContent", () =>
    Effect.gen(function* () {
      const run = (captureContent: boolean) =>
        Effect.gen(function* () {
          const receiver = yield* OtlpReceiver.make
          yield* observed(
            receiver,
            Effect.gen(function* () {
              const agent = yield* Agent.make({ system: "Be brief.", tools: [lookup], builtinTools: false })
              yield* agent.run("What is a?")
            }).pipe(
              Effect.provide(
                Mock.layer({ turns: [Mock.toolCall("lookup", { key: "a" }, "toolu_a"), Mock.text("a is a")] })
              )
            ),
            { captureContent }
          )
          return yield* receiver.spans
        })
      const plain = yield* run(false)
      for (const span of plain) {
        for (const key of Object.keys(span.attributes)) {
          assert.notMatch(key, /messages|instructions|arguments|result|definitions/, `${span.name} ${key}`)
        }
      }
      const captured = yield* run(true)
      const [, second] = named(captured, "chat mock-model")
      const input = JSON.parse(second!.attributes["gen_ai.input.messages"] as string)
      assert.deepStrictEqual(input.at(-1), {
        role: "tool",
        parts: [{ type: "tool_call_response", id: "toolu_a", response: "value of a" }]
      })
      assert.deepStrictEqual(JSON.parse(second!.attributes["gen_ai.output.messages"] as string), [
        { role: "assistant", parts: [{ type: "text", content: "a is a" }], finish_reason: "stop" }
      ])
      assert.include(second!.attributes["gen_ai.system_instructions"] as string, "Be brief.")
      const tool = only(captured, "execute_tool lookup")
      assert.strictEqual(tool.attributes["gen_ai.tool.call.arguments"], '{"key":"a"}')
      assert.strictEqual(tool.attributes["gen_ai.tool.call.result"], "value of a")
    })
  )
})
