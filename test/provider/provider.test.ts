import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import * as fc from "fast-check"
import { HarnessError, Message, Mock, NormalizedResponse, Provider, type StreamEvent, Usage } from "../../src/index.js"

/** A value as plain JSON, so class instances and key order do not matter in comparisons. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

// arbitraries

const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 })

const block: fc.Arbitrary<Message.ContentBlock> = fc.oneof(
  fc.record({ type: fc.constant("text" as const), text: fc.string({ maxLength: 60 }) }),
  fc.record({
    type: fc.constant("text" as const),
    text: fc.string({ minLength: 1, maxLength: 60 }),
    citations: fc.array(
      fc.record({
        type: fc.constant("char_location"),
        cited_text: fc.string({ maxLength: 20 }),
        document_index: fc.nat(5),
        start_char_index: fc.nat(100),
        end_char_index: fc.nat(100)
      }),
      { minLength: 1, maxLength: 3 }
    )
  }),
  // server tool blocks the harness keeps opaque
  fc.record({
    type: fc.constant("server_tool_use"),
    id: fc.string({ minLength: 1, maxLength: 8 }).map((s) => `srvtoolu_${s}`),
    name: fc.constant("web_search"),
    input: jsonObject
  }),
  fc.record({
    type: fc.constant("web_search_tool_result"),
    tool_use_id: fc.string({ minLength: 1, maxLength: 8 }),
    content: fc.array(fc.record({ type: fc.constant("web_search_result"), url: fc.webUrl(), title: fc.string() }), {
      maxLength: 2
    })
  }),
  fc.record({
    type: fc.constant("tool_use" as const),
    id: fc.string({ minLength: 1, maxLength: 12 }).map((s) => `toolu_${s}`),
    name: fc.stringMatching(/^[a-z_]{1,12}$/),
    input: jsonObject
  }),
  fc.record({
    type: fc.constant("thinking" as const),
    thinking: fc.string({ maxLength: 60 }),
    signature: fc.string({ minLength: 1, maxLength: 20 })
  }),
  fc.record({ type: fc.constant("redacted_thinking" as const), data: fc.string({ minLength: 1, maxLength: 20 }) })
)

const counter = fc.nat({ max: 1_000_000 })

const response: fc.Arbitrary<NormalizedResponse.NormalizedResponse> = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 10 }).map((s) => `msg_${s}`),
    model: fc.string({ minLength: 1, maxLength: 10 }),
    stopReason: fc.constantFrom(...NormalizedResponse.StopReason.literals),
    stopSequence: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
    content: fc.array(block, { maxLength: 6 }),
    usage: fc
      .record({ inputTokens: counter, outputTokens: counter, cacheReadTokens: counter, cacheWriteTokens: counter })
      .map((u) => Usage.make(u))
  })
  .map((fields) => new NormalizedResponse.NormalizedResponse(fields))

const chunkSize = fc.option(fc.integer({ min: 0, max: 16 }), { nil: undefined })

// helpers

const usage = Usage.make({ inputTokens: 10, outputTokens: 4 })

const toolTurn = (
  jsonParts: ReadonlyArray<string>,
  options: { readonly stopReason?: string; readonly stop?: boolean } = {}
): Array<StreamEvent.ProviderEvent> => {
  const events: Array<Record<string, unknown>> = [
    {
      type: "message_start",
      message: { id: "msg_1", type: "message", role: "assistant", model: "m", content: [], usage: { input_tokens: 10 } }
    },
    {
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id: "toolu_1", name: "mean", input: {} }
    },
    ...jsonParts.map((partial_json) => ({
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json }
    })),
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: options.stopReason ?? "tool_use", stop_sequence: null },
      usage: { output_tokens: 4 }
    }
  ]
  if (options.stop !== false) events.push({ type: "message_stop" })
  return events as Array<StreamEvent.ProviderEvent>
}

const collectExit = (events: ReadonlyArray<StreamEvent.ProviderEvent>) =>
  Effect.exit(Provider.collect(Stream.fromArray(events), "test"))

const assertInvalidResponse = (exit: Exit.Exit<unknown, unknown>, mentions: string): HarnessError.ProviderError => {
  assert.isTrue(Exit.isFailure(exit), "expected the fold to fail")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error, "expected a typed failure, not a defect")
  const failure = (error as { readonly error: unknown }).error
  assert.instanceOf(failure, HarnessError.ProviderError)
  const providerError = failure as HarnessError.ProviderError
  assert.strictEqual(providerError.reason, "InvalidResponse")
  assert.include(providerError.message, mentions)
  return providerError
}

// tests

describe("Provider.synthesize and Provider.collect", () => {
  it("a synthesised stream folds back to the same response", () => {
    fc.assert(
      fc.property(response, chunkSize, (original, size) => {
        const events = Provider.synthesize(original, { chunkSize: size })
        const collected = Effect.runSync(Provider.collect(Stream.fromArray(events)))
        assert.deepStrictEqual(plain(collected), plain(original))
        assert.strictEqual(collected.text, original.text)
      }),
      { numRuns: 300 }
    )
  })

  it("a synthesised stream has the standard event order", () => {
    fc.assert(
      fc.property(response, chunkSize, (original, size) => {
        const types = Provider.synthesize(original, { chunkSize: size }).map((event) => event.type)
        assert.strictEqual(types[0], "message_start")
        assert.deepStrictEqual(types.slice(-2), ["message_delta", "message_stop"])
        assert.strictEqual(types.filter((t) => t === "content_block_start").length, original.content.length)
        assert.strictEqual(types.filter((t) => t === "content_block_stop").length, original.content.length)
      }),
      { numRuns: 100 }
    )
  })

  it.effect("chunkSize splits text into deltas of that many characters", () =>
    Effect.gen(function* () {
      const original = new NormalizedResponse.NormalizedResponse({
        stopReason: "end_turn",
        content: [Message.text("abcdefghij")],
        usage
      })
      const deltas = Provider.synthesize(original, { chunkSize: 4 }).flatMap((event) =>
        event.type === "content_block_delta" && event.delta.type === "text_delta"
          ? [(event.delta as typeof StreamEvent.TextDelta.Type).text]
          : []
      )
      assert.deepStrictEqual(deltas, ["abcd", "efgh", "ij"])
    })
  )
})

describe("Provider.make", () => {
  const chatResponse = new NormalizedResponse.NormalizedResponse({
    id: "msg_chat",
    model: "chat-only",
    stopReason: "tool_use",
    stopSequence: null,
    content: [
      Message.text("Computing."),
      { type: "tool_use", id: "toolu_9", name: "mean", input: { values: [1, 2, 3] } }
    ],
    usage
  })

  it.effect("without a stream, synthesises one from chat and says it does not stream", () =>
    Effect.gen(function* () {
      const requests: Array<Provider.Request> = []
      const service = Provider.make({
        name: "chat-only",
        model: "chat-only",
        chat: (request) =>
          Effect.sync(() => {
            requests.push(request)
            return chatResponse
          })
      })
      assert.isFalse(service.info.supportsStreaming)
      assert.strictEqual(service.info.name, "chat-only")
      const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }
      const events = yield* Stream.runCollect(service.stream(request))
      assert.deepStrictEqual(
        events.map((event) => event.type),
        Provider.synthesize(chatResponse).map((event) => event.type)
      )
      const collected = yield* Provider.collect(service.stream(request))
      assert.deepStrictEqual(plain(collected), plain(chatResponse))
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[0], request)
    })
  )

  it.effect("with a stream, says it streams", () =>
    Effect.gen(function* () {
      const service = Provider.make({
        name: "streaming",
        model: "m",
        chat: () => Effect.succeed(chatResponse),
        stream: () => Stream.fromArray(Provider.synthesize(chatResponse))
      })
      assert.isTrue(service.info.supportsStreaming)
    })
  )

  it.effect("a failing chat fails the synthesised stream with the same error", () =>
    Effect.gen(function* () {
      const error = new HarnessError.ProviderError({ reason: "Overloaded", provider: "p", message: "busy" })
      const service = Provider.make({ name: "p", model: "m", chat: () => Effect.fail(error) })
      const failure = yield* Effect.flip(Stream.runCollect(service.stream({ messages: [], tools: [] })))
      assert.strictEqual(failure, error)
    })
  )
})

describe("Provider.collect failures and completions", () => {
  it.effect("tool input that is not a JSON prefix is an InvalidResponse ProviderError", () =>
    Effect.gen(function* () {
      const exit = yield* collectExit(toolTurn(['{"values": [1, 2]', "}}"]))
      const error = assertInvalidResponse(exit, "not valid JSON")
      assert.include(error.message, "mean")
      const garbage = yield* collectExit(toolTurn(['{"values": nope}']))
      assertInvalidResponse(garbage, "not valid JSON")
    })
  )

  it.effect("tool input cut short by max_tokens is completed the way the SDK does", () =>
    Effect.gen(function* () {
      const collected = yield* Provider.collect(
        Stream.fromArray(toolTurn(['{"values": [1, 2, 3], "la', 'bel": "avera'], { stopReason: "max_tokens" }))
      )
      assert.strictEqual(collected.stopReason, "max_tokens")
      const use = Message.toolUses(collected.content)[0]
      assert.deepStrictEqual(use?.input, { values: [1, 2, 3] })
      assert.deepStrictEqual(
        collected.usage,
        Usage.make({ inputTokens: 10, outputTokens: 4 }),
        "usage counters are replaced as they arrive"
      )
    })
  )

  it.effect("a turn's usage is its wire counters applied as Usage.merge applies them", () =>
    Effect.gen(function* () {
      const counter = fc.option(fc.nat(), { nil: null })
      const wire = fc.record(
        {
          input_tokens: counter,
          output_tokens: counter,
          cache_read_input_tokens: counter,
          cache_creation_input_tokens: counter
        },
        { requiredKeys: [] }
      )
      const samples = fc.sample(fc.tuple(fc.option(wire, { nil: undefined }), fc.option(wire)), 200)
      for (const [start, delta] of samples) {
        const events = toolTurn(["{}"]).map((event) => {
          if (event.type === "message_start") {
            const { usage: _, ...message } = event.message
            return { ...event, message: start === undefined ? message : { ...message, usage: start } }
          }
          return event.type === "message_delta" ? { ...event, usage: delta } : event
        }) as Array<StreamEvent.ProviderEvent>
        const collected = yield* Provider.collect(Stream.fromArray(events))
        assert.deepStrictEqual(collected.usage, Usage.merge(Usage.merge(Usage.empty, start), delta))
      }
    })
  )

  it.effect("tool input cut short without max_tokens fails", () =>
    Effect.gen(function* () {
      const exit = yield* collectExit(toolTurn(['{"values": [1, 2'], { stopReason: "end_turn" }))
      assertInvalidResponse(exit, "incomplete JSON")
    })
  )

  it.effect("a stream without message_stop fails", () =>
    Effect.gen(function* () {
      const exit = yield* collectExit(toolTurn(['{"values": [1]}'], { stop: false }))
      assertInvalidResponse(exit, "without message_stop")
      const empty = yield* collectExit([])
      assertInvalidResponse(empty, "before message_start")
    })
  )

  it.effect("empty tool input means {}", () =>
    Effect.gen(function* () {
      const noDeltas = yield* Provider.collect(Stream.fromArray(toolTurn([])))
      assert.deepStrictEqual(Message.toolUses(noDeltas.content)[0]?.input, {})
      const emptyDelta = yield* Provider.collect(Stream.fromArray(toolTurn([""])))
      assert.deepStrictEqual(Message.toolUses(emptyDelta.content)[0]?.input, {})
    })
  )

  it.effect("tool input split across deltas is joined before parsing", () =>
    Effect.gen(function* () {
      const collected = yield* Provider.collect(Stream.fromArray(toolTurn(['{"val', 'ues": [1, ', "2.5e1]}"])))
      assert.deepStrictEqual(Message.toolUses(collected.content)[0]?.input, { values: [1, 25] })
    })
  )

  it.effect("a delta for a block that was never started fails", () =>
    Effect.gen(function* () {
      const events = toolTurn(["{}"]).filter((event) => event.type !== "content_block_start")
      const exit = yield* collectExit(events)
      assertInvalidResponse(exit, "never started")
    })
  )
})

describe("Provider.formatCacheControl", () => {
  const ephemeral = { type: "ephemeral" }

  const request: Provider.Request = {
    system: "You are a data analyst.",
    messages: [
      Message.user("First question"),
      {
        role: "assistant",
        content: [Message.text("Let me look."), { type: "tool_use", id: "toolu_1", name: "sql", input: {} }]
      },
      {
        role: "user",
        content: [Message.toolResult("toolu_1", "42"), Message.text("And also this.")]
      }
    ],
    tools: [{ name: "sql", description: "Run SQL", input_schema: { type: "object" } }]
  }

  it("marks a string system prompt and the last block of the final user message", () => {
    const before = structuredClone(request)
    const formatted = Provider.formatCacheControl(request)
    assert.deepStrictEqual(formatted.system, [
      { type: "text", text: "You are a data analyst.", cache_control: ephemeral }
    ])
    const last = formatted.messages[2]!
    assert.deepStrictEqual(last.content[1], { type: "text", text: "And also this.", cache_control: ephemeral })
    assert.deepStrictEqual(last.content[0], request.messages[2]!.content[0], "only the last block is marked")
    assert.deepStrictEqual(formatted.messages.slice(0, 2), request.messages.slice(0, 2))
    assert.notInclude(JSON.stringify(formatted.messages.slice(0, 2)), "cache_control")
    assert.deepStrictEqual(formatted.tools, request.tools)
    // the input is not mutated
    assert.deepStrictEqual(request, before)
  })

  it("marks only the last block of a block system prompt", () => {
    const blocks: Provider.Request = {
      ...request,
      system: [Message.text("Part one."), Message.text("Part two.")]
    }
    const before = structuredClone(blocks)
    const formatted = Provider.formatCacheControl(blocks)
    assert.deepStrictEqual(formatted.system, [
      { type: "text", text: "Part one." },
      { type: "text", text: "Part two.", cache_control: ephemeral }
    ])
    assert.deepStrictEqual(blocks, before)
  })

  it("marks the final user message even when an assistant message follows it", () => {
    const prefilled: Provider.Request = {
      messages: [Message.user("Question"), Message.assistant("Partial answer")],
      tools: []
    }
    const before = structuredClone(prefilled)
    const formatted = Provider.formatCacheControl(prefilled)
    assert.isUndefined(formatted.system)
    assert.deepStrictEqual(formatted.messages, [
      { role: "user", content: [{ type: "text", text: "Question", cache_control: ephemeral }] },
      Message.assistant("Partial answer")
    ])
    assert.deepStrictEqual(prefilled, before)
  })

  it("formatting twice gives the same request (byte-stable)", () => {
    const once = Provider.formatCacheControl(request)
    const again = Provider.formatCacheControl(request)
    assert.strictEqual(JSON.stringify(once), JSON.stringify(again))
  })
})

describe("Mock.fail", () => {
  const error = new HarnessError.ProviderError({
    reason: "Overloaded",
    provider: "mock",
    message: "Overloaded.",
    partial: HarnessError.emptyPartial
  })
  const streamed = (afterText: string | undefined) =>
    Effect.gen(function* () {
      const { service } = yield* Mock.make({ turns: [Mock.fail(error, afterText)] })
      const events: Array<StreamEvent.ProviderEvent> = []
      const exit = yield* Effect.exit(
        Stream.runForEach(service.stream({ messages: [Message.user("hi")], tools: [] }), (event) =>
          Effect.sync(() => events.push(event))
        )
      )
      assert.deepStrictEqual(exit, Exit.fail(error))
      return events.map((event) => event.type)
    })

  it.effect("fails mid-turn: after its text, before anything that ends the block or the message", () =>
    Effect.gen(function* () {
      const types = yield* streamed("Hel")
      assert.deepStrictEqual(types.slice(0, 2), ["message_start", "content_block_start"])
      assert.isAbove(types.filter((type) => type === "content_block_delta").length, 0)
      for (const type of ["content_block_stop", "message_delta", "message_stop"]) assert.notInclude(types, type)
      // empty text: the failure comes right after the message starts, not after a whole turn
      const empty = yield* streamed("")
      for (const type of ["content_block_stop", "message_delta", "message_stop"]) assert.notInclude(empty, type)
      assert.strictEqual(empty[0], "message_start")
      assert.deepStrictEqual(yield* streamed(undefined), [])
    })
  )
})
