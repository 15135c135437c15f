/**
 * What the Anthropic adapter sends: each per-call parameter of `Provider.Request` reaches the wire
 * in the API's shape (a local server records the request body), a value the API would refuse is
 * an `InvalidOptions` before any request, and images and PDF documents go as the API expects.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Stream } from "effect"
import { InvalidOptions } from "../../../src/core/HarnessError.js"
import * as Message from "../../../src/core/Message.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"

const MODEL = "claude-sonnet-4-6"
const tools: ReadonlyArray<Provider.ToolDefinition> = [
  {
    name: "sql",
    description: "Runs SQL.",
    input_schema: { type: "object", properties: { query: { type: "string" } } }
  },
  { name: "mean", description: "A mean.", input_schema: { type: "object", properties: {} } }
]
const base: Provider.Request = { messages: [Message.user("hi")], tools }

const serve = Effect.tap(
  AnthropicServer.make({ default: { sse: AnthropicServer.fixture("text.sse") } }),
  () => Effect.void
)

const providerOn = (server: AnthropicServer.AnthropicServer, options?: Partial<Anthropic.Options>) =>
  Effect.map(
    Layer.build(Anthropic.layer({ model: MODEL, apiKey: "sk-ant-test", baseURL: server.url, ...options })),
    (context) => Context.get(context, Provider.Provider)
  )

/** The body the server received for one streamed turn of `request`. */
const sentBody = (request: Partial<Provider.Request>, options?: Partial<Anthropic.Options>) =>
  Effect.gen(function* () {
    const server = yield* serve
    const provider = yield* providerOn(server, options)
    yield* Stream.runDrain(provider.stream({ ...base, ...request }))
    return (yield* Effect.promise(() => server.request(0))).body
  })

describe("Anthropic requests: per-call parameters reach the wire", () => {
  it.live("model, maxTokens, temperature, topP, topK and stopSequences", () =>
    Effect.gen(function* () {
      const body = yield* sentBody({
        model: "claude-opus-4-6",
        maxTokens: 321,
        temperature: 0.3,
        topP: 0.9,
        topK: 40,
        stopSequences: ["\n\nHuman:", "END"]
      })
      assert.strictEqual(body.model, "claude-opus-4-6")
      assert.strictEqual(body.max_tokens, 321)
      assert.strictEqual(body.temperature, 0.3)
      assert.strictEqual(body.top_p, 0.9)
      assert.strictEqual(body.top_k, 40)
      assert.deepStrictEqual(body.stop_sequences, ["\n\nHuman:", "END"])
    })
  )

  it.live("per-call values override the layer's defaults; unset ones are not sent", () =>
    Effect.gen(function* () {
      const layerDefaults = { maxTokens: 2000, temperature: 0.1, topK: 5, stopSequences: ["STOP"] }
      const overridden = yield* sentBody({ temperature: 0.7, maxTokens: 100 }, layerDefaults)
      assert.strictEqual(overridden.model, MODEL)
      assert.strictEqual(overridden.max_tokens, 100)
      assert.strictEqual(overridden.temperature, 0.7)
      assert.strictEqual(overridden.top_k, 5)
      assert.deepStrictEqual(overridden.stop_sequences, ["STOP"])
      const plain = yield* sentBody({})
      for (const key of ["temperature", "top_p", "top_k", "stop_sequences", "thinking", "tool_choice", "metadata"]) {
        assert.notProperty(plain, key)
      }
    })
  )

  it.live("thinking: a budget, adaptive, or disabled", () =>
    Effect.gen(function* () {
      const enabled = yield* sentBody({ maxTokens: 4096, thinking: { type: "enabled", budgetTokens: 2048 } })
      assert.deepStrictEqual(enabled.thinking, { type: "enabled", budget_tokens: 2048 })
      const adaptive = yield* sentBody({ thinking: { type: "adaptive" } })
      assert.deepStrictEqual(adaptive.thinking, { type: "adaptive" })
      const disabled = yield* sentBody({ thinking: { type: "disabled" } }, { thinking: { budgetTokens: 1024 } })
      assert.deepStrictEqual(disabled.thinking, { type: "disabled" })
      const fromLayer = yield* sentBody({}, { thinking: { type: "adaptive" } })
      assert.deepStrictEqual(fromLayer.thinking, { type: "adaptive" })
    })
  )

  it.live("toolChoice: auto, any, none, a named tool, with disable_parallel_tool_use", () =>
    Effect.gen(function* () {
      const auto = yield* sentBody({ toolChoice: { type: "auto" } })
      assert.deepStrictEqual(auto.tool_choice, { type: "auto" })
      const any = yield* sentBody({ toolChoice: { type: "any", disableParallelToolUse: true } })
      assert.deepStrictEqual(any.tool_choice, { type: "any", disable_parallel_tool_use: true })
      const none = yield* sentBody({ toolChoice: { type: "none" } })
      assert.deepStrictEqual(none.tool_choice, { type: "none" })
      const named = yield* sentBody({ toolChoice: { type: "tool", name: "sql", disableParallelToolUse: false } })
      assert.deepStrictEqual(named.tool_choice, { type: "tool", name: "sql", disable_parallel_tool_use: false })
    })
  )

  it.live("metadata.userId is sent as metadata.user_id", () =>
    Effect.gen(function* () {
      const body = yield* sentBody({ metadata: { userId: "user-7f3a" } })
      assert.deepStrictEqual(body.metadata, { user_id: "user-7f3a" })
    })
  )

  it.live("chat sends the same parameters", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make({ default: { json: AnthropicServer.fixtureJson("message.json") } })
      const provider = yield* providerOn(server)
      yield* provider.chat({ ...base, topK: 3, toolChoice: { type: "tool", name: "mean" }, metadata: { userId: "u1" } })
      const body = (yield* Effect.promise(() => server.request(0))).body
      assert.strictEqual(body.top_k, 3)
      assert.deepStrictEqual(body.tool_choice, { type: "tool", name: "mean" })
      assert.deepStrictEqual(body.metadata, { user_id: "u1" })
      assert.strictEqual(body.stream, false)
    })
  )
})

/** Each request the API would refuse, and the option the error names. */
const refused: ReadonlyArray<readonly [string, Partial<Provider.Request>, string]> = [
  ["temperature above 1", { temperature: 1.5 }, "temperature"],
  ["temperature below 0", { temperature: -0.1 }, "temperature"],
  ["temperature NaN", { temperature: Number.NaN }, "temperature"],
  ["topP above 1", { topP: 2 }, "topP"],
  ["topK of 0", { topK: 0 }, "topK"],
  ["a fractional topK", { topK: 2.5 }, "topK"],
  ["maxTokens of 0", { maxTokens: 0 }, "maxTokens"],
  ["an empty model name", { model: "" }, "model"],
  ["a whitespace stop sequence", { stopSequences: ["ok", "  "] }, "stopSequences[1]"],
  ["a thinking budget below 1024", { thinking: { type: "enabled", budgetTokens: 1000 } }, "thinking.budgetTokens"],
  [
    "a thinking budget not below maxTokens",
    { maxTokens: 2048, thinking: { type: "enabled", budgetTokens: 2048 } },
    "thinking.budgetTokens"
  ],
  ["toolChoice naming an unknown tool", { toolChoice: { type: "tool", name: "nope" } }, "toolChoice.name"],
  ["toolChoice any without tools", { tools: [], toolChoice: { type: "any" } }, "toolChoice"],
  [
    "a forced tool with thinking on",
    { maxTokens: 4096, thinking: { type: "adaptive" }, toolChoice: { type: "any" } },
    "toolChoice"
  ],
  [
    "toolChoice none with disableParallelToolUse",
    { toolChoice: { type: "none", disableParallelToolUse: true } },
    "toolChoice.disableParallelToolUse"
  ],
  ["a metadata.userId over 256 characters", { metadata: { userId: "u".repeat(257) } }, "metadata.userId"]
]

describe("Anthropic requests: what the API would refuse fails before any request", () => {
  for (const [what, request, option] of refused) {
    it.live(`${what} is InvalidOptions (${option}); nothing is sent`, () =>
      Effect.gen(function* () {
        const server = yield* serve
        const provider = yield* providerOn(server)
        for (const run of [
          Stream.runDrain(provider.stream({ ...base, ...request })),
          provider.chat({ ...base, ...request })
        ]) {
          const error = yield* Effect.flip(run)
          assert.instanceOf(error, InvalidOptions)
          assert.strictEqual((error as InvalidOptions).option, option)
          assert.isFalse(error.isRetryable)
        }
        assert.strictEqual(server.requests.length, 0)
      })
    )
  }

  it.live("a layer with an option the API would refuse fails to build with InvalidOptions", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(Anthropic.layer({ model: MODEL, apiKey: "sk-ant-test", temperature: 3 }))
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Layer.build(Anthropic.layer({ model: MODEL, thinking: { budgetTokens: 512 } })))
      assert.instanceOf(error, InvalidOptions)
      assert.strictEqual(error.option, "thinking.budgetTokens")
    })
  )
})

const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
const pdf = "JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"

describe("Anthropic requests: images and documents", () => {
  it.live("base64 and URL images and PDF documents are sent as the API expects", () =>
    Effect.gen(function* () {
      const content = yield* Message.decodeContent([
        Message.image({ data: png, mediaType: "image/png" }),
        Message.image({ url: "https://example.com/chart.png" }),
        Message.pdf({ data: pdf }, { title: "Q3 report" }),
        Message.pdf({ url: "https://example.com/report.pdf" }),
        Message.text("Compare the chart with the reports.")
      ])
      const body = yield* sentBody({ messages: [Message.user(content)] })
      assert.deepStrictEqual(body.messages, [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
            { type: "image", source: { type: "url", url: "https://example.com/chart.png" } },
            {
              type: "document",
              source: { type: "base64", media_type: "application/pdf", data: pdf },
              title: "Q3 report"
            },
            { type: "document", source: { type: "url", url: "https://example.com/report.pdf" } },
            { type: "text", text: "Compare the chart with the reports." }
          ]
        }
      ])
    })
  )
})

describe("Anthropic requests: a history another vendor's model wrote", () => {
  it.live("unsigned thinking is left out and tool ids the API refuses are rewritten the same way on both sides", () =>
    Effect.gen(function* () {
      const history: ReadonlyArray<Message.Message> = [
        Message.user("Total revenue?"),
        Message.assistant([
          { type: "thinking", thinking: "Use SQL.", signature: "" },
          { type: "tool_use", id: "functions.sql:0", name: "sql", input: { query: "SELECT 1" } }
        ]),
        Message.user([Message.toolResult("functions.sql:0", "1")]),
        Message.assistant("It is 1."),
        Message.user("Thanks.")
      ]
      const body = yield* sentBody({ messages: history })
      const messages = body.messages as Array<{ role: string; content: Array<Record<string, unknown>> }>
      const blocks = messages.flatMap((message) => message.content)
      assert.isFalse(
        blocks.some((block) => block.type === "thinking"),
        "no thinking block without a signature"
      )
      const use = blocks.find((block) => block.type === "tool_use")!
      const result = blocks.find((block) => block.type === "tool_result")!
      assert.match(use.id as string, /^[a-zA-Z0-9_-]+$/)
      assert.strictEqual(result.tool_use_id, use.id)
      assert.deepStrictEqual(
        messages.map((message) => message.role),
        ["user", "assistant", "user", "assistant", "user"]
      )
      // the caller's history is not changed
      assert.strictEqual((history[1]!.content[1] as Message.ToolUseBlock).id, "functions.sql:0")
    })
  )
})
