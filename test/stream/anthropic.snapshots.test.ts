import AnthropicSdk from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Accumulate, Anthropic, Message, type Provider } from "../../src/index.js"
import * as AnthropicServer from "../utils/anthropicServer.js"

const KEY = "sk-ant-test"
const MODEL = "claude-sonnet-4-6"
const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }

/** The event types both sides stream (the SDK also reports `ping` and unknown events). */
const ours = new Set([
  "message_start",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
  "message_delta",
  "message_stop"
])

const plain = <A>(value: A): A => JSON.parse(JSON.stringify(value))

/** The SDK `MessageStream`'s message snapshot after each event, as it was at that event. */
const sdkSnapshots = (server: AnthropicServer.AnthropicServer) =>
  Effect.promise(async () => {
    const client = new AnthropicSdk({ apiKey: KEY, baseURL: server.url, maxRetries: 0 })
    const snapshots: Array<{ readonly type: string; readonly content: unknown }> = []
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 1024,
      messages: [{ role: "user", content: "hi" }]
    })
    stream.on("streamEvent", (event, snapshot) => {
      if (ours.has(event.type)) snapshots.push({ type: event.type, content: plain(snapshot.content) })
    })
    await stream.done()
    return snapshots
  })

describe("Accumulate.snapshots over the Anthropic adapter", () => {
  for (const name of [
    "text.sse",
    "tool-use.sse",
    "parallel-tools.sse",
    "empty-tool-input.sse",
    "thinking.sse",
    "citations.sse",
    "server-tool.sse",
    "max-tokens.sse"
  ]) {
    it.live(`after each event of ${name}, the message equals the SDK MessageStream's snapshot for the same bytes`, () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture(name)
        const server = yield* AnthropicServer.make()
        server.enqueue({ sse, chunkSize: 5 }, { sse, chunkSize: 5 })
        const provider = yield* Anthropic.make({ model: MODEL, apiKey: Redacted.make(KEY), baseURL: server.url })
        const snapshots = yield* Stream.runCollect(Accumulate.snapshots(provider.stream(request)))
        const theirs = yield* sdkSnapshots(server)
        assert.deepStrictEqual(
          snapshots.map((s) => ({ type: s.event.type, content: plain(s.message?.content) })),
          theirs
        )
      })
    )
  }
})
