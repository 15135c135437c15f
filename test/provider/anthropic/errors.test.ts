/**
 * Error messages of the Anthropic provider that must say the right thing: the API key is redacted
 * as a whole token (a short key does not eat the words it happens to be part of), and a `200`
 * whose body is not an event stream says what arrived instead.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import { ProviderError } from "../../../src/core/HarnessError.js"
import * as Message from "../../../src/core/Message.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"

const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }

const providerAt = (baseURL: string, apiKey: string) =>
  Effect.map(Layer.build(Anthropic.layer({ model: "claude-test", apiKey, baseURL })), (context) =>
    Context.get(context, Provider.Provider)
  )

/** A base URL where nothing listens (a port that was just freed). */
const closedPort = Effect.promise(
  () =>
    new Promise<string>((resolve) => {
      const server = Http.createServer()
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        server.close(() => resolve(`http://127.0.0.1:${port}`))
      })
    })
)

const streamFailure = (provider: Provider.Service) =>
  Effect.map(Effect.flip(Stream.runDrain(provider.stream(request))), (error) => {
    assert.instanceOf(error, ProviderError)
    return error as ProviderError
  })

describe("Anthropic errors: key redaction", () => {
  for (const key of ["k", "the", "a-b"]) {
    it.live(`a short key (${JSON.stringify(key)}) does not redact the words of the message`, () =>
      Effect.gen(function* () {
        const provider = yield* providerAt(yield* closedPort, key)
        const error = yield* streamFailure(provider)
        assert.strictEqual(error.reason, "Connection")
        assert.include(error.message, "Check the network and the baseURL")
        assert.notInclude(error.message, "<redacted>")
      })
    )
  }

  it.live("the key is redacted where the server echoes it as a token, and nowhere else", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue(
        AnthropicServer.errorReply(401, "authentication_error", "the key k is not valid for this workspace")
      )
      const provider = yield* providerAt(server.url, "k")
      const error = yield* streamFailure(provider)
      assert.strictEqual(error.reason, "Authentication")
      assert.include(error.message, "the key <redacted> is not valid for this workspace")
      assert.include(error.message, "Set ANTHROPIC_API_KEY to a valid key")
    })
  )

  it.live("a realistic key echoed inside punctuation or JSON is redacted", () =>
    Effect.gen(function* () {
      const key = "sk-ant-api03-abc_DEF-123"
      const server = yield* AnthropicServer.make()
      server.enqueue(AnthropicServer.errorReply(401, "authentication_error", `invalid x-api-key "${key}".`))
      server.enqueue(AnthropicServer.errorReply(401, "authentication_error", `bad {"key":"${key}"}; try ${key}x`))
      const provider = yield* providerAt(server.url, key)
      const quoted = yield* streamFailure(provider)
      assert.include(quoted.message, 'invalid x-api-key "<redacted>"')
      const json = yield* streamFailure(provider)
      assert.include(json.message, '{"key":"<redacted>"}')
      assert.include(json.message, `${key}x`, "a longer token that merely starts with the key is another token")
    })
  )
})

describe("Anthropic errors: a 200 that is not an event stream", () => {
  const cases: ReadonlyArray<readonly [string, AnthropicServer.JsonReply, ReadonlyArray<string>]> = [
    [
      "an HTML page",
      {
        headers: { "content-type": "text/html; charset=utf-8" },
        body: "<!DOCTYPE html><html><head><title>Sign in to the proxy</title></head><body>...</body></html>"
      },
      ['content-type "text/html; charset=utf-8"', "it begins", "<!DOCTYPE html><html><head><title>Sign in to the proxy"]
    ],
    [
      "a JSON body",
      { json: { id: "msg_01", type: "message", role: "assistant", content: [] } },
      ['content-type "application/json"', "it begins", '{\\"id\\":\\"msg_01\\",\\"type\\":\\"message\\"']
    ],
    [
      "an empty body",
      { headers: { "content-type": "text/event-stream" }, body: "" },
      ["empty body", "text/event-stream"]
    ]
  ]
  for (const [what, reply, expected] of cases) {
    it.live(`${what} is reported with its content type and first bytes, not as a cut-short stream`, () =>
      Effect.gen(function* () {
        const server = yield* AnthropicServer.make()
        server.enqueue(reply)
        const provider = yield* providerAt(server.url, "sk-ant-test")
        const error = yield* streamFailure(provider)
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.notInclude(error.message, "without message_stop")
        assert.include(error.message, "HTTP 200")
        assert.include(error.message, "is the baseURL an Anthropic Messages API")
        for (const text of expected) assert.include(error.message, text)
        assert.isFalse(error.isRetryable)
      })
    )
  }

  it.live("a stream cut short after its events still says it ended without message_stop", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: AnthropicServer.fixture("no-message-stop.sse") })
      const provider = yield* providerAt(server.url, "sk-ant-test")
      const error = yield* streamFailure(provider)
      assert.include(error.message, "the stream ended without message_stop")
    })
  )
})
