/**
 * The OpenAI-compatible provider's failures: every HTTP status, errors inside the stream, cut and
 * malformed bodies, refused connections, missing keys, interruption and the request timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Stream } from "effect"
import { HarnessError } from "../../../src/index.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"
import {
  ask,
  failureOf,
  foldChecked,
  json,
  KEY,
  label,
  MODEL,
  providerErrorOf,
  providerOn,
  serverWith,
  service,
  streamTurn
} from "./helpers.js"

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

  it.live("error bodies of other shapes keep the server's message: vLLM's, FastAPI's, a plain string, HTML", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [OpenAIServer.Reply, HarnessError.ProviderErrorReason, string]> = [
        [
          {
            status: 404,
            json: { object: "error", message: "The model `nope` does not exist.", type: "NotFoundError", code: 404 }
          },
          "NotFound",
          "The model `nope` does not exist"
        ],
        [
          { status: 422, json: { detail: [{ loc: ["body", "messages"], msg: "field required" }] } },
          "InvalidRequest",
          "field required"
        ],
        [{ status: 400, json: { error: "model 'llama9' not found" } }, "InvalidRequest", "model 'llama9' not found"],
        [{ status: 502, body: "<html><body>Bad gateway</body></html>" }, "ServerError", "Bad gateway"]
      ]
      for (const [reply, reason, message] of cases) {
        const server = yield* serverWith(reply)
        const error = providerErrorOf((yield* streamTurn(yield* providerOn(server))).exit)
        assert.strictEqual(error.reason, reason, message)
        assert.include(error.message, message)
      }
    })
  )

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
