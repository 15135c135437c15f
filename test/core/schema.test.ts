import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Message, NormalizedResponse, RunResult, Usage } from "../../src/index.js"

/** A history with every kind of block the harness knows, plus server tool blocks it keeps opaque. */
const history: Message.History = [
  Message.user("What was the revenue in 2024?"),
  {
    role: "assistant",
    content: [
      { type: "thinking", thinking: "I should search and then compute.", signature: "sig_abc123==" },
      { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
      {
        type: "text",
        text: "Revenue grew 12%.",
        citations: [
          { type: "char_location", cited_text: "grew 12%", document_index: 0, start_char_index: 4, end_char_index: 12 }
        ]
      },
      {
        type: "server_tool_use",
        id: "srvtoolu_01",
        name: "web_search",
        input: { query: "revenue 2024" }
      },
      {
        type: "web_search_tool_result",
        tool_use_id: "srvtoolu_01",
        content: [{ type: "web_search_result", url: "https://example.com", title: "Example", encrypted_content: "x" }]
      },
      {
        type: "tool_use",
        id: "toolu_01",
        name: "sql",
        input: { query: "SELECT 1", limit: 5, nested: [1, { a: null }] }
      },
      { type: "tool_use", id: "toolu_02", name: "js", input: {} }
    ]
  },
  {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "toolu_01", content: '[{"1":1}]' },
      {
        type: "tool_result",
        tool_use_id: "toolu_02",
        content: [{ type: "text", text: "ReferenceError: x is not defined" }],
        is_error: true
      },
      { type: "text", text: "Go on.", cache_control: { type: "ephemeral" } }
    ]
  },
  Message.assistant("It was 4.2M.")
]

describe("Message history", () => {
  it.effect("a history with every block kind encodes to JSON and decodes back equal", () =>
    Effect.gen(function* () {
      const json = Message.encodeHistory(history)
      assert.isString(json)
      const decoded = yield* Message.decodeHistory(json)
      assert.deepStrictEqual(decoded, history)
      // the wire form keeps every field, the opaque and extra ones included
      assert.deepStrictEqual(JSON.parse(json), JSON.parse(JSON.stringify(history)))
      // and encoding the decoded history gives the same JSON
      assert.strictEqual(Message.encodeHistory(decoded), json)
    })
  )

  it.effect("a text block without `text` fails to decode with a message naming the block", () =>
    Effect.gen(function* () {
      const json = JSON.stringify([{ role: "user", content: [{ type: "text", txt: "typo" }] }])
      const error = yield* Effect.flip(Message.decodeHistory(json))
      assert.include(error.message, `"text" block`)
    })
  )

  it.effect("a tool_use block without its id fails to decode with a message naming the block", () =>
    Effect.gen(function* () {
      const json = JSON.stringify([{ role: "assistant", content: [{ type: "tool_use", name: "sql", input: {} }] }])
      const error = yield* Effect.flip(Message.decodeHistory(json))
      assert.include(error.message, `"tool_use" block`)
    })
  )

  it.effect("a message with an unknown role fails to decode", () =>
    Effect.gen(function* () {
      const json = JSON.stringify([{ role: "system", content: [{ type: "text", text: "hi" }] }])
      yield* Effect.flip(Message.decodeHistory(json))
    })
  )
})

const roundTrip = <S extends Schema.Codec<unknown, unknown>>(schema: S, value: S["Type"]): S["Type"] => {
  const encoded = Schema.encodeSync(schema)(value)
  // through JSON text, as a persisted value travels
  return Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(encoded)))
}

describe("result schemas", () => {
  const usage = Usage.make({ inputTokens: 120, outputTokens: 30, cacheReadTokens: 100, cacheWriteTokens: 7 })

  it("Usage encodes and decodes back equal", () => {
    const decoded = roundTrip(Usage.Usage, usage)
    assert.instanceOf(decoded, Usage.Usage)
    assert.deepStrictEqual(decoded, usage)
  })

  it("NormalizedResponse encodes and decodes back equal, content and text included", () => {
    const response = new NormalizedResponse.NormalizedResponse({
      id: "msg_01",
      model: "claude-test",
      stopReason: "tool_use",
      stopSequence: null,
      content: history[1]!.content,
      usage
    })
    const decoded = roundTrip(NormalizedResponse.NormalizedResponse, response)
    assert.instanceOf(decoded, NormalizedResponse.NormalizedResponse)
    assert.deepStrictEqual(decoded, response)
    assert.strictEqual(decoded.text, "Revenue grew 12%.")
  })

  it("a stop reason from a newer API version survives the round trip", () => {
    const response = new NormalizedResponse.NormalizedResponse({
      stopReason: "some_future_reason",
      content: [],
      usage: Usage.empty
    })
    assert.deepStrictEqual(roundTrip(NormalizedResponse.NormalizedResponse, response), response)
  })

  it("RunResult encodes and decodes back equal, with and without a value", () => {
    const withValue = new RunResult.RunResult({
      text: "The mean is 3.",
      status: "completed",
      turns: 2,
      attempts: 3,
      stopReason: "end_turn",
      usage,
      value: { mean: 3, values: [1, 2, 3, 4, 5], label: null }
    })
    const decoded = roundTrip(RunResult.RunResult, withValue)
    assert.instanceOf(decoded, RunResult.RunResult)
    assert.instanceOf(decoded.usage, Usage.Usage)
    assert.deepStrictEqual(decoded, withValue)

    const without = new RunResult.RunResult({
      text: "",
      status: "max_turns",
      turns: 25,
      attempts: 25,
      stopReason: "tool_use",
      usage: Usage.empty
    })
    const decodedWithout = roundTrip(RunResult.RunResult, without)
    assert.deepStrictEqual(decodedWithout, without)
    assert.isFalse("value" in decodedWithout)
  })

  it.effect("RunResult rejects an unknown status", () =>
    Effect.gen(function* () {
      const encoded = Schema.encodeSync(RunResult.RunResult)(
        new RunResult.RunResult({
          text: "x",
          status: "completed",
          turns: 1,
          attempts: 1,
          stopReason: "end_turn",
          usage: Usage.empty
        })
      )
      assert.throws(() => Schema.decodeUnknownSync(RunResult.RunResult)({ ...encoded, status: "done" }))
    })
  )
})

describe("Usage", () => {
  it("add sums every counter", () => {
    const a = Usage.make({ inputTokens: 10, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4 })
    const b = Usage.make({ inputTokens: 5, outputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 1 })
    assert.deepStrictEqual(
      Usage.add(a, b),
      Usage.make({ inputTokens: 15, outputTokens: 9, cacheReadTokens: 3, cacheWriteTokens: 5 })
    )
    assert.deepStrictEqual(Usage.add(Usage.empty, a), a)
  })

  it("make fills missing counters with zero", () => {
    assert.deepStrictEqual(
      Usage.make({ outputTokens: 3 }),
      new Usage.Usage({ inputTokens: 0, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 })
    )
  })

  it("merge replaces present counters and keeps absent or null ones", () => {
    const start = Usage.merge(Usage.empty, {
      input_tokens: 100,
      output_tokens: 1,
      cache_read_input_tokens: 50,
      cache_creation_input_tokens: 20
    })
    assert.deepStrictEqual(
      start,
      Usage.make({ inputTokens: 100, outputTokens: 1, cacheReadTokens: 50, cacheWriteTokens: 20 })
    )
    // a later message_delta replaces (not adds) what it carries; null and absent keep the earlier value
    const end = Usage.merge(start, { output_tokens: 42, input_tokens: null })
    assert.deepStrictEqual(
      end,
      Usage.make({ inputTokens: 100, outputTokens: 42, cacheReadTokens: 50, cacheWriteTokens: 20 })
    )
    assert.deepStrictEqual(Usage.merge(end, null), end)
    assert.deepStrictEqual(Usage.merge(end, undefined), end)
    assert.deepStrictEqual(Usage.merge(end, {}), end)
  })

  it("toWire and merge are inverse", () => {
    const usage = Usage.make({ inputTokens: 1, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4 })
    assert.deepStrictEqual(Usage.merge(Usage.empty, Usage.toWire(usage)), usage)
  })
})
