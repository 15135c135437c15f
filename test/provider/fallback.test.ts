/**
 * Fallback chains at the provider boundary: `Provider.layerFallback` over the real Anthropic and
 * OpenAI providers, each against its local HTTP server. What the chain's stream emits when the
 * primary fails before and after output, which failures move on, what fails in the end, that
 * interrupting the secondary closes its socket, members with retries of their own, `chat`, and
 * the fold of a `discard` by `Provider.collect`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { HarnessError, Provider, RunResult, type StreamEvent, Usage } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as OpenAI from "../../src/provider/openai/OpenAI.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import { label, runEvents, textOf } from "../utils/events.js"
import * as Faults from "../utils/faults.js"
import * as OpenAIServer from "../utils/openaiServer.js"

const request: Provider.Request = { messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], tools: [] }

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const overloaded = AnthropicServer.errorReply(529, "overloaded_error", "Overloaded")

/** An Anthropic turn that streams `pieces` of text, then an in-stream `overloaded_error`. */
const overloadedAfter = (pieces: ReadonlyArray<string>): string =>
  AnthropicServer.sse(Faults.textEvents(pieces).slice(0, 2 + pieces.length)) +
  `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`

const openaiText = (pieces: ReadonlyArray<string>) => OpenAIServer.sse(OpenAIServer.textChunks(pieces))

const anthropicLayer = (server: AnthropicServer.AnthropicServer) =>
  Anthropic.layer({ model: "claude-test", apiKey: "sk-ant-test", baseURL: server.url })

const openaiLayer = (server: OpenAIServer.OpenAIServer) =>
  OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url, preset: "openai" })

/** A layer's provider, built in the test's scope. */
const built = <E>(layer: Layer.Layer<Provider.Provider, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, Provider.Provider))

/** Both servers, and the chain Anthropic -> OpenAI over them. */
const setup = (options?: Provider.FallbackOptions) =>
  Effect.gen(function* () {
    const anthropic = yield* AnthropicServer.make()
    const openai = yield* OpenAIServer.make()
    const chain = yield* built(Provider.layerFallback([anthropicLayer(anthropic), openaiLayer(openai)], options))
    return { anthropic, openai, chain }
  })

const startOf = (events: ReadonlyArray<StreamEvent.StreamEvent>) =>
  events.filter((event): event is StreamEvent.MessageStart => event.type === "message_start")

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause) as E
}

describe("Provider.fallback", () => {
  it.effect("a primary that fails with 529 before output: the secondary answers, no discard, its turn names it", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup()
      anthropic.enqueue(overloaded)
      openai.enqueue({ sse: openaiText(["Hello ", "from OpenAI."]) })
      const { events, exit } = yield* runEvents(chain.stream(request))
      assert.isTrue(Exit.isSuccess(exit))
      assert.notInclude(events.map(label), "discard")
      assert.strictEqual(events[0]!.type, "message_start")
      assert.deepStrictEqual(
        startOf(events).map((start) => [start.message.provider, start.message.model]),
        [["openai", "gpt-test"]]
      )
      assert.strictEqual(textOf(events), "Hello from OpenAI.")
      assert.strictEqual(anthropic.requests.length, 1)
      assert.strictEqual(openai.requests.length, 1)
      assert.strictEqual(chain.info.name, "fallback(anthropic, openai)")
      assert.strictEqual(chain.info.model, "claude-test")
    })
  )

  it.effect("a primary that fails after output: discard, then the secondary's turn; the fold keeps only it", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup()
      anthropic.enqueue({ sse: overloadedAfter(["Hello ", "from Anthro"]) })
      openai.enqueue({ sse: openaiText(["Hello ", "from OpenAI."]) })
      const { events, exit } = yield* runEvents(chain.stream(request))
      assert.isTrue(Exit.isSuccess(exit))
      const at = events.findIndex((event) => event.type === "discard")
      assert.deepStrictEqual(events.slice(0, at + 2).map(label), [
        "message_start",
        "content_block_start:text",
        "content_block_delta:text_delta",
        "content_block_delta:text_delta",
        "discard",
        "message_start"
      ])
      const discard = events[at] as StreamEvent.Discard
      assert.strictEqual(discard.attempt, 1)
      assert.include(discard.reason, "verloaded")
      assert.strictEqual(textOf(events.slice(0, at)), "Hello from Anthro")
      assert.strictEqual(textOf(events.slice(at + 1)), "Hello from OpenAI.")
      assert.deepStrictEqual(
        startOf(events).map((start) => start.message.provider),
        ["anthropic", "openai"]
      )

      const response = yield* Provider.collect(Stream.fromIterable(events))
      assert.strictEqual(response.text, "Hello from OpenAI.")
      assert.strictEqual(response.model, "gpt-test")
      assert.strictEqual(response.stopReason, "end_turn")
      // the dropped attempt was paid for: Anthropic's 10 in / 1 out, then OpenAI's 12 in / 2 out
      assert.deepStrictEqual(json(response.usage), json(Usage.make({ inputTokens: 22, outputTokens: 3 })))
    })
  )

  it.effect("a policy that does not name the failure does not fall back", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup({ on: ["RateLimited"] })
      anthropic.enqueue(overloaded)
      const error = errorOf(yield* Effect.exit(Stream.runDrain(chain.stream(request))))
      assert.instanceOf(error, HarnessError.ProviderError)
      assert.strictEqual((error as HarnessError.ProviderError).reason, "Overloaded")
      assert.strictEqual(openai.requests.length, 0)
    })
  )

  it.effect("a predicate policy decides by the failure itself", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup({
        on: (error) => error._tag === "ProviderError" && error.status === 529
      })
      anthropic.enqueue(overloaded, AnthropicServer.errorReply(500, "api_error", "Internal"))
      openai.enqueue({ sse: openaiText(["from OpenAI"]) })
      const first = yield* runEvents(chain.stream(request))
      assert.strictEqual(textOf(first.events), "from OpenAI")
      const error = errorOf(yield* Effect.exit(Stream.runDrain(chain.stream(request))))
      assert.strictEqual((error as HarnessError.ProviderError).reason, "ServerError")
      assert.strictEqual(openai.requests.length, 1, "a 500 did not move on")
      assert.strictEqual(anthropic.requests.length, 2, "every call starts at the primary")
    })
  )

  it.effect("an error on every provider fails with the last one, carrying that provider's partial output", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup()
      anthropic.enqueue({ sse: overloadedAfter(["Hello ", "from Anthro"]) })
      const dropped = openaiText(["Second ", "try ", "cut"])
      openai.enqueue({ sse: dropped, dropAfterBytes: OpenAIServer.bytesThroughMessage(dropped, 3) })
      const { events, exit } = yield* runEvents(chain.stream(request))
      const at = events.findIndex((event) => event.type === "discard")
      assert.isAbove(at, 0)
      assert.strictEqual(textOf(events.slice(at)), "Second try ")
      const last = errorOf(exit)
      assert.instanceOf(last, HarnessError.ProviderError)
      assert.strictEqual((last as HarnessError.ProviderError).reason, "Connection")
      assert.strictEqual((last as HarnessError.ProviderError).provider, "openai")

      // folded as it streams: the error carries what the last provider had sent
      anthropic.enqueue({ sse: overloadedAfter(["Hello"]) })
      openai.enqueue({ sse: dropped, dropAfterBytes: OpenAIServer.bytesThroughMessage(dropped, 3) })
      const failure = errorOf(yield* Effect.exit(Provider.collect(chain.stream(request))))
      assert.instanceOf(failure, HarnessError.ProviderError)
      assert.strictEqual((failure as HarnessError.ProviderError).reason, "Connection")
      assert.strictEqual((failure as HarnessError.ProviderError).partial?.text, "Second try ")
      assert.strictEqual(anthropic.requests.length, 2)
      assert.strictEqual(openai.requests.length, 2)
    })
  )

  it.effect("interrupting the stream while the secondary streams closes the secondary's socket", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup()
      anthropic.enqueue(overloaded)
      const stalled = openaiText(["Hello ", "never sent"])
      openai.enqueue({ sse: stalled, stallAfterBytes: OpenAIServer.bytesThroughMessage(stalled, 2) })
      const firstText = yield* Deferred.make<void>()
      const fiber = yield* chain.stream(request).pipe(
        Stream.runForEach((event) =>
          event.type === "content_block_delta" ? Deferred.succeed(firstText, undefined) : Effect.void
        ),
        Effect.forkChild
      )
      yield* Deferred.await(firstText)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* Effect.promise(() => openai.outcome(0)), "clientClosed")
      assert.strictEqual(yield* Effect.promise(() => anthropic.outcome(0)), "completed")
    })
  )

  it.effect("a member with attempts of its own is retried before the chain moves on", () =>
    Effect.gen(function* () {
      const anthropic = yield* AnthropicServer.make()
      const openai = yield* OpenAIServer.make()
      const primary = yield* built(anthropicLayer(anthropic))
      const secondary = yield* built(openaiLayer(openai))
      const chain = Provider.fallback([{ provider: primary, attempts: 2 }, secondary])
      anthropic.enqueue({ sse: overloadedAfter(["first"]) }, overloaded)
      openai.enqueue({ sse: openaiText(["answered"]) })
      const { events, exit } = yield* runEvents(chain.stream(request))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(anthropic.requests.length, 2)
      // the retry after output discarded it; the switch after the second (silent) attempt did not
      assert.deepStrictEqual(
        events.filter((event) => event.type === "discard").map((event) => (event as StreamEvent.Discard).attempt),
        [1]
      )
      assert.strictEqual(textOf(events.slice(events.findIndex((event) => event.type === "discard"))), "answered")
    })
  )

  it.effect("a member's schedule spaces its retries (on the TestClock), and when it ends the chain moves on", () =>
    Effect.gen(function* () {
      const anthropic = yield* AnthropicServer.make()
      const openai = yield* OpenAIServer.make()
      const primary = yield* built(anthropicLayer(anthropic))
      const secondary = yield* built(openaiLayer(openai))
      const chain = Provider.fallback([
        { provider: primary, schedule: Schedule.spaced("10 seconds").pipe(Schedule.upTo({ times: 1 })) },
        secondary
      ])
      anthropic.enqueue(overloaded, overloaded)
      openai.enqueue({ sse: openaiText(["after the schedule"]) })
      const fiber = yield* runEvents(chain.stream(request)).pipe(Effect.forkChild)
      yield* Effect.promise(() => anthropic.request(0))
      yield* TestClock.adjust(Duration.seconds(9))
      assert.strictEqual(anthropic.requests.length, 1, "no retry before the schedule's delay")
      yield* TestClock.adjust(Duration.seconds(1))
      const { events } = yield* Fiber.join(fiber)
      assert.strictEqual(anthropic.requests.length, 2)
      assert.strictEqual(textOf(events), "after the schedule")
    })
  )

  it.effect("a chain inside a chain: the turn names the provider that answered, not the inner chain", () =>
    Effect.gen(function* () {
      const anthropic = yield* AnthropicServer.make()
      const openai = yield* OpenAIServer.make()
      const inner = Provider.fallback([yield* built(anthropicLayer(anthropic))])
      const chain = Provider.fallback([inner, yield* built(openaiLayer(openai))])
      anthropic.enqueue({ sse: overloadedAfter(["partial"]) }, { sse: Faults.textSse(["from Anthropic"]) })
      openai.enqueue({ sse: openaiText(["from OpenAI"]) })
      const moved = yield* runEvents(chain.stream(request))
      assert.deepStrictEqual(
        startOf(moved.events).map((start) => start.message.provider),
        ["anthropic", "openai"]
      )
      assert.strictEqual(moved.events.filter((event) => event.type === "discard").length, 1)
      const stayed = yield* runEvents(chain.stream(request))
      assert.deepStrictEqual(
        startOf(stayed.events).map((start) => start.message.provider),
        ["anthropic"]
      )
      assert.strictEqual(textOf(stayed.events), "from Anthropic")
    })
  )

  it.effect("chat falls back too", () =>
    Effect.gen(function* () {
      const { anthropic, openai, chain } = yield* setup()
      anthropic.enqueue(overloaded)
      openai.enqueue({
        json: {
          id: "chatcmpl-chat",
          object: "chat.completion",
          created: 1_700_000_000,
          model: "gpt-test",
          choices: [{ index: 0, message: { role: "assistant", content: "chat answer" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }
        }
      })
      const response = yield* chain.chat(request)
      assert.strictEqual(response.text, "chat answer")
      assert.strictEqual(anthropic.requests.length, 1)
    })
  )

  it.effect("each provider gets a history it takes: unsigned thinking dropped, tool ids safe and still distinct", () =>
    Effect.gen(function* () {
      const { anthropic, chain } = yield* setup()
      anthropic.enqueue({ sse: Faults.textSse(["ok"]) })
      const history: Provider.Request = {
        messages: [
          { role: "user", content: [{ type: "text", text: "q1" }] },
          // all an OpenAI-compatible server's reasoning leaves: no signature
          { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "" }] },
          { role: "user", content: [{ type: "text", text: "q2" }] },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "signed", signature: "sig-1" },
              { type: "thinking", thinking: "unsigned", signature: "" },
              { type: "tool_use", id: "a.b", name: "sql", input: {} },
              { type: "tool_use", id: "a:b", name: "sql", input: {} },
              { type: "tool_use", id: "call_ok-1", name: "sql", input: {} }
            ]
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "a.b", content: "1" },
              { type: "tool_result", tool_use_id: "a:b", content: "2" },
              { type: "tool_result", tool_use_id: "call_ok-1", content: "3" }
            ]
          },
          { role: "user", content: [{ type: "text", text: "q3" }] }
        ],
        tools: []
      }
      const before = json(history)
      yield* Stream.runDrain(chain.stream(chain.formatCacheControl(history)))
      assert.deepStrictEqual(json(history), before, "the caller's request is not changed")

      const sent = (yield* Effect.promise(() => anthropic.request(0))).body.messages
      assert.deepStrictEqual(
        sent.map((message: { role: string; content: Array<{ type: string }> }) => [
          message.role,
          message.content.map((block) => block.type)
        ]),
        [
          ["user", ["text", "text"]],
          ["assistant", ["thinking", "tool_use", "tool_use", "tool_use"]],
          ["user", ["tool_result", "tool_result", "tool_result", "text"]]
        ]
      )
      const ids = sent[1].content.slice(1).map((block: { id: string }) => block.id)
      for (const id of ids) assert.match(id, /^[a-zA-Z0-9_-]+$/)
      assert.strictEqual(new Set(ids).size, 3)
      assert.strictEqual(ids[2], "call_ok-1", "a safe id is kept as it is")
      assert.deepStrictEqual(
        sent[2].content.slice(0, 3).map((block: { tool_use_id: string }) => block.tool_use_id),
        ids
      )
      assert.strictEqual(sent[1].content[0].signature, "sig-1")
      // the chain's cache marking is Anthropic's own for the Anthropic member
      assert.deepStrictEqual(sent[2].content[3].cache_control, { type: "ephemeral" })
    })
  )

  it.effect("an invalid chain is an InvalidOptions: no layers, an unknown failure, attempts below 1", () =>
    Effect.gen(function* () {
      const empty = errorOf(yield* Effect.exit(built(Provider.layerFallback([] as never))))
      assert.instanceOf(empty, HarnessError.InvalidOptions)
      assert.strictEqual((empty as HarnessError.InvalidOptions).option, "fallback")

      const anthropic = yield* AnthropicServer.make()
      const unknown = errorOf(
        yield* Effect.exit(built(Provider.layerFallback([anthropicLayer(anthropic)], { on: ["Busy" as never] })))
      )
      assert.strictEqual((unknown as HarnessError.InvalidOptions).option, "fallback.on")

      const primary = yield* built(anthropicLayer(anthropic))
      const chain = Provider.fallback([{ provider: primary, attempts: 0 }])
      const error = errorOf(yield* Effect.exit(Stream.runDrain(chain.stream(request))))
      assert.strictEqual((error as HarnessError.InvalidOptions).option, "fallback[0].attempts")
      assert.strictEqual(anthropic.requests.length, 0)
    })
  )
})

describe("Provider.collect and discard", () => {
  it.effect("a discard starts the turn over from the next message_start and keeps the dropped usage", () =>
    Effect.gen(function* () {
      const events = [
        ...json(Faults.textEvents(["dropped"]).slice(0, 3)),
        { type: "discard", attempt: 1, reason: "overloaded" },
        ...json(Faults.textEvents(["kept"], { id: "msg_kept" }))
      ] as Array<StreamEvent.ProviderEvent>
      const response = yield* Provider.collect(Stream.fromIterable(events))
      assert.strictEqual(response.text, "kept")
      assert.strictEqual(response.id, "msg_kept")
      assert.strictEqual(response.content.length, 1)
      assert.deepStrictEqual(
        json(response.usage),
        json(Usage.make({ inputTokens: 20, outputTokens: 3 })),
        "the dropped attempt's 10 in / 1 out, the kept one's 10 in / 2 out"
      )
    })
  )
})

describe("RunResult.answeredBy", () => {
  it("encodes and decodes back equal; a result encoded before the field existed decodes with none", () => {
    const result = new RunResult.RunResult({
      text: "done",
      status: "completed",
      turns: 2,
      attempts: 3,
      stopReason: "end_turn",
      usage: Usage.empty,
      answeredBy: [
        { provider: "openai", model: "gpt-test" },
        { provider: "anthropic", model: "claude-test" }
      ]
    })
    const encoded = Schema.encodeSync(RunResult.RunResult)(result)
    assert.deepStrictEqual(Schema.decodeUnknownSync(RunResult.RunResult)(JSON.parse(JSON.stringify(encoded))), result)
    const { answeredBy: _, ...older } = encoded
    assert.deepStrictEqual(Schema.decodeUnknownSync(RunResult.RunResult)(older).answeredBy, [])
    assert.throws(() =>
      Schema.decodeUnknownSync(RunResult.RunResult)({ ...encoded, answeredBy: [{ provider: "openai" }] })
    )
  })
})
