/**
 * Streams whose shapes the fold once lost (found by replaying real recorded API traffic, see
 * `npm run conformance`), here as small synthetic fixtures served over real HTTP through
 * `Anthropic.layer`: a `compaction` block filled by `compaction_delta`s, deltas of kinds the fold
 * does not know, and a `message_start` that already holds the turn's tool call.
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, Schema, Stream } from "effect"
import * as Agent from "../../../src/agent/Agent.js"
import type { ProviderError } from "../../../src/core/HarnessError.js"
import * as Message from "../../../src/core/Message.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as Tool from "../../../src/tools/Tool.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"

const KEY = "sk-ant-api03-TEST-fold-3c9e"
const MODEL = "claude-sonnet-4-6"
const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }
const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const layerFor = (server: AnthropicServer.AnthropicServer) =>
  Anthropic.layer({ model: MODEL, apiKey: KEY, baseURL: server.url })

const serverWith = (...replies: ReadonlyArray<AnthropicServer.Script>) =>
  Effect.tap(AnthropicServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

/** The folded response of one stream of the fixture, through the provider. */
const folded = (name: string) =>
  Effect.gen(function* () {
    const server = yield* serverWith({ sse: AnthropicServer.fixture(name), chunkSize: 7 })
    const provider = Context.get(yield* Layer.build(layerFor(server)), Provider.Provider)
    const events = [...(yield* Stream.runCollect(provider.stream(request)))]
    assert.deepStrictEqual(
      json(events),
      AnthropicServer.expectedEvents(name),
      "the events are the wire's, pings left out"
    )
    return yield* Provider.collect(Stream.fromIterable(events))
  })

/** What the official SDK's beta `MessageStream.finalMessage()` makes of the same bytes. */
const sdkFinalMessage = (name: string) =>
  Effect.gen(function* () {
    const server = yield* serverWith({ sse: AnthropicServer.fixture(name) })
    return yield* Effect.promise(() =>
      new AnthropicSdk({ apiKey: KEY, baseURL: server.url, maxRetries: 0 }).beta.messages
        .stream({ model: MODEL, max_tokens: 1024, messages: [{ role: "user", content: "hi" }] })
        .finalMessage()
    )
  })

const summary = "## Summary\n\nThe user asked for the revenue per region; EU was 120, US 80."

describe("the fold of a turn: shapes from newer API versions", () => {
  it.live("a compaction block filled by compaction_deltas holds its summary, as the SDK's finalMessage() does", () =>
    Effect.gen(function* () {
      const response = yield* folded("compaction.sse")
      assert.deepStrictEqual(json(response.content), [
        { type: "compaction", content: summary },
        { type: "text", text: "The total is 200." }
      ])
      const theirs = yield* sdkFinalMessage("compaction.sse")
      assert.deepStrictEqual(json(response.content), json(theirs.content) as never)
    })
  )

  it.live("the compaction block goes back to the API on the next turn as the API produced it", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: AnthropicServer.fixture("compaction.sse") },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const agent = yield* Agent.make({ builtinTools: false, retry: false }).pipe(Effect.provide(layerFor(server)))
      const session = yield* agent.session()
      yield* session.ask("What is the total?")
      yield* session.ask("And per region?")
      const history = yield* session.history
      assert.deepStrictEqual(json(history[1]!.content[0]), { type: "compaction", content: summary })
      const sent = yield* Effect.promise(() => server.request(1))
      assert.deepStrictEqual(sent.body.messages[1].content[0], { type: "compaction", content: summary })
    })
  )

  it.live(
    "deltas of unknown kinds: strings appended, other values replaced, an unfoldable one leaves the field as sent",
    () =>
      Effect.gen(function* () {
        const warnings: Array<string> = []
        const logger = Logger.make((options) => {
          if (options.logLevel === "Warn") warnings.push(String(options.message))
        })
        const response = yield* folded("unknown-delta.sse").pipe(Effect.provide(Logger.layer([logger])))
        assert.deepStrictEqual(json(response.content), [
          { type: "gadget", label: "first second", state: { step: 2 }, items: [1, 2] }
        ])
        assert.strictEqual(warnings.length, 1, "the deltas that could not be folded are not dropped silently")
        assert.include(warnings[0], "block 0 gadget_delta.items, block 0 gadget_delta.extra")
      })
  )

  it.live("a message_start that already holds a tool call and its stop reason is that turn", () =>
    Effect.gen(function* () {
      const response = yield* folded("message-start-prefilled.sse")
      assert.strictEqual(response.stopReason, "tool_use")
      assert.strictEqual(response.id, "msg_01PrefilledTest3Hw")
      const theirs = yield* sdkFinalMessage("message-start-prefilled.sse")
      assert.deepStrictEqual(json(response.content), json(theirs.content) as never)
      assert.strictEqual(Message.toolUses(response.content)[0]?.name, "mean")
    })
  )

  it.live("a message_start holding a malformed block is an InvalidResponse, not a turn", () =>
    Effect.gen(function* () {
      const sse = AnthropicServer.sse([
        {
          type: "message_start",
          message: {
            id: "msg_01BadPrefill",
            type: "message",
            role: "assistant",
            model: MODEL,
            content: [{ type: "tool_use", name: "mean" }],
            stop_reason: "tool_use",
            usage: { input_tokens: 1, output_tokens: 1 }
          }
        } as { readonly type: string },
        { type: "message_stop" }
      ])
      const server = yield* serverWith({ sse })
      const provider = Context.get(yield* Layer.build(layerFor(server)), Provider.Provider)
      const error = yield* Effect.flip(Provider.collect(provider.stream(request)))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual((error as ProviderError).reason, "InvalidResponse")
      assert.include(error.message, "message_start holds a content block that is not valid")
    })
  )

  it.live("the agent runs the tool call a message_start already holds and sends its result back", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: AnthropicServer.fixture("message-start-prefilled.sse") },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const mean = Tool.make("mean", {
        description: "Arithmetic mean.",
        parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
        handler: ({ values }) => values.reduce((a, b) => a + b, 0) / values.length
      })
      const agent = yield* Agent.make({ builtinTools: false, retry: false, tools: [mean] }).pipe(
        Effect.provide(layerFor(server))
      )
      const result = yield* agent.runResult("Mean of 1..5?")
      assert.strictEqual(result.turns, 2)
      const sent = yield* Effect.promise(() => server.request(1))
      const [assistant, toolResults] = sent.body.messages.slice(1)
      assert.strictEqual(assistant.content[0].id, "toolu_01PrefilledMean77")
      assert.deepStrictEqual(toolResults.content[0].tool_use_id, "toolu_01PrefilledMean77")
      assert.isUndefined(toolResults.content[0].is_error)
      assert.include(JSON.stringify(toolResults.content[0].content), "3")
    })
  )
})
