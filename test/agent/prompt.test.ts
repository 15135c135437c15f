/**
 * Images and documents in prompts: `ask` takes content blocks, each checked with its `Message`
 * Schema before anything is added to the session, and the real Anthropic provider (its SDK over
 * real sockets, to a local server that records every body) sends them as the API expects.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, HarnessError, Message } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as OpenAI from "../../src/provider/openai/OpenAI.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import * as Faults from "../utils/faults.js"
import * as OpenAIServer from "../utils/openaiServer.js"

const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
const jpeg = "/9j/4AAQSkZJRgABAQAAAQABAAD/2w=="
const pdf = "JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"

const prompt: ReadonlyArray<Message.ContentBlock> = [
  Message.text("What do the chart and the report say?"),
  Message.image({ data: png, mediaType: "image/png" }),
  Message.image({ url: "https://example.com/chart.png" }),
  Message.pdf({ data: pdf }, { title: "Q3 report" }),
  Message.pdf({ url: "https://example.com/report.pdf" })
]

const agentOn = (server: AnthropicServer.AnthropicServer) =>
  Agent.make({ builtinTools: false, retry: false }).pipe(
    Effect.provide(Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }))
  )

describe("images and documents in a prompt (real Anthropic provider)", () => {
  it.live("are sent as the Messages API takes them, and kept in the history", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["Revenue grew."]) })
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      assert.strictEqual(yield* session.ask(prompt), "Revenue grew.")
      const sent = server.requests[0]!.body.messages
      assert.strictEqual(sent.length, 1)
      assert.strictEqual(sent[0].role, "user")
      assert.deepStrictEqual(sent[0].content.slice(0, 4), [
        { type: "text", text: "What do the chart and the report say?" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
        { type: "image", source: { type: "url", url: "https://example.com/chart.png" } },
        { type: "document", source: { type: "base64", media_type: "application/pdf", data: pdf }, title: "Q3 report" }
      ])
      // the last block carries the cache marker
      assert.deepStrictEqual(sent[0].content[4], {
        type: "document",
        source: { type: "url", url: "https://example.com/report.pdf" },
        cache_control: { type: "ephemeral" }
      })
      assert.deepStrictEqual(yield* session.history, [Message.user(prompt), Message.assistant("Revenue grew.")])
    })
  )

  it.live("a bad block is InvalidOptions naming it, before anything is added or sent", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["ok"]) })
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      const cases: ReadonlyArray<readonly [unknown, string, string]> = [
        [[Message.text("see"), Message.image({ data: jpeg, mediaType: "image/png" })], "prompt[1]", "image/jpeg"],
        [[Message.image({ url: "file:///etc/passwd" })], "prompt[0]", "http(s)"],
        [
          [Message.text("a"), { type: "image", source: { type: "base64", media_type: "image/bmp", data: png } }],
          "prompt[1]",
          "image/png"
        ],
        [[Message.pdf({ data: "not base64!" })], "prompt[0]", "base64"],
        [[{ type: "tool_result", tool_use_id: "x", content: "1" }], "prompt[0]", "text, image and document"],
        [[Message.text(" ")], "prompt", "whitespace"],
        [[], "prompt", "empty list"],
        [42, "prompt", "not a string"]
      ]
      for (const [given, option, says] of cases) {
        const error = yield* Effect.flip(session.ask(given as never))
        assert.instanceOf(error, HarnessError.InvalidOptions, option)
        assert.strictEqual((error as HarnessError.InvalidOptions).option, option)
        assert.include(error.message, says)
      }
      assert.deepStrictEqual(yield* session.history, [])
      assert.strictEqual(server.requests.length, 0)
      // an image alone is a prompt
      assert.strictEqual(yield* session.ask([Message.image({ data: png, mediaType: "image/png" })]), "ok")
    })
  )
})

describe("images and documents in a prompt (real OpenAI provider)", () => {
  it.live("are sent as image_url and file parts", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      server.enqueue({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["ok"])) })
      const agent = yield* Agent.make({ builtinTools: false, retry: false }).pipe(
        Effect.provide(OpenAI.layer({ model: "gpt-test", preset: "openai", apiKey: "sk-test", baseURL: server.url }))
      )
      yield* agent.run(prompt.slice(0, 4))
      assert.deepStrictEqual(server.requests[0]!.body.messages[0].content, [
        { type: "text", text: "What do the chart and the report say?" },
        { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
        { type: "image_url", image_url: { url: "https://example.com/chart.png" } },
        { type: "file", file: { filename: "Q3 report", file_data: `data:application/pdf;base64,${pdf}` } }
      ])
    })
  )
})
