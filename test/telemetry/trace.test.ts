/**
 * The span and metric helpers the agent loop calls (`src/telemetry/trace.ts`), fed plain inputs
 * and exported with `Telemetry.layerOtlp` to a local OTLP/HTTP receiver: what arrives on the wire.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Metric, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { HarnessError, Message, type Provider, Telemetry, Usage } from "../../src/index.js"
import * as Trace from "../../src/telemetry/trace.js"
import * as OtlpReceiver from "../utils/otlpReceiver.js"
import { metric, observed, only, sumWhere } from "./helpers.js"

const info: Trace.AskInfo = {
  provider: { name: "anthropic", model: "claude-test", baseURL: "https://api.anthropic.com" },
  agentName: "analyst",
  conversationId: "sess_1"
}

const request: Provider.Request = {
  system: "You are terse.",
  messages: [Message.user("What is the total?")],
  tools: [{ name: "sql", description: "Runs SQL.", input_schema: { type: "object" } }],
  maxTokens: 1024,
  temperature: 0.5,
  topP: 0.9,
  topK: 40,
  stopSequences: ["END"]
}

const turn = (usage: Partial<Usage.Counts>, stopReason = "end_turn"): Trace.TurnInfo => ({
  id: "msg_1",
  model: "claude-test-2026",
  stopReason,
  usage: Usage.make(usage)
})
const reply = [Message.text("42")]

const overloaded = new HarnessError.ProviderError({ reason: "Overloaded", provider: "anthropic", message: "busy" })

describe("Telemetry spans", () => {
  it.effect("an ask is an invoke_agent span with a chat span per attempt and an execute_tool span per tool", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          assert.isTrue(trace.recording)
          trace.attemptStarted(request, 1)
          yield* TestClock.adjust("500 millis")
          trace.firstChunk()
          yield* TestClock.adjust("1500 millis")
          trace.attemptCompleted(
            turn({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 100, cacheWriteTokens: 20 }),
            reply
          )
          const outcome = yield* trace.tool(
            { id: "toolu_1", name: "sql", input: { query: "select 1" } },
            Effect.as(TestClock.adjust("250 millis"), { content: "1", isError: false })
          )
          assert.strictEqual(outcome.content, "1")
          trace.ended(Exit.void)
        })
      )
      const spans = yield* receiver.spans
      assert.strictEqual(
        OtlpReceiver.tree(spans),
        ["invoke_agent analyst", "  chat claude-test", "  execute_tool sql"].join("\n")
      )
      const agent = only(spans, "invoke_agent analyst")
      const chat = only(spans, "chat claude-test")
      const tool = only(spans, "execute_tool sql")
      assert.strictEqual(agent.kind, 1)
      assert.strictEqual(chat.kind, 3, "a model call is a client span")
      assert.strictEqual(agent.resource["service.name"], "telemetry-test")
      assert.deepInclude(agent.attributes, {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "analyst",
        "gen_ai.conversation.id": "sess_1",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.usage.input_tokens": 130,
        "gen_ai.usage.output_tokens": 5
      })
      assert.deepInclude(chat.attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-test",
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stream": true,
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.model": "claude-test-2026",
        "gen_ai.response.time_to_first_chunk": 0.5,
        "gen_ai.usage.input_tokens": 130,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.cache_creation.input_tokens": 20,
        "server.address": "api.anthropic.com",
        "server.port": 443,
        "data_harness.attempt": 1
      })
      assert.deepStrictEqual(chat.attributes["gen_ai.request.stop_sequences"], ["END"])
      assert.deepStrictEqual(chat.attributes["gen_ai.response.finish_reasons"], ["stop"])
      assert.strictEqual(chat.end - chat.start, 2_000_000_000n, "the span's times come from the ask's clock")
      assert.deepInclude(tool.attributes, {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "sql",
        "gen_ai.tool.call.id": "toolu_1",
        "gen_ai.tool.type": "function"
      })
      assert.strictEqual(tool.end - tool.start, 250_000_000n)
      for (const span of spans) {
        assert.strictEqual(span.status.code, 0, `${span.name} did not fail`)
        assert.isUndefined(span.attributes["gen_ai.input.messages"], "no content without the opt-in")
        assert.isUndefined(span.attributes["gen_ai.tool.call.arguments"])
      }
    })
  )

  it.effect("the caller's span is the parent of the invoke_agent span", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.ended(Exit.void)
        }).pipe(Effect.withSpan("handle request"))
      )
      const spans = yield* receiver.spans
      assert.strictEqual(OtlpReceiver.tree(spans), "handle request\n  invoke_agent analyst")
      assert.strictEqual(only(spans, "invoke_agent analyst").traceId, only(spans, "handle request").traceId)
    })
  )

  it.effect("a failed attempt has status error and the error's reason as error.type; the retry is an event", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.attemptStarted(request, 1)
          trace.attemptFailed(turn({}), Cause.fail(overloaded))
          trace.retrying(2, Duration.millis(1500), overloaded)
          trace.attemptStarted(request, 2)
          trace.attemptCompleted(turn({ inputTokens: 3, outputTokens: 1 }), reply)
          trace.ended(Exit.void)
        })
      )
      const spans = yield* receiver.spans
      const [first, second] = spans.filter((span) => span.name === "chat claude-test")
      assert.strictEqual(first!.status.code, 2)
      assert.strictEqual(first!.attributes["error.type"], "Overloaded")
      assert.strictEqual(first!.attributes["data_harness.attempt"], 1)
      assert.isUndefined(first!.attributes["gen_ai.response.finish_reasons"], "a failed attempt has no finish")
      assert.strictEqual(second!.status.code, 0)
      assert.strictEqual(second!.attributes["data_harness.attempt"], 2)
      const agent = only(spans, "invoke_agent analyst")
      assert.strictEqual(agent.status.code, 0, "the ask itself succeeded")
      assert.deepStrictEqual(
        agent.events.map((event) => [event.name, event.attributes]),
        [
          [
            "data_harness.retry",
            { "data_harness.retry.attempt": 2, "data_harness.retry.delay_ms": 1500, "error.type": "Overloaded" }
          ]
        ]
      )
      const duration = metric(yield* receiver.metrics, "gen_ai.client.operation.duration")
      assert.strictEqual(duration.unit, "s")
      assert.deepStrictEqual(
        duration.points.map((point) => [point.attributes["error.type"], point.count]).sort(),
        [
          ["Overloaded", 1],
          [undefined, 1]
        ].sort()
      )
    })
  )

  it.effect("a fallback chain's turn names the provider that answered it", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start({ provider: { name: "fallback(anthropic, openai)", model: "claude-test" } })
          trace.attemptStarted(request, 1)
          trace.attemptCompleted({ ...turn({ inputTokens: 2, outputTokens: 1 }), answeredBy: "openai" }, reply)
          trace.ended(Exit.void)
        })
      )
      const chat = only(yield* receiver.spans, "chat claude-test")
      assert.strictEqual(chat.attributes["gen_ai.provider.name"], "openai")
      const tokens = metric(yield* receiver.metrics, "gen_ai.client.token.usage")
      assert.deepStrictEqual(
        [...new Set(tokens.points.map((point) => point.attributes["gen_ai.provider.name"]))],
        ["openai"]
      )
    })
  )

  it.effect("a timeout ends the chat span as an error with error.type Timeout and an event with its phase", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const timeout = new HarnessError.Timeout({
        phase: "idle",
        limitMillis: 2000,
        message: "idle",
        partial: HarnessError.emptyPartial
      })
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.attemptStarted(request, 1)
          trace.firstChunk()
          trace.ended(Exit.fail(timeout), turn({ inputTokens: 7 }))
        })
      )
      const spans = yield* receiver.spans
      const chat = only(spans, "chat claude-test")
      assert.strictEqual(chat.status.code, 2, "a timeout is a failure, not an interruption")
      assert.strictEqual(chat.attributes["error.type"], "Timeout")
      assert.isUndefined(chat.attributes["effect.fiber.interrupted"])
      assert.deepStrictEqual(
        chat.events.filter((event) => event.name === "data_harness.timeout").map((event) => event.attributes),
        [{ "data_harness.timeout.phase": "idle", "data_harness.timeout.limit_ms": 2000 }]
      )
      assert.strictEqual(chat.attributes["gen_ai.usage.input_tokens"], 7, "the partial turn's usage is kept")
      const agent = only(spans, "invoke_agent analyst")
      assert.strictEqual(agent.status.code, 2)
      assert.strictEqual(agent.attributes["error.type"], "Timeout")
    })
  )

  it.effect("a run timeout is an event on the invoke_agent span", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const timeout = new HarnessError.Timeout({
        phase: "run",
        limitMillis: 60_000,
        message: "run",
        partial: HarnessError.emptyPartial
      })
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.ended(Exit.fail(timeout))
        })
      )
      const agent = only(yield* receiver.spans, "invoke_agent analyst")
      assert.deepStrictEqual(
        agent.events
          .filter((event) => event.name !== "exception")
          .map((event) => [event.name, event.attributes["data_harness.timeout.phase"]]),
        [["data_harness.timeout", "run"]]
      )
      assert.strictEqual(agent.attributes["error.type"], "Timeout")
    })
  )

  it.effect("an interrupted ask leaves its attempt unfinished, not failed", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.attemptStarted(request, 1)
          trace.ended(Exit.interrupt())
        })
      )
      const spans = yield* receiver.spans
      const chat = only(spans, "chat claude-test")
      assert.strictEqual(chat.status.code, 0)
      assert.strictEqual(chat.attributes["effect.fiber.interrupted"], true)
      assert.isUndefined(chat.attributes["error.type"])
    })
  )

  it.effect("a tool's error result sets error.type and status error on its span and its duration", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          yield* trace.tool({ id: "toolu_1", name: "sql" }, Effect.succeed({ content: "no such table", isError: true }))
          yield* trace.tool(
            { id: "toolu_2", name: "sql" },
            Effect.succeed({ content: "too slow", isError: true, errorType: "Timeout" })
          )
          trace.ended(Exit.void)
        })
      )
      const tools = (yield* receiver.spans).filter((span) => span.name === "execute_tool sql")
      assert.deepStrictEqual(
        tools.map((span) => [span.attributes["gen_ai.tool.call.id"], span.status.code, span.attributes["error.type"]]),
        [
          ["toolu_1", 2, "ToolError"],
          ["toolu_2", 2, "Timeout"]
        ]
      )
      const duration = metric(yield* receiver.metrics, "gen_ai.execute_tool.duration")
      assert.strictEqual(duration.points.find((p) => p.attributes["error.type"] === "ToolError")?.count, 1)
    })
  )

  it.effect("spans made inside a tool are children of its execute_tool span", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          yield* trace.tool(
            { id: "toolu_1", name: "sql" },
            Effect.as(Effect.withSpan(Effect.void, "duckdb.query"), { content: "", isError: false })
          )
          trace.ended(Exit.void)
        })
      )
      assert.strictEqual(
        OtlpReceiver.tree(yield* receiver.spans),
        "invoke_agent analyst\n  execute_tool sql\n    duckdb.query"
      )
    })
  )
})

describe("Telemetry content", () => {
  it.effect("with captureContent the spans carry the conversation, the reply and the tool's input and result", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const history: Provider.Request = {
        ...request,
        messages: [
          Message.user("What is the total?"),
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "sql", input: { q: "x" } }] },
          { role: "user", content: [Message.toolResult("toolu_1", "42")] }
        ]
      }
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.attemptStarted(history, 1)
          trace.attemptCompleted(turn({ inputTokens: 1, outputTokens: 1 }), reply)
          yield* trace.tool(
            { id: "toolu_2", name: "sql", input: { q: "y" } },
            Effect.succeed({ content: "7", isError: false })
          )
          trace.ended(Exit.void)
        }),
        { captureContent: true }
      )
      const spans = yield* receiver.spans
      const chat = only(spans, "chat claude-test")
      assert.deepStrictEqual(JSON.parse(chat.attributes["gen_ai.input.messages"] as string), [
        { role: "user", parts: [{ type: "text", content: "What is the total?" }] },
        { role: "assistant", parts: [{ type: "tool_call", id: "toolu_1", name: "sql", arguments: { q: "x" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "toolu_1", response: "42" }] }
      ])
      assert.deepStrictEqual(JSON.parse(chat.attributes["gen_ai.output.messages"] as string), [
        { role: "assistant", parts: [{ type: "text", content: "42" }], finish_reason: "stop" }
      ])
      assert.deepStrictEqual(JSON.parse(chat.attributes["gen_ai.system_instructions"] as string), [
        { type: "text", content: "You are terse." }
      ])
      assert.deepStrictEqual(JSON.parse(chat.attributes["gen_ai.tool.definitions"] as string), [
        { type: "function", name: "sql", description: "Runs SQL.", parameters: { type: "object" } }
      ])
      const tool = only(spans, "execute_tool sql")
      assert.strictEqual(tool.attributes["gen_ai.tool.call.arguments"], '{"q":"y"}')
      assert.strictEqual(tool.attributes["gen_ai.tool.call.result"], "7")
    })
  )
})

describe("Telemetry metrics", () => {
  it.effect("token usage counts cached input tokens as input, and time to first chunk is in seconds", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          for (const usage of [
            { inputTokens: 10, outputTokens: 5, cacheReadTokens: 100 },
            { inputTokens: 20, outputTokens: 7, cacheWriteTokens: 30 }
          ]) {
            trace.attemptStarted(request, 1)
            yield* TestClock.adjust("250 millis")
            trace.firstChunk()
            trace.attemptCompleted(turn(usage, "tool_use"), reply)
          }
          trace.ended(Exit.void)
        })
      )
      const metrics = yield* receiver.metrics
      const tokens = metric(metrics, "gen_ai.client.token.usage")
      assert.strictEqual(tokens.kind, "histogram")
      assert.strictEqual(tokens.unit, "{token}")
      assert.strictEqual(sumWhere(tokens, { "gen_ai.token.type": "input" }), 160)
      assert.strictEqual(sumWhere(tokens, { "gen_ai.token.type": "output" }), 12)
      assert.deepInclude(tokens.points[0]!.attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-test",
        "gen_ai.response.model": "claude-test-2026",
        "server.address": "api.anthropic.com",
        "server.port": "443"
      })
      const ttfc = metric(metrics, "gen_ai.client.operation.time_to_first_chunk")
      assert.strictEqual(ttfc.points[0]!.count, 2)
      assert.strictEqual(ttfc.points[0]!.sum, 0.5)
      assert.strictEqual(metric(metrics, "gen_ai.invoke_agent.duration").points[0]!.count, 1)
    })
  )
})

describe("Telemetry metric series", () => {
  it.effect("what an ask records is readable through the exported metric with the same attributes", () =>
    Effect.gen(function* () {
      const trace = yield* Trace.start({ provider: { name: "mock", model: "m" } })
      trace.attemptStarted({ messages: [], tools: [] }, 1)
      trace.attemptCompleted({ model: "m", stopReason: "end_turn", usage: Usage.make({ inputTokens: 3 }) }, [])
      trace.ended(Exit.void)
      const input = yield* Metric.value(
        Metric.withAttributes(Telemetry.tokenUsage, {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "mock",
          "gen_ai.request.model": "m",
          "gen_ai.response.model": "m",
          "gen_ai.token.type": "input"
        })
      )
      assert.strictEqual(input.count, 1)
      assert.strictEqual(input.sum, 3)
    }).pipe(Effect.provideService(Telemetry.Enabled, true), Effect.provideService(Metric.MetricRegistry, new Map()))
  )
})

describe("Telemetry off", () => {
  it.effect("without a tracing backend an ask records nothing", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Trace.start(info), Trace.disabled)
      const withTracer = yield* Trace.start(info).pipe(
        Effect.provideService(Tracer.Tracer, Tracer.make({ span: (options) => new Tracer.NativeSpan(options) }))
      )
      assert.isTrue(withTracer.recording, "any tracer other than Effect's built-in one records")
      const disabled = yield* Trace.start(info).pipe(
        Effect.provideService(Tracer.Tracer, Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })),
        Effect.provideService(Telemetry.Enabled, false)
      )
      assert.strictEqual(disabled, Trace.disabled)
      const forced = yield* Trace.start(info).pipe(Effect.provideService(Telemetry.Enabled, true))
      assert.isTrue(forced.recording, "Enabled: true records metrics without a tracer")
    })
  )

  it.effect("Telemetry.flush sends what the exporter holds before the layer closes", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const before = yield* observed(
        receiver,
        Effect.gen(function* () {
          const trace = yield* Trace.start(info)
          trace.ended(Exit.void)
          yield* Telemetry.flush
          return yield* receiver.spans
        })
      )
      assert.deepStrictEqual(
        before.map((span) => span.name),
        ["invoke_agent analyst"]
      )
    })
  )

  it.effect("layerOtlp rejects a URL that is not http(s) and an empty service name", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(
        Layer.build(Telemetry.layerOtlp({ url: "localhost:4318", serviceName: "x" })).pipe(Effect.scoped)
      )
      assert.strictEqual(bad.option, "url")
      const empty = yield* Effect.flip(
        Layer.build(Telemetry.layerOtlp({ url: "http://localhost:4318", serviceName: " " })).pipe(Effect.scoped)
      )
      assert.strictEqual(empty.option, "serviceName")
    })
  )
})
