import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import AnthropicSdk from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Redacted,
  References,
  Stream
} from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { ProviderError, Timeout } from "../../../src/core/HarnessError.js"
import * as Message from "../../../src/core/Message.js"
import * as StreamEvent from "../../../src/core/StreamEvent.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import { retryAfterMillis } from "../../../src/provider/http/errors.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"
import * as Faults from "../../utils/faults.js"

const KEY = "sk-ant-api03-TEST-do-not-leak-7f3a9c2e1b"
const MODEL = "claude-sonnet-4-6"

const request: Provider.Request = { messages: [Message.user("What is the mean of [1, 2, 3, 4, 5]?")], tools: [] }

const expectedEvents = AnthropicServer.expectedEvents

const successFixtures = [
  "text.sse",
  "cache-usage.sse",
  "tool-use.sse",
  "parallel-tools.sse",
  "empty-tool-input.sse",
  "thinking.sse",
  "citations.sse",
  "server-tool.sse",
  "unknown.sse",
  "stop-sequence.sse",
  "pause-turn.sse",
  "refusal.sse",
  "context-window.sse",
  "max-tokens.sse"
] as const

const serverWith = (...replies: ReadonlyArray<AnthropicServer.Script>) =>
  Effect.tap(AnthropicServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

const baseProviderFor = (server: AnthropicServer.AnthropicServer, options?: Partial<Anthropic.Options>) =>
  Anthropic.make({ model: MODEL, apiKey: Redacted.make(KEY), baseURL: server.url, ...options })

const sdkClient = (server: AnthropicServer.AnthropicServer) =>
  new AnthropicSdk({ apiKey: KEY, baseURL: server.url, maxRetries: 0 })

/** What the official SDK's `MessageStream.finalMessage()` assembles from the server's next reply. */
const sdkFinalMessage = (server: AnthropicServer.AnthropicServer) =>
  Effect.promise(() =>
    sdkClient(server)
      .messages.stream({ model: MODEL, max_tokens: 1024, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
  )

const providerService = Effect.gen(function* () {
  return yield* Provider.Provider
})

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${inspect(exit.value)}`)
  const error = Cause.squash(exit.cause)
  return error as E
}

const runStream = (stream: Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure>) =>
  Stream.runCollect(stream).pipe(Effect.map((events) => json([...events])))

/**
 * The provider suites run on both transports: `node:http` (the default) and the global `fetch`
 * (undici), which share everything but how the bytes travel.
 */
for (const transport of ["node", "fetch"] as const) {
  const providerFor = (server: AnthropicServer.AnthropicServer, options?: Partial<Anthropic.Options>) =>
    baseProviderFor(server, { transport, ...options })

  describe(`Anthropic provider (${transport} transport): streaming`, () => {
    for (const name of successFixtures) {
      it.live(`streams ${name} event by event, as it arrived, without ping and unknown events`, () =>
        Effect.gen(function* () {
          const server = yield* serverWith({ sse: AnthropicServer.fixture(name) })
          const provider = yield* providerFor(server)
          const events = yield* runStream(provider.stream(request))
          assert.deepStrictEqual(events, expectedEvents(name))
        })
      )
    }

    for (const name of successFixtures) {
      it.live(`collecting ${name} equals the SDK's finalMessage() for the same bytes`, () =>
        Effect.gen(function* () {
          const sse = AnthropicServer.fixture(name)
          const server = yield* serverWith({ sse, chunkSize: 7 }, { sse, chunkSize: 7 })
          const provider = yield* providerFor(server)
          const ours = yield* Provider.collect(provider.stream(request))
          const theirs = yield* sdkFinalMessage(server)
          assert.strictEqual(ours.id, theirs.id)
          assert.strictEqual(ours.model, theirs.model)
          assert.strictEqual(ours.stopReason, theirs.stop_reason)
          assert.strictEqual(ours.stopSequence ?? null, theirs.stop_sequence)
          assert.deepStrictEqual(json<unknown>(ours.content), json<unknown>(theirs.content))
          assert.deepStrictEqual(json(ours.usage), {
            inputTokens: theirs.usage.input_tokens,
            outputTokens: theirs.usage.output_tokens,
            cacheReadTokens: theirs.usage.cache_read_input_tokens ?? 0,
            cacheWriteTokens: theirs.usage.cache_creation_input_tokens ?? 0
          })
        })
      )
    }

    for (const name of ["text.sse", "tool-use.sse", "thinking.sse", "unknown.sse"]) {
      it.live(`${name} written one byte at a time (multibyte UTF-8 split across writes) streams the same`, () =>
        Effect.gen(function* () {
          const server = yield* serverWith({ sse: AnthropicServer.fixture(name), chunkSize: 1 })
          const provider = yield* providerFor(server)
          const events = yield* runStream(provider.stream(request))
          assert.deepStrictEqual(events, expectedEvents(name))
        })
      )
    }

    it.live("a multibyte character split between two writes arrives whole", () =>
      Effect.gen(function* () {
        const bytes = Buffer.from(AnthropicServer.fixture("text.sse"), "utf8")
        // Split in the middle of the 4-byte 🌸 and of the 3-byte 東.
        const flower = bytes.indexOf(Buffer.from("🌸", "utf8"))
        const server = yield* serverWith(
          { sse: bytes.subarray(0, flower + 2) },
          {
            sse: bytes,
            chunkSize: flower + 2
          }
        )
        void server
        const provider = yield* providerFor(server)
        // The first reply is cut inside 🌸 and ends: a truncated stream, not garbage text.
        const cut = failureOf(yield* Effect.exit(Provider.collect(provider.stream(request))))
        assert.instanceOf(cut, ProviderError)
        const whole = yield* Provider.collect(provider.stream(request))
        assert.strictEqual(whole.text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
      })
    )

    it.live("tool JSON split inside strings, escapes and numbers is joined and parsed at block stop", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("tool-use.sse"), chunkSize: 3 })
        const provider = yield* providerFor(server)
        const response = yield* Provider.collect(provider.stream(request))
        const [call] = Message.toolUses(response.content)
        assert.deepStrictEqual(call?.input, AnthropicServer.toolUseInput)
        assert.strictEqual(response.stopReason, "tool_use")
      })
    )

    it.live("an empty tool input is {} and two parallel tool uses keep their order", () =>
      Effect.gen(function* () {
        const server = yield* serverWith(
          { sse: AnthropicServer.fixture("empty-tool-input.sse") },
          { sse: AnthropicServer.fixture("parallel-tools.sse") }
        )
        const provider = yield* providerFor(server)
        const empty = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(
          Message.toolUses(empty.content).map((call) => call.input),
          [{}, {}]
        )
        const parallel = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(
          Message.toolUses(parallel.content).map((call) => [call.name, call.input]),
          [
            ["run_sql", { sql: "SELECT region, SUM(revenue) FROM sales GROUP BY 1", limit: 100 }],
            ["run_js", { code: "sales.filter(r => r.price > 9.99).length" }]
          ]
        )
      })
    )

    it.live("thinking keeps its signature, redacted thinking its data, then the text follows", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("thinking.sse") })
        const provider = yield* providerFor(server)
        const response = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(
          response.content.map((block) => block.type),
          ["thinking", "redacted_thinking", "text"]
        )
        const thinking = response.content[0] as Message.ThinkingBlock
        assert.strictEqual(
          thinking.thinking,
          "The user wants the mean. Sum is 1+2+3+4+5 = 15, divided by 5 gives 3 — straightforward."
        )
        assert.match(thinking.signature, /^EqQBCgIYAhIM/)
        assert.match((response.content[1] as Message.RedactedThinkingBlock).data, /^EmwKAhgBEgy3/)
        assert.strictEqual(response.text, "The mean is 3.")
      })
    )

    it.live("usage: later counters replace earlier ones, null keeps them, cache reads and writes are kept", () =>
      Effect.gen(function* () {
        const server = yield* serverWith(
          { sse: AnthropicServer.fixture("cache-usage.sse") },
          { sse: AnthropicServer.fixture("text.sse") }
        )
        const provider = yield* providerFor(server)
        const write = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(json(write.usage), {
          inputTokens: 14,
          outputTokens: 9,
          cacheReadTokens: 0,
          cacheWriteTokens: 2048
        })
        const read = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(json(read.usage), {
          inputTokens: 2095,
          outputTokens: 23,
          cacheReadTokens: 1800,
          cacheWriteTokens: 0
        })
      })
    )

    it.live("an unknown block is kept opaque with every field; an unknown event type is skipped", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("unknown.sse") })
        const provider = yield* providerFor(server)
        const response = yield* Provider.collect(provider.stream(request))
        assert.deepStrictEqual(json(response.content[0]), {
          type: "future_widget",
          id: "fw_01Hq2",
          payload: { rows: [1, 2, 3], label: "ünïcödé" }
        })
        assert.strictEqual(response.text, "Done.")
      })
    )

    for (const [name, reason] of [
      ["text.sse", "end_turn"],
      ["tool-use.sse", "tool_use"],
      ["max-tokens.sse", "max_tokens"],
      ["stop-sequence.sse", "stop_sequence"],
      ["pause-turn.sse", "pause_turn"],
      ["refusal.sse", "refusal"],
      ["context-window.sse", "model_context_window_exceeded"]
    ] as const) {
      it.live(`stop reason ${reason} comes through`, () =>
        Effect.gen(function* () {
          const server = yield* serverWith({ sse: AnthropicServer.fixture(name) })
          const provider = yield* providerFor(server)
          const response = yield* Provider.collect(provider.stream(request))
          assert.strictEqual(response.stopReason, reason)
          if (reason === "stop_sequence") assert.strictEqual(response.stopSequence, "\n\nQ:")
        })
      )
    }

    it.live("a stream of 20,000 deltas read by a slow consumer arrives whole and in order", () =>
      Effect.gen(function* () {
        const events: Array<{ type: string }> = [
          ...AnthropicServer.parseSse(AnthropicServer.fixture("text.sse")).slice(0, 2)
        ]
        for (let i = 0; i < 20_000; i++) {
          events.push({
            type: "content_block_delta",
            index: 0,
            delta: { type: "text_delta", text: `${i % 10}` }
          } as never)
        }
        events.push(...AnthropicServer.parseSse(AnthropicServer.fixture("text.sse")).slice(-4))
        const server = yield* serverWith({ sse: AnthropicServer.sse(events) })
        const provider = yield* providerFor(server)
        let text = ""
        let batches = 0
        yield* provider.stream(request).pipe(
          Stream.runForEachArray((batch) => {
            batches++
            for (const event of batch) {
              if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
                text += (event.delta as { text: string }).text
              }
            }
            return Effect.sleep(Duration.millis(1))
          })
        )
        assert.strictEqual(text.length, 20_000 + "the mean of [1, 2, 3, 4, 5] is 3.".length)
        assert.isBelow(batches, 20_000 / 10, "events arrive in batches, not one Effect per event")
      })
    )
  })

  describe(`Anthropic provider (${transport} transport): failures in the stream`, () => {
    it.live("an overloaded_error event inside a 200 stream is a retryable Overloaded error after the text so far", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("overloaded-midstream.sse") })
        const provider = yield* providerFor(server)
        const seen: Array<string> = []
        const exit = yield* provider.stream(request).pipe(
          Stream.runForEach((event) => Effect.sync(() => seen.push(event.type))),
          Effect.exit
        )
        const error = failureOf(exit)
        assert.instanceOf(error, ProviderError)
        const failure = error as ProviderError
        assert.strictEqual(failure.reason, "Overloaded")
        assert.isTrue(failure.isRetryable)
        assert.strictEqual(failure.requestId, "req_test_0")
        assert.include(failure.message, "overloaded_error")
        assert.deepStrictEqual(seen, [
          "message_start",
          "content_block_start",
          "content_block_delta",
          "content_block_delta"
        ])
      })
    )

    for (const [type, reason, retryable] of [
      ["rate_limit_error", "RateLimited", true],
      ["api_error", "ServerError", true],
      ["invalid_request_error", "InvalidRequest", false]
    ] as const) {
      it.live(`an in-stream ${type} event is ${reason}`, () =>
        Effect.gen(function* () {
          const events = AnthropicServer.parseSse(AnthropicServer.fixture("text.sse")).slice(0, 3)
          events.push({ type: "error", error: { type, message: "boom" } })
          const server = yield* serverWith({ sse: AnthropicServer.sse(events) })
          const provider = yield* providerFor(server)
          const error = failureOf(yield* Effect.exit(Provider.collect(provider.stream(request)))) as ProviderError
          assert.strictEqual(error.reason, reason)
          assert.strictEqual(error.isRetryable, retryable)
        })
      )
    }

    it.live("a stream that ends without message_stop is InvalidResponse after the events that arrived", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("no-message-stop.sse") })
        const provider = yield* providerFor(server)
        const events: Array<string> = []
        const exit = yield* provider.stream(request).pipe(
          Stream.runForEach((event) => Effect.sync(() => events.push(event.type))),
          Effect.exit
        )
        const error = failureOf(exit) as ProviderError
        assert.instanceOf(error, ProviderError)
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.isFalse(error.isRetryable)
        assert.include(error.message, "message_stop")
        assert.deepStrictEqual(events, [
          "message_start",
          "content_block_start",
          "content_block_delta",
          "content_block_stop",
          "message_delta"
        ])
      })
    )

    it.live("a connection dropped mid-stream is a retryable Connection error after the events that arrived", () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture("text.sse")
        const cut = Buffer.byteLength(sse.slice(0, sse.indexOf("event: content_block_stop")), "utf8")
        const server = yield* serverWith({ sse, dropAfterBytes: cut })
        const provider = yield* providerFor(server)
        let text = ""
        const exit = yield* provider.stream(request).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
                text += (event.delta as { text: string }).text
              }
            })
          ),
          Effect.exit
        )
        const error = failureOf(exit) as ProviderError
        assert.instanceOf(error, ProviderError)
        assert.strictEqual(error.reason, "Connection")
        assert.isTrue(error.isRetryable)
        assert.strictEqual(text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "dropped")
      })
    )

    it.live("a malformed event (valid JSON, wrong shape) is InvalidResponse", () =>
      Effect.gen(function* () {
        const events = AnthropicServer.parseSse(AnthropicServer.fixture("text.sse")).slice(0, 2)
        events.push({ type: "content_block_delta", index: "zero", delta: { type: "text_delta", text: 1 } })
        const server = yield* serverWith({ sse: AnthropicServer.sse(events) })
        const provider = yield* providerFor(server)
        const error = failureOf(yield* Effect.exit(Provider.collect(provider.stream(request)))) as ProviderError
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.isFalse(error.isRetryable)
      })
    )

    it.live("an event that is not JSON is InvalidResponse", () =>
      Effect.gen(function* () {
        const head = AnthropicServer.sse(AnthropicServer.parseSse(AnthropicServer.fixture("text.sse")).slice(0, 2))
        const server = yield* serverWith({ sse: `${head}event: content_block_delta\ndata: {"type": "content_blo\n\n` })
        const provider = yield* providerFor(server)
        const error = failureOf(yield* Effect.exit(Provider.collect(provider.stream(request)))) as ProviderError
        assert.strictEqual(error.reason, "InvalidResponse")
      })
    )
  })

  describe(`Anthropic provider (${transport} transport): HTTP errors`, () => {
    const catalogue: ReadonlyArray<{
      status: number
      type: string
      message: string
      reason: string
      retryable: boolean
      headers?: Record<string, string>
      retryAfter?: number
    }> = AnthropicServer.fixtureJson("errors.json")

    for (const entry of catalogue) {
      const label = `HTTP ${entry.status}${entry.headers ? ` with ${Object.keys(entry.headers).join(", ")}` : ""}`
      it.live(`${label} is ${entry.reason} (retryable: ${entry.retryable}) from stream and chat`, () =>
        Effect.gen(function* () {
          const reply = AnthropicServer.errorReply(entry.status, entry.type, entry.message, entry.headers)
          const server = yield* serverWith(reply, reply)
          const provider = yield* providerFor(server)
          const fromStream = failureOf(yield* Effect.exit(Stream.runDrain(provider.stream(request)))) as ProviderError
          const fromChat = failureOf(yield* Effect.exit(provider.chat(request))) as ProviderError
          for (const error of [fromStream, fromChat]) {
            assert.instanceOf(error, ProviderError)
            assert.strictEqual(error.reason, entry.reason)
            assert.strictEqual(error.isRetryable, entry.retryable)
            assert.strictEqual(error.status, entry.status)
            assert.strictEqual(error.provider, "anthropic")
            assert.strictEqual(error.requestId, `req_test_${entry.status}`)
            assert.include(error.message, entry.message)
            assert.include(error.message, `req_test_${entry.status}`)
            assert.strictEqual(error.retryAfter, entry.retryAfter)
          }
          // The SDK's own retries are off: one request per call.
          assert.strictEqual(server.requests.length, 2)
        })
      )
    }

    it.live("401 says to set ANTHROPIC_API_KEY", () =>
      Effect.gen(function* () {
        const server = yield* serverWith(AnthropicServer.errorReply(401, "authentication_error", "invalid x-api-key"))
        const provider = yield* providerFor(server)
        const error = failureOf(yield* Effect.exit(provider.chat(request))) as ProviderError
        assert.include(error.message, "ANTHROPIC_API_KEY")
      })
    )

    it.live("a refused connection is a retryable Connection error naming the baseURL", () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => AnthropicServer.start())
        yield* Effect.promise(() => server.close())
        const provider = yield* providerFor(server)
        const error = failureOf(yield* Effect.exit(Stream.runDrain(provider.stream(request)))) as ProviderError
        assert.strictEqual(error.reason, "Connection")
        assert.isTrue(error.isRetryable)
        assert.include(error.message, server.url)
      })
    )

    it.live("a 200 non-streaming response that is not a message is InvalidResponse", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ json: { type: "message", content: "nope" } })
        const provider = yield* providerFor(server)
        const error = failureOf(yield* Effect.exit(provider.chat(request))) as ProviderError
        assert.strictEqual(error.reason, "InvalidResponse")
      })
    )

    it("retry-after is read as seconds, as an HTTP date, and retry-after-ms wins", () => {
      const now = Date.UTC(2026, 4, 1, 12, 0, 0)
      assert.strictEqual(retryAfterMillis(new Headers({ "retry-after": "3" }), now), 3000)
      assert.strictEqual(retryAfterMillis(new Headers({ "retry-after": "0.5" }), now), 500)
      assert.strictEqual(
        retryAfterMillis(new Headers({ "retry-after": new Date(now + 30_000).toUTCString() }), now),
        30_000
      )
      assert.strictEqual(retryAfterMillis(new Headers({ "retry-after": "9", "retry-after-ms": "250" }), now), 250)
      assert.strictEqual(retryAfterMillis(new Headers({ "retry-after": "soon" }), now), undefined)
      assert.strictEqual(retryAfterMillis(new Headers({}), now), undefined)
    })
  })

  describe(`Anthropic provider (${transport} transport): chat`, () => {
    it.live("chat sends one non-streaming request and normalises the message", () =>
      Effect.gen(function* () {
        const message = AnthropicServer.fixtureJson("message.json")
        const server = yield* serverWith({ json: message })
        const provider = yield* providerFor(server)
        const response = yield* provider.chat(request)
        assert.strictEqual(server.requests[0]!.body.stream, false)
        assert.strictEqual(response.id, message.id)
        assert.strictEqual(response.model, MODEL)
        assert.strictEqual(response.stopReason, "tool_use")
        assert.strictEqual(response.stopSequence, null)
        assert.deepStrictEqual(json(response.content), message.content)
        assert.deepStrictEqual(json(response.usage), {
          inputTokens: 1520,
          outputTokens: 77,
          cacheReadTokens: 4096,
          cacheWriteTokens: 0
        })
        assert.strictEqual(response.text, "Let me run a query.")
        assert.deepStrictEqual(provider.info, { name: "anthropic", model: MODEL, supportsStreaming: true })
      })
    )
  })

  describe(`Anthropic provider (${transport} transport): requests`, () => {
    const history: ReadonlyArray<Message.Message> = [
      Message.user("Load the sales data."),
      Message.assistant([
        { type: "thinking", thinking: "I will call load_csv.", signature: "EqQBsig==" },
        { type: "redacted_thinking", data: "EmwKAhgBredacted==" },
        { type: "text", text: "" },
        { type: "text", text: "Loading." },
        { type: "tool_use", id: "toolu_1", name: "load_csv", input: { path: "/data/sales.csv" } },
        { type: "tool_use", id: "toolu_2", name: "broken", input: {} },
        {
          type: "server_tool_use",
          id: "srvtoolu_1",
          name: "web_search",
          input: { query: "x" }
        } as Message.ContentBlock,
        { type: "future_widget", id: "fw_1", payload: { rows: [1] } } as Message.ContentBlock
      ]),
      Message.user([
        Message.toolResult("toolu_1", "loaded 10 rows"),
        Message.toolResult("toolu_2", "Unknown tool: broken", true),
        { type: "text", text: "Now sum the revenue." }
      ])
    ]

    it.live("the request body carries the history unchanged, with the options", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
        const provider = yield* providerFor(server, {
          maxTokens: 2000,
          temperature: 0.2,
          stopSequences: ["\n\nQ:"],
          thinking: { budgetTokens: 1024 },
          headers: { "anthropic-beta": "test-beta-2026-01-01", "x-trace": "abc" }
        })
        const tools: ReadonlyArray<Provider.ToolDefinition> = [
          {
            name: "load_csv",
            description: "Loads a CSV file.",
            input_schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] }
          }
        ]
        yield* Stream.runDrain(provider.stream({ system: "You are a data analyst.", messages: history, tools }))
        const sent = yield* Effect.promise(() => server.request(0))
        assert.strictEqual(sent.method, "POST")
        assert.strictEqual(sent.url, "/v1/messages")
        assert.strictEqual(sent.headers["anthropic-beta"], "test-beta-2026-01-01")
        assert.strictEqual(sent.headers["x-trace"], "abc")
        assert.isString(sent.headers["anthropic-version"])
        assert.isUndefined(sent.headers["x-stainless-retry-count"] === "1" ? "retried" : undefined)
        const expectedMessages = json(history).map((message: Message.Message) => ({
          role: message.role,
          // the empty text block is left out: the API rejects it
          content: message.content.filter(
            (block) => !(block.type === "text" && (block as Message.TextBlock).text === "")
          )
        }))
        assert.deepStrictEqual(sent.body, {
          model: MODEL,
          max_tokens: 2000,
          messages: expectedMessages,
          system: "You are a data analyst.",
          tools: json(tools),
          temperature: 0.2,
          stop_sequences: ["\n\nQ:"],
          thinking: { type: "enabled", budget_tokens: 1024 },
          stream: true
        })
        assert.deepStrictEqual(sent.body.messages[2].content[1], {
          type: "tool_result",
          tool_use_id: "toolu_2",
          content: "Unknown tool: broken",
          is_error: true
        })
      })
    )

    it.live("Request.maxTokens overrides the default of 4096", () =>
      Effect.gen(function* () {
        // A reply picked from the request: only the expected limits get a stream.
        const byLimit = (expected: number) => (sent: AnthropicServer.RecordedRequest) =>
          sent.body.max_tokens === expected
            ? { sse: AnthropicServer.fixture("text.sse") }
            : AnthropicServer.errorReply(400, "invalid_request_error", `max_tokens is not ${expected}`)
        const server = yield* serverWith(byLimit(4096), byLimit(99))
        const provider = yield* providerFor(server)
        yield* Stream.runDrain(provider.stream(request))
        yield* Stream.runDrain(provider.stream({ ...request, maxTokens: 99 }))
        assert.strictEqual(server.requests[0]!.body.max_tokens, 4096)
        assert.strictEqual(server.requests[1]!.body.max_tokens, 99)
        assert.notProperty(server.requests[0]!.body, "system")
        assert.notProperty(server.requests[0]!.body, "tools")
      })
    )

    it.live("formatCacheControl marks the system prompt and the last block of the final user message", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
        const provider = yield* providerFor(server)
        const original: Provider.Request = { system: "You are a data analyst.", messages: history, tools: [] }
        const before = JSON.stringify(original)
        const marked = provider.formatCacheControl(original)
        assert.strictEqual(JSON.stringify(original), before, "the input is not mutated")
        yield* Stream.runDrain(provider.stream(marked))
        const body = server.requests[0]!.body
        assert.deepStrictEqual(body.system, [
          { type: "text", text: "You are a data analyst.", cache_control: { type: "ephemeral" } }
        ])
        const last = body.messages[body.messages.length - 1].content
        assert.deepStrictEqual(last[last.length - 1], {
          type: "text",
          text: "Now sum the revenue.",
          cache_control: { type: "ephemeral" }
        })
        const markers = JSON.stringify(body).split('"cache_control"').length - 1
        assert.strictEqual(markers, 2)
      })
    )

    it("messages convert to API params and back", () => {
      const params = Anthropic.toMessageParams(history)
      assert.deepStrictEqual(Anthropic.fromMessageParams(params), [
        history[0]!,
        { role: "assistant", content: history[1]!.content.filter((_, i) => i !== 2) },
        history[2]!
      ])
      assert.deepStrictEqual(Anthropic.fromMessageParams([{ role: "user", content: "hi" }]), [Message.user("hi")])
    })
  })

  describe(`Anthropic provider (${transport} transport): interruption and timeouts`, () => {
    it.live("a consumer that stops pulling (Stream.take) aborts the HTTP request", () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture("text.sse")
        const server = yield* serverWith({ sse, stallAfterBytes: sse.indexOf("event: content_block_stop") })
        const provider = yield* providerFor(server)
        const first = yield* provider.stream(request).pipe(Stream.take(2), Stream.runCollect)
        assert.deepStrictEqual(
          [...first].map((event) => event.type),
          ["message_start", "content_block_start"]
        )
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
      })
    )

    it.live("interrupting the fiber mid-stream aborts the HTTP request", () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture("text.sse")
        const server = yield* serverWith({ sse, stallAfterBytes: sse.indexOf("event: content_block_stop") })
        const provider = yield* providerFor(server)
        let seen = 0
        const fiber = yield* provider.stream(request).pipe(
          Stream.runForEach(() => Effect.sync(() => seen++)),
          Effect.forkChild
        )
        while (seen < 3) yield* Effect.sleep(Duration.millis(5))
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
        assert.strictEqual(server.clientClosedCount(), 1)
      })
    )

    it.live("interrupting before the response headers aborts the HTTP request", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ hang: true }, { hang: true })
        const provider = yield* providerFor(server)
        const streaming = yield* Stream.runDrain(provider.stream(request)).pipe(Effect.forkChild)
        yield* Effect.promise(() => server.request(0))
        yield* Fiber.interrupt(streaming)
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
        const chatting = yield* provider.chat(request).pipe(Effect.forkChild)
        yield* Effect.promise(() => server.request(1))
        yield* Fiber.interrupt(chatting)
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 1), "clientClosed")
      })
    )

    it.effect("requestTimeout fails with Timeout(request) on the TestClock and aborts the request", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ hang: true })
        const provider = yield* providerFor(server)
        const fiber = yield* Stream.runDrain(
          provider.stream({ ...request, requestTimeout: Duration.seconds(30) })
        ).pipe(Effect.forkChild)
        yield* Effect.promise(() => server.request(0))
        yield* TestClock.adjust(Duration.seconds(29))
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust(Duration.seconds(1))
        const error = failureOf(yield* Fiber.await(fiber))
        assert.instanceOf(error, Timeout)
        const timeout = error as Timeout
        assert.strictEqual(timeout.phase, "request")
        assert.strictEqual(timeout.limitMillis, 30_000)
        assert.isTrue(timeout.isRetryable)
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
      })
    )

    it.effect("requestTimeout bounds chat too", () =>
      Effect.gen(function* () {
        const server = yield* serverWith({ hang: true })
        const provider = yield* providerFor(server)
        const fiber = yield* provider.chat({ ...request, requestTimeout: Duration.seconds(5) }).pipe(Effect.forkChild)
        yield* Effect.promise(() => server.request(0))
        yield* TestClock.adjust(Duration.seconds(5))
        const error = failureOf(yield* Fiber.await(fiber)) as Timeout
        assert.strictEqual(error.phase, "request")
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
      })
    )

    it.live("a finished stream leaves the keep-alive connection for the next request", () =>
      Effect.gen(function* () {
        const server = yield* serverWith(
          { sse: AnthropicServer.fixture("text.sse") },
          { sse: AnthropicServer.fixture("text.sse") }
        )
        const provider = yield* providerFor(server)
        yield* Stream.runDrain(provider.stream(request))
        yield* Stream.runDrain(provider.stream(request))
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "completed")
        assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 1), "completed")
        assert.strictEqual(server.clientClosedCount(), 0)
      })
    )
  })
}

describe("Anthropic provider: the API key", () => {
  it.live("the key is sent to the API but never appears in errors, inspected values or logs", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        // A server that echoes the key back must not get it into our error either.
        {
          status: 401,
          json: {
            type: "error",
            error: { type: "authentication_error", message: `invalid x-api-key: ${KEY}` }
          }
        },
        AnthropicServer.errorReply(401, "authentication_error", "invalid x-api-key")
      )
      const sdkLines: Array<string> = []
      const capture = (...args: Array<unknown>) => {
        sdkLines.push(args.map((arg) => (typeof arg === "string" ? arg : inspect(arg, { depth: 10 }))).join(" "))
      }
      const effectLines: Array<string> = []
      const logger = Logger.make((options) => {
        effectLines.push(inspect(options.message, { depth: 10 }), Cause.pretty(options.cause))
      })
      const options: Anthropic.Options = {
        model: MODEL,
        apiKey: KEY,
        baseURL: server.url,
        clientOptions: {
          logLevel: "debug",
          logger: { debug: capture, info: capture, warn: capture, error: capture }
        }
      }
      const program = Effect.gen(function* () {
        const provider = yield* Provider.Provider
        const echoed = yield* Effect.flip(provider.chat(request))
        const plain = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
        yield* Effect.logError("the request failed", echoed)
        yield* Effect.logDebug(plain)
        return { echoed, plain, provider }
      }).pipe(
        Effect.provide(Layer.merge(Anthropic.layer(options), Logger.layer([logger]))),
        Effect.provideService(References.MinimumLogLevel, "All")
      )
      const { echoed, plain, provider } = yield* program
      const sent = yield* Effect.promise(() => server.request(0))
      assert.include(JSON.stringify(sent.headers), KEY, "the key does reach the API")
      for (const error of [echoed, plain]) {
        assert.instanceOf(error, ProviderError)
        assert.strictEqual((error as ProviderError).reason, "Authentication")
        for (const text of [
          error.message,
          String(error),
          JSON.stringify(error),
          inspect(error, { depth: 10 }),
          Cause.pretty(Cause.fail(error))
        ]) {
          assert.notInclude(text, KEY)
        }
      }
      assert.include(echoed.message, "<redacted>")
      assert.isAbove(sdkLines.length, 0, "the SDK logged at debug level")
      assert.isAbove(effectLines.length, 0)
      for (const line of [...sdkLines, ...effectLines]) assert.notInclude(line, KEY)
      assert.notInclude(inspect(provider, { depth: 10, showHidden: true }), KEY)
      assert.notInclude(JSON.stringify(provider), KEY)
      const layerOptions = { model: MODEL, apiKey: Redacted.make(KEY) }
      assert.notInclude(inspect(layerOptions, { depth: 10 }), KEY)
      assert.notInclude(JSON.stringify(layerOptions), KEY)
    })
  )
})

describe("Anthropic layers", () => {
  it.live("layerConfig reads ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_MODEL", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
      const config = ConfigProvider.fromEnv({
        env: { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: server.url, ANTHROPIC_MODEL: "claude-haiku-4-5" }
      })
      const provider = yield* providerService.pipe(
        Effect.provide(Anthropic.layerConfig({ maxTokens: 512 }).pipe(Layer.provide(ConfigProvider.layer(config))))
      )
      assert.strictEqual(provider.info.model, "claude-haiku-4-5")
      const response = yield* Provider.collect(provider.stream(request))
      assert.strictEqual(response.text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
      const sent = server.requests[0]!
      assert.strictEqual(sent.body.model, "claude-haiku-4-5")
      assert.strictEqual(sent.body.max_tokens, 512)
      assert.include(JSON.stringify(sent.headers), KEY)
    })
  )

  it.live("layerConfig defaults the model to claude-sonnet-4-6", () =>
    Effect.gen(function* () {
      const config = ConfigProvider.fromEnv({ env: { ANTHROPIC_API_KEY: KEY } })
      const provider = yield* providerService.pipe(
        Effect.provide(Anthropic.layerConfig().pipe(Layer.provide(ConfigProvider.layer(config))))
      )
      assert.strictEqual(provider.info.model, "claude-sonnet-4-6")
    })
  )

  it.live("layerConfig without ANTHROPIC_API_KEY fails naming the variable", () =>
    Effect.gen(function* () {
      const config = ConfigProvider.fromEnv({ env: {} })
      const exit = yield* providerService.pipe(
        Effect.provide(Anthropic.layerConfig().pipe(Layer.provide(ConfigProvider.layer(config)))),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(failureOf(exit)), "ANTHROPIC_API_KEY")
    })
  )

  it.live("without any credentials a request fails with Authentication, saying to set ANTHROPIC_API_KEY", () =>
    Effect.gen(function* () {
      const names = [
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_CONFIG_DIR"
      ]
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const saved = names.map((name) => [name, process.env[name]] as const)
          for (const name of names) delete process.env[name]
          process.env.ANTHROPIC_CONFIG_DIR = mkdtempSync(join(tmpdir(), "anthropic-no-config-"))
          return saved
        }),
        (saved) =>
          Effect.sync(() => {
            for (const [name, value] of saved) {
              if (value === undefined) delete process.env[name]
              else process.env[name] = value
            }
          })
      )
      const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
      const provider = yield* Anthropic.make({ model: MODEL, baseURL: server.url })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(provider.stream(request)))) as ProviderError
      assert.strictEqual(error.reason, "Authentication")
      assert.isFalse(error.isRetryable)
      assert.include(error.message, "ANTHROPIC_API_KEY")
      assert.strictEqual(server.requests.length, 0)
    })
  )

  it.live("layerFromClient uses a client you built, with its retries off", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(AnthropicServer.errorReply(529, "overloaded_error", "Overloaded"), {
        sse: AnthropicServer.fixture("text.sse")
      })
      // A client with retries on: the adapter still sends each request once.
      const client = new AnthropicSdk({ apiKey: KEY, baseURL: server.url, maxRetries: 5 })
      const provider = yield* providerService.pipe(
        Effect.provide(Anthropic.layerFromClient(client, { model: MODEL, name: "custom" }))
      )
      assert.deepStrictEqual(provider.info, { name: "custom", model: MODEL, supportsStreaming: true })
      const error = failureOf(yield* Effect.exit(Stream.runDrain(provider.stream(request)))) as ProviderError
      assert.strictEqual(error.reason, "Overloaded")
      assert.strictEqual(server.requests.length, 1)
      const response = yield* Provider.collect(provider.stream(request))
      assert.strictEqual(response.stopReason, "end_turn")
      // The client's key is kept out of errors here too.
      server.enqueue({
        status: 401,
        json: { type: "error", error: { type: "authentication_error", message: `bad key ${KEY}` } }
      })
      const echoed = failureOf(yield* Effect.exit(provider.chat(request))) as ProviderError
      assert.strictEqual(echoed.reason, "Authentication")
      assert.notInclude(echoed.message, KEY)
      assert.include(echoed.message, "<redacted>")
    })
  )
})

describe("Anthropic provider: decoding", () => {
  const anyValue = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 })
  )
  const deltaType = fc.constantFrom(
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "signature_delta",
    "citations_delta",
    "widget_delta",
    "",
    undefined
  )
  const delta = fc.oneof(
    fc.record(
      {
        type: deltaType,
        text: fc.oneof(fc.string(), anyValue),
        partial_json: fc.oneof(fc.string(), anyValue),
        thinking: fc.oneof(fc.string(), anyValue),
        signature: fc.oneof(fc.string(), anyValue),
        extra: anyValue
      },
      { requiredKeys: ["type"] }
    ),
    anyValue
  )
  const nearlyValid = fc.record({
    type: fc.constant("content_block_delta"),
    index: fc.oneof(fc.nat(), fc.double(), fc.constant("0")),
    delta: fc.record(
      {
        type: fc.constantFrom("text_delta", "input_json_delta", "thinking_delta"),
        text: fc.oneof(fc.string(), fc.integer()),
        partial_json: fc.oneof(fc.string(), fc.constant(null)),
        thinking: fc.string()
      },
      { requiredKeys: ["type"] }
    )
  })
  /** Mostly `valid`, sometimes anything. */
  const mostly = <A>(valid: fc.Arbitrary<A>) =>
    fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: anyValue as fc.Arbitrary<unknown>, weight: 1 })
  /** Near-valid usage: each counter mostly a number or `null`, sometimes anything. */
  const counter = mostly(fc.oneof(fc.nat(), fc.constant(null), fc.double()))
  const usage = mostly(
    fc.record(
      {
        input_tokens: counter,
        output_tokens: counter,
        cache_read_input_tokens: counter,
        cache_creation_input_tokens: counter
      },
      { requiredKeys: [] }
    )
  )
  /** Near-valid frame events: the three around the deltas of every turn that have fields to check. */
  const nearlyValidFrame = fc.oneof(
    fc.record(
      {
        type: fc.constant("message_start"),
        message: mostly(
          fc.record(
            {
              id: mostly(fc.string()),
              role: mostly(fc.constantFrom("assistant", "user")),
              model: mostly(fc.string()),
              content: mostly(fc.array(anyValue, { maxLength: 2 })),
              usage
            },
            { requiredKeys: ["id", "role", "model", "content"] }
          )
        )
      },
      { requiredKeys: ["type"] }
    ),
    fc.record(
      {
        type: fc.constant("content_block_start"),
        index: mostly(fc.nat()),
        content_block: mostly(
          fc.record(
            {
              type: fc.constantFrom("text", "tool_use", "thinking", "redacted_thinking", "server_tool_use", undefined),
              text: mostly(fc.string()),
              id: mostly(fc.string()),
              name: mostly(fc.string()),
              thinking: mostly(fc.string()),
              data: mostly(fc.string())
            },
            { requiredKeys: ["type"] }
          )
        )
      },
      { requiredKeys: ["type"] }
    ),
    fc.record(
      {
        type: fc.constant("message_delta"),
        delta: mostly(
          fc.record(
            {
              stop_reason: mostly(fc.constantFrom("end_turn", "tool_use", null)),
              stop_sequence: mostly(fc.oneof(fc.string(), fc.constant(null)))
            },
            { requiredKeys: [] }
          )
        ),
        usage: fc.oneof(usage, fc.constant(null))
      },
      { requiredKeys: ["type"] }
    )
  )
  const rawEvent = fc.oneof(
    nearlyValid,
    nearlyValidFrame,
    fc.record(
      {
        type: fc.constantFrom(
          "content_block_delta",
          "content_block_start",
          "content_block_stop",
          "message_stop",
          "ping",
          "error",
          "whatever"
        ),
        index: fc.oneof(fc.nat(), fc.double(), anyValue),
        delta
      },
      { requiredKeys: [] }
    ),
    anyValue
  )

  it("the fast paths of StreamEvent.decodeWire (token deltas, frame events) accept exactly what the Schemas accept", () => {
    let accepted = 0
    let rejected = 0
    let stopsAccepted = 0
    let stopsRejected = 0
    const frames = new Map<string, { accepted: number; rejected: number }>(
      ["message_start", "content_block_start", "message_delta"].map((type) => [type, { accepted: 0, rejected: 0 }])
    )
    fc.assert(
      fc.property(rawEvent, (raw) => {
        const fast = StreamEvent.decodeWire(raw)
        const schema = StreamEvent.decodeWireStrict(raw)
        assert.strictEqual(fast._tag, schema._tag)
        const type = (raw as { type?: unknown } | null)?.type
        if (fast._tag === "Event") {
          assert.strictEqual(fast.event, raw as never)
          accepted++
          if (type === "content_block_stop") stopsAccepted++
        } else if (type === "content_block_delta") rejected++
        else if (type === "content_block_stop") stopsRejected++
        const frame = typeof type === "string" ? frames.get(type) : undefined
        if (frame !== undefined) {
          if (fast._tag === "Event") frame.accepted++
          else frame.rejected++
        }
      }),
      { numRuns: 8000 }
    )
    // shapes the generator does not reach: arrays where the Schemas want a struct
    const arrayDelta = Object.assign([], { type: "text_delta", text: "x" })
    const arrayEvent = Object.assign([], {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "x" }
    })
    for (const raw of [{ type: "content_block_delta", index: 0, delta: arrayDelta }, arrayEvent]) {
      assert.strictEqual(StreamEvent.decodeWire(raw)._tag, StreamEvent.decodeWireStrict(raw)._tag)
    }
    for (const [type, { accepted, rejected }] of frames) {
      assert.isAbove(accepted, 25, `valid ${type} events`)
      assert.isAbove(rejected, 25, `and invalid ${type} events`)
    }
    assert.isAbove(accepted, 50, "the generator reaches valid deltas")
    assert.isAbove(rejected, 50, "and invalid ones")
    assert.isAbove(stopsAccepted, 20, "valid content_block_stop events")
    assert.isAbove(stopsRejected, 20, "and invalid ones")
  })
})

describe("Anthropic provider: SSE framing", () => {
  /** One message as SSE, written the ways the spec allows. */
  interface Framing {
    readonly eol: "\n" | "\r\n" | "\r"
    readonly eventSpace: boolean
    readonly dataSpace: boolean
    /** Split the JSON over two `data:` lines (joined with a newline, still the same JSON). */
    readonly splitData: boolean
    /** A comment, an `id:` and a `retry:` line before the message. */
    readonly extras: boolean
    /** A `ping` message before this one (`event:ping` or `event: ping`). */
    readonly ping: boolean
  }
  const framing: fc.Arbitrary<Framing> = fc.record({
    eol: fc.constantFrom("\n", "\r\n", "\r"),
    eventSpace: fc.boolean(),
    dataSpace: fc.boolean(),
    splitData: fc.boolean(),
    extras: fc.boolean(),
    ping: fc.boolean()
  })

  const render = (events: ReadonlyArray<Faults.WireEvent>, framings: ReadonlyArray<Framing>): string =>
    events
      .map((event, i) => {
        const f = framings[i % framings.length]!
        const field = (name: string, value: string, space: boolean) => `${name}:${space ? " " : ""}${value}${f.eol}`
        const json = JSON.stringify(event)
        const cut = json.indexOf(",")
        let out = ""
        if (f.ping) out += field("event", "ping", f.eventSpace) + field("data", '{"type": "ping"}', f.dataSpace) + f.eol
        if (f.extras) out += `: keep-alive${f.eol}id: ${i}${f.eol}retry: 1000${f.eol}`
        out += field("event", event.type, f.eventSpace)
        out +=
          f.splitData && cut > 0
            ? field("data", json.slice(0, cut + 1), f.dataSpace) + field("data", json.slice(cut + 1), f.dataSpace)
            : field("data", json, f.dataSpace)
        return out + f.eol
      })
      .join("")

  it.live(
    "reads the same events as the official SDK from any framing the spec allows, cut at any byte",
    () =>
      Effect.gen(function* () {
        const server = yield* AnthropicServer.make()
        const provider = yield* providerService.pipe(
          Effect.provide(Anthropic.layer({ model: MODEL, apiKey: KEY, baseURL: server.url }))
        )
        const sdk = sdkClient(server)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 6 }),
              fc.array(framing, { minLength: 1, maxLength: 4 }),
              fc.integer({ min: 1, max: 40 }),
              async (pieces, framings, chunkSize) => {
                const sse = render(Faults.textEvents(pieces, { id: "msg_framing" }), framings)
                server.enqueue({ sse, chunkSize }, { sse, chunkSize })
                const ours = await Effect.runPromise(runStream(provider.stream(request)))
                const theirs: Array<unknown> = []
                const stream = await sdk.messages.create({
                  model: MODEL,
                  max_tokens: 1024,
                  messages: [{ role: "user", content: "hi" }],
                  stream: true
                })
                for await (const event of stream) theirs.push(event)
                assert.deepStrictEqual(ours, json(theirs))
                assert.strictEqual(
                  ours
                    .map((event) =>
                      event.type === "content_block_delta" ? ((event.delta as { text?: string }).text ?? "") : ""
                    )
                    .join(""),
                  pieces.join("")
                )
              }
            ),
            { numRuns: 40 }
          )
        )
      }),
    30_000
  )
})
