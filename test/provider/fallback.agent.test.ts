/**
 * Fallback chains under the whole agent: `Provider.layerFallback([Anthropic, OpenAI])` against
 * the two local servers. A tool loop across a fallback (and the Anthropic request built from the
 * OpenAI-written history it leaves), a discard passed to the consumer with only the secondary's
 * turn in the history, the next turn starting at the primary again, the agent's retry of a chain
 * that failed everywhere, and a primary that hangs past the first-event limit (on the TestClock).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, type Message, Provider, type StreamEvent } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as OpenAI from "../../src/provider/openai/OpenAI.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import { assertValidHistory, label, textOf } from "../utils/events.js"
import * as Faults from "../utils/faults.js"
import * as OpenAIServer from "../utils/openaiServer.js"

const PROMPT = "What is the total of the values?"
const QUERY = "SELECT sum(x) AS total FROM (VALUES (1), (2), (3), (36)) AS t(x)"
const SAFE_ID = /^[a-zA-Z0-9_-]+$/

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const overloaded = AnthropicServer.errorReply(529, "overloaded_error", "Overloaded")

const overloadedAfter = (pieces: ReadonlyArray<string>): string =>
  AnthropicServer.sse(Faults.textEvents(pieces).slice(0, 2 + pieces.length)) +
  `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`

const openaiText = (pieces: ReadonlyArray<string>) => OpenAIServer.sse(OpenAIServer.textChunks(pieces))

/** An OpenAI turn that reasons (no signature, as these servers send it), then calls `sql` with an id Anthropic would refuse. */
const openaiReasonsThenQueries = OpenAIServer.sse([
  OpenAIServer.chunk({ role: "assistant", content: null }),
  OpenAIServer.chunk({ reasoning_content: "I should add the values up in SQL." }),
  OpenAIServer.chunk({
    tool_calls: [{ index: 0, id: "functions.sql:0", type: "function", function: { name: "sql", arguments: "" } }]
  }),
  OpenAIServer.chunk({ tool_calls: [{ index: 0, function: { arguments: JSON.stringify({ query: QUERY }) } }] }),
  OpenAIServer.chunk({}, "tool_calls"),
  OpenAIServer.usageChunk({ prompt: 20, completion: 10 })
])

/**
 * Answers as the Messages API would check the request first: a `thinking` block needs a
 * signature, tool ids must match `^[a-zA-Z0-9_-]+$`, and every `tool_result` must answer a
 * `tool_use` of the message before it.
 */
const anthropicChecks =
  (reply: AnthropicServer.Reply): AnthropicServer.Script =>
  (request) => {
    const messages = request.body.messages as Array<Message.Message>
    for (let i = 0; i < messages.length; i++) {
      for (const block of messages[i]!.content as Array<{ type: string; [key: string]: unknown }>) {
        if (block.type === "thinking" && (typeof block.signature !== "string" || block.signature === "")) {
          return AnthropicServer.errorReply(400, "invalid_request_error", `messages.${i}: thinking.signature is empty`)
        }
        const id = block.type === "tool_use" ? block.id : block.type === "tool_result" ? block.tool_use_id : undefined
        if (typeof id === "string" && !SAFE_ID.test(id)) {
          return AnthropicServer.errorReply(400, "invalid_request_error", `messages.${i}: tool id ${id} is invalid`)
        }
      }
    }
    assertValidHistory(messages, "the request to Anthropic")
    return reply
  }

const layers = (anthropic: AnthropicServer.AnthropicServer, openai: OpenAIServer.OpenAIServer) =>
  Provider.layerFallback([
    Anthropic.layer({ model: "claude-test", apiKey: "sk-ant-test", baseURL: anthropic.url }),
    OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: openai.url, preset: "openai" })
  ])

const setup = (options: Agent.Options<never> = {}) =>
  Effect.gen(function* () {
    const anthropic = yield* AnthropicServer.make()
    const openai = yield* OpenAIServer.make()
    const agent = yield* Agent.make({ system: "You are a data analyst.", retry: false, ...options }).pipe(
      Effect.provide(layers(anthropic, openai))
    )
    return { anthropic, openai, agent }
  })

describe("Provider.fallback under the agent", () => {
  it.live(
    "a tool loop across a fallback: the secondary calls sql, the next turn goes to the primary with a history it takes",
    () =>
      Effect.gen(function* () {
        const { anthropic, openai, agent } = yield* setup()
        anthropic.enqueue(overloaded, anthropicChecks({ sse: Faults.textSse(["The total ", "is 42."]) }))
        openai.enqueue({ sse: openaiReasonsThenQueries, chunkSize: 11 })
        const session = yield* agent.session()
        const result = yield* session.askResult(PROMPT)

        assert.strictEqual(result.text, "The total is 42.")
        assert.strictEqual(result.turns, 2)
        assert.deepStrictEqual(json(result.answeredBy), [
          { provider: "openai", model: "gpt-test" },
          { provider: "anthropic", model: "claude-test" }
        ])
        assert.strictEqual(anthropic.requests.length, 2)
        assert.strictEqual(openai.requests.length, 1)

        // what Anthropic got: the OpenAI turn without its unsigned thinking, one safe id on both sides
        const sent = (yield* Effect.promise(() => anthropic.request(1))).body.messages
        assert.deepStrictEqual(
          sent.map((message: Message.Message) => [message.role, message.content.map((block) => block.type)]),
          [
            ["user", ["text"]],
            ["assistant", ["tool_use"]],
            ["user", ["tool_result"]]
          ]
        )
        const use = sent[1].content[0]
        assert.match(use.id, SAFE_ID)
        assert.notStrictEqual(use.id, "functions.sql:0")
        assert.strictEqual(sent[2].content[0].tool_use_id, use.id)
        assert.deepStrictEqual(use.input, { query: QUERY })
        assert.include(JSON.stringify(sent[2].content[0].content), "42")

        // the session's own history keeps the turn as the secondary wrote it
        const history = yield* session.history
        const written = history[1]!.content as Array<{ type: string; [key: string]: unknown }>
        assert.deepStrictEqual(
          written.map((block) => block.type),
          ["thinking", "tool_use"]
        )
        assert.strictEqual(written[1]!.id, "functions.sql:0")
        assert.strictEqual((history[2]!.content[0] as Message.ToolResultBlock).tool_use_id, "functions.sql:0")
      })
  )

  it.live("a primary that fails after output: the consumer gets discard, the history only the secondary's turn", () =>
    Effect.gen(function* () {
      const { anthropic, openai, agent } = yield* setup({ builtinTools: false })
      anthropic.enqueue(
        { sse: overloadedAfter(["Partial ", "from Anthro"]) },
        { sse: Faults.textSse(["Back on the primary."]) }
      )
      openai.enqueue({ sse: openaiText(["Final ", "from OpenAI."]) })
      const session = yield* agent.session()
      const events = json([...(yield* Stream.runCollect(session.askStream(PROMPT)))]) as Array<StreamEvent.StreamEvent>
      const at = events.findIndex((event) => event.type === "discard")
      assert.isAbove(at, 0)
      assert.strictEqual(events.filter((event) => event.type === "discard").length, 1)
      assert.strictEqual(textOf(events.slice(0, at)), "Partial from Anthro")
      assert.strictEqual(textOf(events.slice(at + 1)), "Final from OpenAI.")
      assert.strictEqual(label(events[at + 1]!), "message_start")
      assert.strictEqual(events[events.length - 1]!.type, "message_stop")

      const history = yield* session.history
      assert.deepStrictEqual(json(history), [
        { role: "user", content: [{ type: "text", text: PROMPT }] },
        { role: "assistant", content: [{ type: "text", text: "Final from OpenAI." }] }
      ])
      // Anthropic's 10 in / 1 out of the dropped attempt and OpenAI's 12 in / 2 out
      const usage = yield* session.usage
      assert.strictEqual(usage.inputTokens, 22)
      assert.strictEqual(usage.outputTokens, 3)

      // the next ask starts at the primary again
      const next = yield* session.askResult("And now?")
      assert.strictEqual(next.text, "Back on the primary.")
      assert.deepStrictEqual(json(next.answeredBy), [{ provider: "anthropic", model: "claude-test" }])
      assert.strictEqual(openai.requests.length, 1)
    })
  )

  it.live("the agent's retry wraps the chain: after every provider failed, it runs again from the primary", () =>
    Effect.gen(function* () {
      const { anthropic, openai, agent } = yield* setup({
        builtinTools: false,
        retry: { schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 2 })) }
      })
      anthropic.enqueue(overloaded, { sse: Faults.textSse(["Second run."]) })
      openai.enqueue(OpenAIServer.errorReply(503, "server_error", "Service unavailable"))
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Second run.")
      assert.strictEqual(result.attempts, 2)
      assert.deepStrictEqual(json(result.answeredBy), [{ provider: "anthropic", model: "claude-test" }])
      assert.strictEqual(anthropic.requests.length, 2)
      assert.strictEqual(openai.requests.length, 1)
    })
  )

  it.effect("a primary that sends nothing within the first-event limit times out and the chain moves on", () =>
    Effect.gen(function* () {
      const { anthropic, openai, agent } = yield* setup({ builtinTools: false, timeouts: { firstEvent: "30 seconds" } })
      anthropic.enqueue({ hang: true })
      openai.enqueue({ sse: openaiText(["Answered ", "instead."]) })
      const fiber = yield* agent.runResult(PROMPT).pipe(Effect.forkChild)
      yield* Effect.promise(() => anthropic.request(0))
      yield* TestClock.adjust(Duration.seconds(29))
      assert.isUndefined(fiber.pollUnsafe())
      assert.strictEqual(openai.requests.length, 0)
      yield* TestClock.adjust(Duration.seconds(1))
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.text, "Answered instead.")
      assert.deepStrictEqual(json(result.answeredBy), [{ provider: "openai", model: "gpt-test" }])
      assert.strictEqual(yield* Effect.promise(() => anthropic.outcome(0)), "clientClosed")
    })
  )

  it.live("without a chain, answeredBy names the agent's provider and the model each response named", () =>
    Effect.gen(function* () {
      const anthropic = yield* AnthropicServer.make()
      anthropic.enqueue({ sse: Faults.toolUseSse("toolu_1", "sql", { query: "SELECT 1 AS one" }) })
      anthropic.enqueue({ sse: Faults.textSse(["One."]) })
      const agent = yield* Agent.make({ retry: false }).pipe(
        Effect.provide(Anthropic.layer({ model: "claude-configured", apiKey: "sk-ant-test", baseURL: anthropic.url }))
      )
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "One.")
      assert.deepStrictEqual(json(result.answeredBy), [
        { provider: "anthropic", model: "claude-test" },
        { provider: "anthropic", model: "claude-test" }
      ])
    })
  )
})
