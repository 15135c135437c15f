/**
 * The OpenAI-compatible provider against a local Chat Completions server: `OpenAI.layer` (the real
 * `openai` SDK over real sockets) turning streams into Anthropic-shaped events, folding them,
 * mapping errors, and building requests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Duration, Effect, Exit, Layer, Stream } from "effect"
import { HarnessError, type Message, Provider, StreamEvent } from "../../../src/index.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

const KEY = "sk-proj-TEST-openai-do-not-leak-77aa"
const MODEL = "gpt-test"

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const serverWith = (...replies: ReadonlyArray<OpenAIServer.Script>) =>
  Effect.tap(OpenAIServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

const ask = (text = "hi"): Provider.Request => ({
  messages: [{ role: "user", content: [{ type: "text", text }] }],
  tools: []
})

const weatherTool: Provider.ToolDefinition = {
  name: "get_weather",
  description: "The weather at a place.",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
}

const service = Effect.gen(function* () {
  return yield* Provider.Provider
})

/** The provider service on `server`, with `options` added. */
const providerOn = (server: OpenAIServer.OpenAIServer, options: Partial<OpenAI.Options> = {}) =>
  Effect.provide(service, OpenAI.layer({ model: MODEL, apiKey: KEY, baseURL: server.url, ...options }))

/** Streams one turn; returns its events and how the stream ended. */
const streamTurn = (provider: Provider.Service, request: Provider.Request = ask()) =>
  Effect.suspend(() => {
    const events: Array<StreamEvent.ProviderEvent> = []
    return provider.stream(request).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.exit,
      Effect.map((exit) => ({ events: json(events), exit }))
    )
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  return Cause.squash(exit.cause) as E
}

const providerErrorOf = <A, E>(exit: Exit.Exit<A, E>): HarnessError.ProviderError => {
  const error = failureOf(exit)
  assert.instanceOf(error, HarnessError.ProviderError)
  return error as unknown as HarnessError.ProviderError
}

/** Every event decodes with the wire decoder, and the events fold into a response. */
const foldChecked = (events: ReadonlyArray<StreamEvent.ProviderEvent>) => {
  for (const event of events) assert.strictEqual(StreamEvent.decodeWire(event)._tag, "Event", JSON.stringify(event))
  return Provider.collect(Stream.fromIterable(events), "openai")
}

const label = (event: StreamEvent.ProviderEvent): string =>
  event.type === "content_block_start"
    ? `start:${event.index}:${event.content_block.type}`
    : event.type === "content_block_delta"
      ? `delta:${event.index}:${event.delta.type}`
      : event.type === "content_block_stop"
        ? `stop:${event.index}`
        : event.type

describe("OpenAI provider: streams as Anthropic turns", () => {
  it.live("a text answer is message_start, one text block, message_delta, message_stop", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse(
        OpenAIServer.textChunks(["Hello", ", wor", "ld."], { id: "chatcmpl-abc", usage: { prompt: 30, completion: 3 } })
      )
      const server = yield* serverWith({ sse, chunkSize: 3 })
      const { events, exit } = yield* streamTurn(yield* providerOn(server))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(json<unknown>(events), [
        {
          type: "message_start",
          message: {
            id: "chatcmpl-abc",
            type: "message",
            role: "assistant",
            model: MODEL,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 0, output_tokens: 0 }
          }
        },
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: ", wor" } },
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "ld." } },
        { type: "content_block_stop", index: 0 },
        {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { input_tokens: 30, output_tokens: 3, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
        },
        { type: "message_stop" }
      ])
      const response = yield* foldChecked(events)
      assert.strictEqual(response.text, "Hello, world.")
      assert.strictEqual(response.stopReason, "end_turn")
      assert.strictEqual(response.id, "chatcmpl-abc")
    })
  )

  it.live("one tool call with arguments split inside strings, escapes and numbers is one tool_use block", () =>
    Effect.gen(function* () {
      const input = { location: 'Zürich "old town" \\ ☕', days: 14, threshold: -25.5, tags: ["a", true, null] }
      const whole = JSON.stringify(input)
      // cut every 3 characters: inside keys, strings, escapes, multi-byte characters and numbers
      const pieces = whole.match(/[\s\S]{1,3}/g)!
      const sse = OpenAIServer.sse(OpenAIServer.toolCallChunks([{ id: "call_1", name: "get_weather", pieces }]))
      const server = yield* serverWith({ sse, chunkSize: 1 })
      const { events, exit } = yield* streamTurn(yield* providerOn(server), { ...ask(), tools: [weatherTool] })
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(events.map(label), [
        "message_start",
        "start:0:tool_use",
        ...pieces.map(() => "delta:0:input_json_delta"),
        "stop:0",
        "message_delta",
        "message_stop"
      ])
      const start = events[1] as StreamEvent.ContentBlockStart
      assert.deepStrictEqual(json<unknown>(start.content_block), {
        type: "tool_use",
        id: "call_1",
        name: "get_weather",
        input: {}
      })
      const response = yield* foldChecked(events)
      assert.strictEqual(response.stopReason, "tool_use")
      assert.deepStrictEqual(json<unknown>(response.content), [
        { type: "tool_use", id: "call_1", name: "get_weather", input }
      ])
    })
  )

  it.live("parallel tool calls are one tool_use block each, in index order, each closed before the next", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse(
        OpenAIServer.toolCallChunks([
          { id: "call_a", name: "get_weather", pieces: ['{"loc', 'ation": "Par', 'is"}'] },
          { id: "call_b", name: "get_weather", pieces: ['{"location":', ' "Oslo"', "}"] }
        ])
      )
      const server = yield* serverWith({ sse, chunkSize: 5 })
      const { events } = yield* streamTurn(yield* providerOn(server), { ...ask(), tools: [weatherTool] })
      assert.deepStrictEqual(events.map(label), [
        "message_start",
        "start:0:tool_use",
        "delta:0:input_json_delta",
        "delta:0:input_json_delta",
        "delta:0:input_json_delta",
        "stop:0",
        "start:1:tool_use",
        "delta:1:input_json_delta",
        "delta:1:input_json_delta",
        "delta:1:input_json_delta",
        "stop:1",
        "message_delta",
        "message_stop"
      ])
      const response = yield* foldChecked(events)
      assert.deepStrictEqual(json<unknown>(response.content), [
        { type: "tool_use", id: "call_a", name: "get_weather", input: { location: "Paris" } },
        { type: "tool_use", id: "call_b", name: "get_weather", input: { location: "Oslo" } }
      ])
    })
  )

  it.live("interleaved parallel calls keep each block open until its arguments are whole: nothing is cut", () =>
    Effect.gen(function* () {
      const call = (index: number, fields: Record<string, unknown>) =>
        OpenAIServer.chunk({ tool_calls: [{ index, ...fields }] })
      const sse = OpenAIServer.sse([
        call(0, { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"location": ' } }),
        call(1, { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"location": ' } }),
        call(0, { function: { arguments: '"Paris"}' } }),
        call(1, { function: { arguments: '"Oslo"}' } }),
        OpenAIServer.chunk({}, "tool_calls")
      ])
      const server = yield* serverWith({ sse })
      const { events } = yield* streamTurn(yield* providerOn(server), { ...ask(), tools: [weatherTool] })
      const response = yield* foldChecked(events)
      assert.deepStrictEqual(json<unknown>(response.content), [
        { type: "tool_use", id: "call_a", name: "get_weather", input: { location: "Paris" } },
        { type: "tool_use", id: "call_b", name: "get_weather", input: { location: "Oslo" } }
      ])
    })
  )

  it.live("a usage-only final chunk after finish_reason gives the usage: uncached input, output, cache reads", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse([
        OpenAIServer.chunk({ role: "assistant", content: "Hi" }),
        OpenAIServer.chunk({}, "stop"),
        OpenAIServer.usageChunk({ prompt: 1200, completion: 7, cached: 1024 }),
        // a trailing chunk with `usage: null` (OpenAI's moderation chunk) must not erase it
        { ...OpenAIServer.usageChunk({ prompt: 0, completion: 0 }), usage: null }
      ])
      const server = yield* serverWith({ sse })
      const { events } = yield* streamTurn(yield* providerOn(server))
      const response = yield* foldChecked(events)
      assert.deepStrictEqual(json(response.usage), {
        inputTokens: 176,
        outputTokens: 7,
        cacheReadTokens: 1024,
        cacheWriteTokens: 0
      })
    })
  )

  it.live("reasoning_content, reasoning and reasoning_details each become one thinking block, never doubled", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<Record<string, unknown>>]> = [
        ["reasoning_content", [{ reasoning_content: "Let me " }, { reasoning_content: "think." }]],
        ["reasoning", [{ reasoning: "Let me " }, { reasoning: "think." }]],
        [
          "reasoning with the same text in reasoning_details",
          [
            { reasoning: "Let me ", reasoning_details: [{ type: "reasoning.text", text: "Let me " }] },
            { reasoning: "think.", reasoning_details: [{ type: "reasoning.text", text: "think." }] }
          ]
        ],
        [
          "reasoning_details only, with a signature",
          [
            { reasoning_details: [{ type: "reasoning.text", text: "Let me " }] },
            { reasoning_details: [{ type: "reasoning.text", text: "think." }] },
            { reasoning_details: [{ type: "reasoning.text", signature: "sig-123" }] }
          ]
        ],
        [
          "Mistral thinking parts",
          [
            { content: [{ type: "thinking", thinking: [{ type: "text", text: "Let me " }] }] },
            { content: [{ type: "thinking", thinking: [{ type: "text", text: "think." }] }] }
          ]
        ]
      ]
      for (const [name, deltas] of cases) {
        const sse = OpenAIServer.sse([
          ...deltas.map((delta) => OpenAIServer.chunk(delta)),
          OpenAIServer.chunk({ content: "4" }),
          OpenAIServer.chunk({}, "stop")
        ])
        const server = yield* serverWith({ sse, chunkSize: 4 })
        const { events } = yield* streamTurn(yield* providerOn(server))
        const response = yield* foldChecked(events)
        const thinking = response.content.filter((block) => block.type === "thinking") as Array<Message.ThinkingBlock>
        assert.strictEqual(thinking.length, 1, name)
        assert.strictEqual(thinking[0]!.thinking, "Let me think.", name)
        assert.strictEqual(thinking[0]!.signature, name.includes("signature") ? "sig-123" : "", name)
        assert.strictEqual(response.text, "4", name)
        assert.deepStrictEqual(
          response.content.map((block) => block.type),
          ["thinking", "text"],
          name
        )
      }
    })
  )

  it.live("encrypted reasoning_details become a redacted_thinking block", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse([
        OpenAIServer.chunk({ reasoning_details: [{ type: "reasoning.encrypted", data: "gAAAA-secret" }] }),
        OpenAIServer.chunk({ content: "Done." }),
        OpenAIServer.chunk({}, "stop")
      ])
      const server = yield* serverWith({ sse })
      const { events } = yield* streamTurn(yield* providerOn(server))
      const response = yield* foldChecked(events)
      assert.deepStrictEqual(json(response.content), [
        { type: "redacted_thinking", data: "gAAAA-secret" },
        { type: "text", text: "Done." }
      ])
    })
  )

  it.live("a refusal is text and stops with refusal; content_filter also stops with refusal", () =>
    Effect.gen(function* () {
      const refusal = OpenAIServer.sse([
        OpenAIServer.chunk({ role: "assistant", content: null, refusal: "I can't " }),
        OpenAIServer.chunk({ refusal: "help with that." }),
        OpenAIServer.chunk({}, "stop")
      ])
      const filtered = OpenAIServer.sse(OpenAIServer.textChunks(["Partial"], { finish: "content_filter" }))
      const server = yield* serverWith({ sse: refusal }, { sse: filtered })
      const provider = yield* providerOn(server)
      const first = yield* foldChecked((yield* streamTurn(provider)).events)
      assert.strictEqual(first.text, "I can't help with that.")
      assert.strictEqual(first.stopReason, "refusal")
      const second = yield* foldChecked((yield* streamTurn(provider)).events)
      assert.strictEqual(second.text, "Partial")
      assert.strictEqual(second.stopReason, "refusal")
    })
  )

  it.live("finish_reason length stops with max_tokens; a tool call cut short is completed as a JSON prefix", () =>
    Effect.gen(function* () {
      const text = OpenAIServer.sse(OpenAIServer.textChunks(["Once upon"], { finish: "length" }))
      const cut = OpenAIServer.sse([
        OpenAIServer.chunk({
          tool_calls: [
            {
              index: 0,
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"location": "Par' }
            }
          ]
        }),
        OpenAIServer.chunk({}, "length")
      ])
      const server = yield* serverWith({ sse: text }, { sse: cut })
      const provider = yield* providerOn(server)
      const first = yield* foldChecked((yield* streamTurn(provider)).events)
      assert.strictEqual(first.stopReason, "max_tokens")
      assert.strictEqual(first.text, "Once upon")
      const second = yield* foldChecked((yield* streamTurn(provider, { ...ask(), tools: [weatherTool] })).events)
      assert.strictEqual(second.stopReason, "max_tokens")
      assert.deepStrictEqual(json(second.content), [{ type: "tool_use", id: "call_1", name: "get_weather", input: {} }])
    })
  )

  it.live("vLLM's stop_reason string is the matched stop sequence", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse([
        OpenAIServer.chunk({ content: "SELECT 1" }),
        {
          ...OpenAIServer.chunk({}, "stop"),
          choices: [{ index: 0, delta: {}, finish_reason: "stop", stop_reason: ";" }]
        }
      ])
      const server = yield* serverWith({ sse })
      const response = yield* foldChecked((yield* streamTurn(yield* providerOn(server))).events)
      assert.strictEqual(response.stopReason, "stop_sequence")
      assert.strictEqual(response.stopSequence, ";")
    })
  )

  it.live("with raw: true every chunk is on exactly one event, in order", () =>
    Effect.gen(function* () {
      const chunks = OpenAIServer.textChunks(["a", "b"])
      const prelude = { id: "", object: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] }
      const sse = OpenAIServer.sse([prelude, ...chunks])
      const server = yield* serverWith({ sse })
      const { events } = yield* streamTurn(yield* providerOn(server, { raw: true }))
      const carried = events.flatMap((event) => ((event as { raw?: Array<unknown> }).raw ?? []) as Array<unknown>)
      assert.deepStrictEqual(carried, [prelude, ...chunks])
      assert.deepStrictEqual((events[0] as { raw?: Array<unknown> }).raw, [prelude, chunks[0]])
    })
  )

  it.live("chat() folds a whole completion the same way: text, tool calls with parsed input, usage", () =>
    Effect.gen(function* () {
      const completion = {
        id: "chatcmpl-whole",
        object: "chat.completion",
        model: "gpt-test-2025",
        choices: [
          {
            index: 0,
            finish_reason: "tool_calls",
            message: {
              role: "assistant",
              content: "Let me look.",
              reasoning_content: "Weather needs a tool.",
              tool_calls: [
                { id: "call_x", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome"}' } },
                { id: "call_y", type: "function", function: { name: "get_weather", arguments: '{"location":"Bern"}' } }
              ]
            }
          }
        ],
        usage: { prompt_tokens: 50, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 10 } }
      }
      const server = yield* serverWith({ json: completion })
      const provider = yield* providerOn(server)
      const response = yield* provider.chat({ ...ask(), tools: [weatherTool] })
      assert.strictEqual(response.id, "chatcmpl-whole")
      assert.strictEqual(response.model, "gpt-test-2025")
      assert.strictEqual(response.stopReason, "tool_use")
      assert.deepStrictEqual(json(response.content), [
        { type: "thinking", thinking: "Weather needs a tool.", signature: "" },
        { type: "text", text: "Let me look." },
        { type: "tool_use", id: "call_x", name: "get_weather", input: { location: "Rome" } },
        { type: "tool_use", id: "call_y", name: "get_weather", input: { location: "Bern" } }
      ])
      assert.deepStrictEqual(json(response.usage), {
        inputTokens: 40,
        outputTokens: 20,
        cacheReadTokens: 10,
        cacheWriteTokens: 0
      })
      assert.strictEqual(server.requests[0]!.body.stream, false)
    })
  )
})

describe("OpenAI provider: errors", () => {
  const statuses: ReadonlyArray<
    readonly [number, string, HarnessError.ProviderErrorReason, boolean, Record<string, string>?, string?]
  > = [
    [400, "invalid_request_error", "InvalidRequest", false],
    [401, "invalid_request_error", "Authentication", false],
    [403, "permission_error", "Permission", false],
    [404, "invalid_request_error", "NotFound", false],
    [413, "invalid_request_error", "RequestTooLarge", false],
    [422, "invalid_request_error", "InvalidRequest", false],
    [429, "requests", "RateLimited", true, { "retry-after": "2" }],
    [429, "insufficient_quota", "Permission", false, {}, "insufficient_quota"],
    [500, "server_error", "ServerError", true],
    [502, "server_error", "ServerError", true],
    [503, "server_error", "Overloaded", true, { "retry-after-ms": "750" }],
    [504, "server_error", "ServerError", true],
    [529, "overloaded_error", "Overloaded", true]
  ]
  for (const [status, type, reason, retryable, headers, code] of statuses) {
    it.live(`HTTP ${status}${code ? ` ${code}` : ""} is ${reason}, ${retryable ? "" : "not "}retryable`, () =>
      Effect.gen(function* () {
        const server = yield* serverWith(
          OpenAIServer.errorReply(status, type, `Failure for key ${KEY}`, {
            ...(headers !== undefined ? { headers } : {}),
            ...(code !== undefined ? { code } : {})
          })
        )
        const { events, exit } = yield* streamTurn(yield* providerOn(server))
        assert.deepStrictEqual(events, [])
        const error = providerErrorOf(exit)
        assert.strictEqual(error.reason, reason)
        assert.strictEqual(error.status, status)
        assert.strictEqual(error.isRetryable, retryable)
        assert.strictEqual(error.requestId, `req_test_${status}`)
        assert.notInclude(error.message, KEY, "the key is scrubbed from the message")
        assert.include(error.message, "<redacted>")
        if (headers?.["retry-after"] !== undefined) assert.strictEqual(error.retryAfter, 2000)
        if (headers?.["retry-after-ms"] !== undefined) assert.strictEqual(error.retryAfter, 750)
      })
    )
  }

  it.live("400 context_length_exceeded is InvalidRequest and says to shorten the conversation", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        OpenAIServer.errorReply(400, "invalid_request_error", "This model's maximum context length is 128000 tokens.", {
          code: "context_length_exceeded"
        })
      )
      const error = providerErrorOf((yield* streamTurn(yield* providerOn(server))).exit)
      assert.strictEqual(error.reason, "InvalidRequest")
      assert.isFalse(error.isRetryable)
      assert.include(error.message, "context window")
      assert.include(error.message, "maximum context length")
    })
  )

  it.live("an error chunk inside the stream fails with a typed error after the events before it", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, string, HarnessError.ProviderErrorReason, boolean]> = [
        [
          "OpenAI server_error",
          `data: ${JSON.stringify({ error: { message: "The server had an error", type: "server_error", code: null } })}\n\n`,
          "ServerError",
          true
        ],
        [
          "Groq event: error",
          `event: error\ndata: ${JSON.stringify({ error: { message: "Tool call validation failed", type: "invalid_request_error", code: "tool_use_failed" } })}\n\n`,
          "InvalidRequest",
          false
        ],
        [
          "OpenRouter numeric code",
          `data: ${JSON.stringify({ id: "gen-1", error: { code: 429, message: "Rate limit exceeded upstream" }, choices: [] })}\n\n`,
          "RateLimited",
          true
        ],
        [
          "vLLM object error",
          `data: ${JSON.stringify({ object: "error", message: "engine overloaded", type: "BadRequestError", code: 503 })}\n\n`,
          "Overloaded",
          true
        ]
      ]
      for (const [name, error, reason, retryable] of cases) {
        const head = OpenAIServer.sse([OpenAIServer.chunk({ role: "assistant", content: "Partial " })], false)
        const server = yield* serverWith({ sse: head + error, chunkSize: 9 })
        const { events, exit } = yield* streamTurn(yield* providerOn(server))
        assert.deepStrictEqual(events.map(label), ["message_start", "start:0:text", "delta:0:text_delta"], name)
        const failure = providerErrorOf(exit)
        assert.strictEqual(failure.reason, reason, name)
        assert.strictEqual(failure.isRetryable, retryable, name)
      }
    })
  )

  it.live(
    "a body that ends before [DONE] and finish_reason is InvalidResponse; one after finish_reason completes",
    () =>
      Effect.gen(function* () {
        const cut = OpenAIServer.sse([OpenAIServer.chunk({ content: "Half" })], false)
        const finished = OpenAIServer.sse(
          [OpenAIServer.chunk({ content: "Whole" }), OpenAIServer.chunk({}, "stop")],
          false
        )
        const server = yield* serverWith({ sse: cut }, { sse: finished })
        const provider = yield* providerOn(server)
        const error = providerErrorOf((yield* streamTurn(provider)).exit)
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.include(error.message, "cut short")
        const response = yield* foldChecked((yield* streamTurn(provider)).events)
        assert.strictEqual(response.text, "Whole")
      })
  )

  it.live("a malformed chunk is InvalidResponse with the schema's explanation; non-JSON data too", () =>
    Effect.gen(function* () {
      const bad = OpenAIServer.sse([{ id: "x", choices: [{ index: 0, delta: { content: 42 } }] }])
      const server = yield* serverWith({ sse: bad }, { sse: "data: {not json\n\n" })
      const provider = yield* providerOn(server)
      const first = providerErrorOf((yield* streamTurn(provider)).exit)
      assert.strictEqual(first.reason, "InvalidResponse")
      assert.include(first.message, "content")
      const second = providerErrorOf((yield* streamTurn(provider)).exit)
      assert.strictEqual(second.reason, "InvalidResponse")
      assert.include(second.message, "not valid JSON")
    })
  )

  it.live("a refused connection is Connection, retryable, naming the base URL", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      const url = server.url
      yield* Effect.promise(() => server.close())
      const provider = yield* Effect.provide(service, OpenAI.layer({ model: MODEL, apiKey: KEY, baseURL: url }))
      const error = providerErrorOf((yield* streamTurn(provider)).exit)
      assert.strictEqual(error.reason, "Connection")
      assert.isTrue(error.isRetryable)
      assert.include(error.message, url)
    })
  )

  it.live("a preset that needs a key fails with Authentication before sending when there is none", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      const provider = yield* Effect.provide(
        service,
        OpenAI.layer({ model: MODEL, preset: "openrouter", baseURL: server.url }).pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} })))
        )
      )
      const error = providerErrorOf((yield* streamTurn(provider)).exit)
      assert.strictEqual(error.reason, "Authentication")
      assert.include(error.message, "OPENROUTER_API_KEY")
      assert.strictEqual(server.requests.length, 0)
    })
  )
})

describe("OpenAI provider: interruption and deadlines", () => {
  it.live("interrupting the stream closes the socket: the server sees the client close it", () =>
    Effect.gen(function* () {
      const sse = OpenAIServer.sse(OpenAIServer.textChunks(["one ", "two ", "three ", "four"]))
      const server = yield* serverWith({ sse, stallAfterBytes: OpenAIServer.bytesThroughMessage(sse, 3) })
      const provider = yield* providerOn(server)
      const taken = yield* provider.stream(ask()).pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(json([...taken]).map(label), ["message_start", "start:0:text", "delta:0:text_delta"])
      assert.strictEqual(yield* Effect.promise(() => server.outcome(0)), "clientClosed")
    })
  )

  it.live("requestTimeout bounds the wait for the headers: Timeout request, the request aborted", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ hang: true })
      const provider = yield* providerOn(server)
      const { exit } = yield* streamTurn(provider, { ...ask(), requestTimeout: Duration.millis(150) })
      const error = failureOf(exit)
      assert.instanceOf(error, HarnessError.Timeout)
      assert.strictEqual((error as HarnessError.Timeout).phase, "request")
      assert.isTrue((error as HarnessError.Timeout).isRetryable)
      assert.strictEqual(yield* Effect.promise(() => server.outcome(0)), "clientClosed")
    })
  )
})

describe("OpenAI provider: requests", () => {
  const history: ReadonlyArray<Message.Message> = [
    { role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Use the tool.", signature: "" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "call_1", name: "get_weather", input: { location: "Paris" } }
      ]
    },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "call_1", content: "Sunny, 21°C" },
        { type: "text", text: "And a picture?" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }
      ]
    }
  ]

  it.live("the history, tools and per-call parameters reach the wire under OpenAI's names", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["ok"])) })
      const provider = yield* providerOn(server, { preset: "openai", headers: { "x-app": "harness-test" } })
      yield* streamTurn(provider, {
        system: "You are terse.",
        messages: history,
        tools: [weatherTool],
        model: "gpt-per-call",
        maxTokens: 321,
        temperature: 0.2,
        topP: 0.9,
        stopSequences: ["END"],
        thinking: { type: "enabled", budgetTokens: 8_000 },
        toolChoice: { type: "tool", name: "get_weather", disableParallelToolUse: true },
        metadata: { userId: "user-42" }
      })
      const request = yield* Effect.promise(() => server.request(0))
      assert.strictEqual(request.url, "/v1/chat/completions")
      assert.strictEqual(request.headers.authorization, `Bearer ${KEY}`)
      assert.strictEqual(request.headers["x-app"], "harness-test")
      assert.deepStrictEqual(request.body, {
        model: "gpt-per-call",
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "What is the weather in Paris?" },
          {
            role: "assistant",
            content: "Checking.",
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }
            ]
          },
          { role: "tool", tool_call_id: "call_1", content: "Sunny, 21°C" },
          {
            role: "user",
            content: [
              { type: "text", text: "And a picture?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }
            ]
          }
        ],
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: weatherTool.description,
              parameters: weatherTool.input_schema
            }
          }
        ],
        max_completion_tokens: 321,
        temperature: 0.2,
        top_p: 0.9,
        stop: ["END"],
        reasoning_effort: "medium",
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
        user: "user-42",
        stream: true,
        stream_options: { include_usage: true }
      })
    })
  )

  it.live(
    "presets change the names: max_tokens, top_k and OpenRouter's reasoning; DeepSeek gets reasoning_content back",
    () =>
      Effect.gen(function* () {
        const reply = { sse: OpenAIServer.sse(OpenAIServer.textChunks(["ok"])) }
        const server = yield* serverWith(reply, reply, reply)
        const vllm = yield* providerOn(server, { preset: "vllm", maxTokens: 100 })
        yield* streamTurn(vllm, { ...ask(), topK: 40, toolChoice: { type: "any" }, tools: [weatherTool] })
        const first = (yield* Effect.promise(() => server.request(0))).body
        assert.strictEqual(first.max_tokens, 100)
        assert.strictEqual(first.top_k, 40)
        assert.strictEqual(first.tool_choice, "required")
        assert.notProperty(first, "max_completion_tokens")

        const openrouter = yield* providerOn(server, { preset: "openrouter" })
        yield* streamTurn(openrouter, { ...ask(), thinking: { type: "enabled", budgetTokens: 2_000 } })
        assert.deepStrictEqual((yield* Effect.promise(() => server.request(1))).body.reasoning, { max_tokens: 2_000 })

        const deepseek = yield* providerOn(server, { preset: "deepseek" })
        yield* streamTurn(deepseek, { ...ask(), messages: history })
        const assistant = (yield* Effect.promise(() => server.request(2))).body.messages[1]
        assert.strictEqual(assistant.role, "assistant")
        assert.strictEqual(assistant.reasoning_content, "Use the tool.")
      })
  )

  it.live("a server that takes no key gets no Authorization header", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["ok"])) })
      const provider = yield* Effect.provide(
        service,
        OpenAI.layer({ model: "qwen3:8b", preset: "ollama", baseURL: server.url })
      )
      const { exit } = yield* streamTurn(provider)
      assert.isTrue(Exit.isSuccess(exit))
      const request = yield* Effect.promise(() => server.request(0))
      assert.notProperty(request.headers, "authorization")
      assert.notProperty(request.headers, "openai-organization")
    })
  )

  it.live("a parameter the server cannot take fails with InvalidOptions before any request", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      const openai = yield* providerOn(server, { preset: "openai" })
      const deepseek = yield* providerOn(server, { preset: "deepseek" })
      const cases: ReadonlyArray<readonly [Provider.Service, Provider.Request, string]> = [
        [openai, { ...ask(), topK: 40 }, "topK"],
        [deepseek, { ...ask(), thinking: { type: "enabled", budgetTokens: 1_000 } }, "thinking"],
        [openai, { ...ask(), tools: [weatherTool], toolChoice: { type: "tool", name: "nope" } }, "toolChoice"],
        [openai, { ...ask(), toolChoice: { type: "any" } }, "toolChoice"],
        [openai, { ...ask(), temperature: Number.NaN }, "temperature"],
        [
          openai,
          { ...ask(), messages: [{ role: "user", content: [{ type: "search_result", source: "x" } as never] }] },
          "messages[0].content[0]"
        ]
      ]
      for (const [provider, request, option] of cases) {
        const streamed = failureOf((yield* streamTurn(provider, request)).exit)
        assert.instanceOf(streamed, HarnessError.InvalidOptions, option)
        assert.strictEqual((streamed as HarnessError.InvalidOptions).option, option)
        const chatted = failureOf(yield* Effect.exit(provider.chat(request)))
        assert.instanceOf(chatted, HarnessError.InvalidOptions, option)
      }
      assert.strictEqual(server.requests.length, 0, "nothing was sent")
    })
  )

  it.effect("layerConfig reads OPENAI_BASE_URL, OPENAI_MODEL and an optional key for a local server", () =>
    Effect.gen(function* () {
      const provider = yield* Provider.Provider
      assert.strictEqual(provider.info.name, "ollama")
      assert.strictEqual(provider.info.model, "qwen3:8b")
      assert.isTrue(provider.info.supportsStreaming)
    }).pipe(
      Effect.provide(
        OpenAI.layerConfig().pipe(
          Layer.provide(
            ConfigProvider.layer(
              ConfigProvider.fromEnv({
                env: { OPENAI_BASE_URL: "http://localhost:11434/v1", OPENAI_MODEL: "qwen3:8b" }
              })
            )
          )
        )
      )
    )
  )

  it.effect("layerConfig without a base URL needs OPENAI_API_KEY", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.provide(
          service,
          OpenAI.layerConfig().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} }))))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)), "OPENAI_API_KEY")
    })
  )
})
