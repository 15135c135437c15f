import { assert, describe, it } from "@effect/vitest"
import { Message, Tokens } from "../../src/index.js"

describe("Tokens.estimate", () => {
  it("counts a token per 3 characters of system, messages and tool definitions, and more than a real tokenizer would", () => {
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(20) // 900 characters, ~200 real tokens
    const request = {
      system: "You are a data analyst.",
      messages: [Message.user(text)],
      tools: [{ name: "sql", description: "Run SQL.", input_schema: { type: "object" } }]
    }
    const tokens = Tokens.estimate(request)
    assert.isAtLeast(tokens, 300 + 8 + 4)
    assert.isAbove(tokens, 900 / 4)
  })

  it("counts tool calls and results, images at a fixed size, and grows with the conversation", () => {
    const small = Tokens.estimateMessages([Message.user("hi")])
    const withTools = Tokens.estimateMessages([
      Message.user("hi"),
      Message.assistant([{ type: "tool_use", id: "t1", name: "sql", input: { query: "SELECT 1" } }]),
      Message.user([Message.toolResult("t1", "x".repeat(3_000))])
    ])
    assert.isAbove(withTools, small + 1_000)
    const image = Tokens.estimateMessages([
      Message.user([
        { type: "image", source: { type: "url", url: "https://example.com/a.png" } } as Message.ContentBlock
      ])
    ])
    assert.isAtLeast(image, 1_600)
  })
})
