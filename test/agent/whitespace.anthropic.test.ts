/**
 * No whitespace-only text block reaches the API, with the real Anthropic provider
 * (`Anthropic.layer`, the official SDK over real sockets) against a local server that checks
 * every request the way the Messages API does: a text block that is empty or whitespace-only is
 * answered with the API's 400 (`test/utils/strictAnthropic.ts`). A harness that committed one
 * would fail the next ask with `InvalidRequest`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Agent, HarnessError, Message, Provider } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import * as Faults from "../utils/faults.js"
import * as Strict from "../utils/strictAnthropic.js"

const layerFor = (server: AnthropicServer.AnthropicServer) =>
  Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url })

const agentOn = (server: AnthropicServer.AnthropicServer) =>
  Agent.make({ builtinTools: false, retry: false }).pipe(Effect.provide(layerFor(server)))

/** The roles and the text blocks of a recorded request's messages. */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON
const textsOf = (body: any) =>
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON
  body.messages.map((message: any) => ({
    role: message.role,
    // biome-ignore lint/suspicious/noExplicitAny: wire JSON
    texts: message.content.filter((block: any) => block.type === "text").map((block: any) => block.text)
  }))

describe("the strict local server", () => {
  it.live("rejects a whitespace-only text block with the API's 400", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue(Strict.strict({ sse: Faults.textSse(["fine"]) }))
      const provider = yield* Effect.service(Provider.Provider).pipe(Effect.provide(layerFor(server)))
      const request = { messages: [Message.user("hi"), Message.assistant("\n"), Message.user("again")], tools: [] }
      const error = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
      assert.instanceOf(error, HarnessError.ProviderError)
      assert.strictEqual((error as HarnessError.ProviderError).reason, "InvalidRequest")
      assert.include(error.message, "non-whitespace text")
    })
  )
})

describe("no whitespace-only text reaches the API (real provider)", () => {
  it.live("a partial turn cut after a whitespace delta: the next ask is accepted", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      // "\nq" one character per delta; the server sends message_start, the block start and "\n", then nothing
      const partial = Faults.textSse(["\n", "q"])
      server.enqueue(
        Strict.strict({ sse: partial, stallAfterBytes: Faults.bytesThroughFrame(partial, 3) }),
        Strict.strict({ sse: Faults.textSse(["ok"]) })
      )
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      const events = yield* Stream.runCollect(session.askStream("First question").pipe(Stream.take(3)))
      assert.deepStrictEqual(
        events.map((event) => event.type),
        ["message_start", "content_block_start", "content_block_delta"]
      )
      assert.deepStrictEqual(yield* session.history, [Message.user("First question")])

      assert.strictEqual(yield* session.ask("Second question"), "ok")
      const sent = server.requests[1]!.body
      assert.isFalse(Strict.hasBlankText(sent))
      assert.deepStrictEqual(textsOf(sent), [{ role: "user", texts: ["First question", "Second question"] }])
    })
  )

  it.live("a completed turn whose whole text is whitespace: the next ask is accepted", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue(Strict.strict({ sse: Faults.textSse(["\n"]) }), Strict.strict({ sse: Faults.textSse(["ok"]) }))
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      assert.strictEqual(yield* session.ask("First question"), "\n")
      assert.strictEqual(yield* session.ask("Second question"), "ok")
      const sent = server.requests[1]!.body
      assert.isFalse(Strict.hasBlankText(sent))
      assert.deepStrictEqual(textsOf(sent), [{ role: "user", texts: ["First question", "Second question"] }])
      assert.deepStrictEqual(
        (yield* session.history).map((message) => message.role),
        ["user", "assistant"]
      )
    })
  )
})
