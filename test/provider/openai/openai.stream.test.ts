/**
 * The OpenAI-compatible provider's streams read as Anthropic turns: block shapes, tool calls, reasoning,
 * usage, stop reasons, raw chunks, and `chat()` folding a whole completion the same way.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { Message, StreamEvent } from "../../../src/index.js"
import * as OpenAIServer from "../../utils/openaiServer.js"
import { ask, foldChecked, json, label, MODEL, providerOn, serverWith, streamTurn, weatherTool } from "./helpers.js"

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
