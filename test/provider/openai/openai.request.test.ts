/**
 * The OpenAI-compatible provider's requests: the history, tools and per-call parameters on the wire,
 * presets, keys, parameters a server cannot take, and `layerConfig`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Layer } from "effect"
import { HarnessError, type Message, Provider } from "../../../src/index.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"
import { ask, failureOf, KEY, providerOn, serverWith, service, streamTurn, weatherTool } from "./helpers.js"

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
