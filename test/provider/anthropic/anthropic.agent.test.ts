/**
 * The Anthropic fixtures through the whole agent: `agent.runStream` and `agent.runResult` over
 * `Anthropic.layer`, against the local test server, compared with what the official SDK's
 * `finalMessage()` assembles from the same bytes.
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schedule, Schema, Stream } from "effect"
import { Agent, HarnessError, Provider, type StreamEvent, Tool } from "../../../src/index.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"

const KEY = "sk-ant-api03-TEST-agent-do-not-leak-5d1e"
const MODEL = "claude-sonnet-4-6"
const PROMPT = "What is the mean of [1, 2, 3, 4, 5]?"

const expectedEvents = AnthropicServer.expectedEvents

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const serverWith = (...replies: ReadonlyArray<AnthropicServer.Script>) =>
  Effect.tap(AnthropicServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

const layerFor = (server: AnthropicServer.AnthropicServer) =>
  Anthropic.layer({ model: MODEL, apiKey: KEY, baseURL: server.url })

/** An agent without built-in tools, so requests carry only what a test gives it. */
const agentOn = (server: AnthropicServer.AnthropicServer, options: Agent.Options<never> = {}) =>
  Agent.make({ system: "You are a data analyst.", builtinTools: false, retry: false, ...options }).pipe(
    Effect.provide(layerFor(server))
  )

const sdkFinalMessage = (server: AnthropicServer.AnthropicServer) =>
  Effect.promise(() =>
    new AnthropicSdk({ apiKey: KEY, baseURL: server.url, maxRetries: 0 }).messages
      .stream({ model: MODEL, max_tokens: 1024, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
  )

const sdkText = (message: AnthropicSdk.Message) =>
  message.content.map((block) => (block.type === "text" ? block.text : "")).join("")

const sdkUsage = (message: AnthropicSdk.Message) => ({
  inputTokens: message.usage.input_tokens,
  outputTokens: message.usage.output_tokens,
  cacheReadTokens: message.usage.cache_read_input_tokens ?? 0,
  cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause) as E
}

// Fixtures whose turn ends the ask (no tool calls, no continuation).
const finalFixtures = [
  "text.sse",
  "cache-usage.sse",
  "thinking.sse",
  "citations.sse",
  "server-tool.sse",
  "unknown.sse",
  "stop-sequence.sse",
  "refusal.sse",
  "context-window.sse"
] as const

describe("Anthropic fixtures through the agent", () => {
  for (const name of finalFixtures) {
    it.live(`agent.runStream passes ${name} through; folding it equals the SDK's finalMessage()`, () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture(name)
        const server = yield* serverWith({ sse, chunkSize: 11 }, { sse })
        const agent = yield* agentOn(server)
        const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
        assert.deepStrictEqual(events, expectedEvents(name))
        const ours = yield* Provider.collect(Stream.fromIterable(events as Array<StreamEvent.ProviderEvent>))
        const theirs = yield* sdkFinalMessage(server)
        assert.deepStrictEqual(json<unknown>(ours.content), json<unknown>(theirs.content))
        assert.strictEqual(ours.stopReason, theirs.stop_reason)
        assert.deepStrictEqual(json(ours.usage), sdkUsage(theirs))
      })
    )

    it.live(`agent.runResult over ${name} has the SDK's text, stop reason and usage`, () =>
      Effect.gen(function* () {
        const sse = AnthropicServer.fixture(name)
        const server = yield* serverWith({ sse, chunkSize: 1 }, { sse })
        const agent = yield* agentOn(server)
        const result = yield* agent.runResult(PROMPT)
        const theirs = yield* sdkFinalMessage(server)
        assert.strictEqual(result.text, sdkText(theirs))
        assert.strictEqual(result.stopReason, theirs.stop_reason)
        assert.deepStrictEqual(json(result.usage), sdkUsage(theirs))
        assert.strictEqual(result.turns, 1)
        assert.strictEqual(result.status, "completed")
      })
    )
  }

  it.live("a tool call from the stream runs the tool and its result goes back to the API", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: AnthropicServer.fixture("tool-use.sse"), chunkSize: 5 },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const inputs: Array<unknown> = []
      const weather = Tool.make("get_weather", {
        description: "The weather at a place.",
        parameters: Schema.Struct({
          location: Schema.String,
          unit: Schema.String,
          days: Schema.Number,
          threshold: Schema.Number,
          note: Schema.String,
          tags: Schema.Array(Schema.Unknown)
        }),
        handler: (input) =>
          Effect.sync(() => {
            inputs.push(input)
            return "Sunny, 21°C"
          })
      })
      const agent = yield* agentOn(server, { tools: [weather] })
      const events = [...(yield* Stream.runCollect(agent.runStream(PROMPT)))]
      assert.deepStrictEqual(inputs, [AnthropicServer.toolUseInput])
      const results = events.filter((event) => event.type === "tool_result")
      assert.deepStrictEqual(json(results), [
        {
          type: "tool_result",
          tool_use_id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
          tool_name: "get_weather",
          content: "Sunny, 21°C",
          is_error: false
        }
      ])
      // The second request carries the assistant turn as streamed and the tool result.
      const second = (yield* Effect.promise(() => server.request(1))).body
      const [, assistant, user] = second.messages
      assert.strictEqual(assistant.role, "assistant")
      assert.deepStrictEqual(
        assistant.content.map((block: { type: string }) => block.type),
        ["text", "tool_use"]
      )
      assert.deepStrictEqual(assistant.content[1].input, inputs[0])
      assert.strictEqual(user.role, "user")
      assert.strictEqual(user.content[0].type, "tool_result")
      assert.strictEqual(user.content[0].tool_use_id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6")
    })
  )

  it.live("two parallel tool calls and empty inputs each get one result; unknown tools are is_error", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: AnthropicServer.fixture("parallel-tools.sse") },
        { sse: AnthropicServer.fixture("empty-tool-input.sse") },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const agent = yield* agentOn(server)
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.turns, 3)
      assert.strictEqual(result.text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
      const second = (yield* Effect.promise(() => server.request(1))).body
      const answers = second.messages[second.messages.length - 1].content
      assert.deepStrictEqual(
        answers.map((block: { tool_use_id: string; is_error?: boolean }) => [block.tool_use_id, block.is_error]),
        [
          ["toolu_01A09q90qw90lq917835lq9", true],
          ["toolu_01B18r81rx81mr806724mr8", true]
        ]
      )
      const third = (yield* Effect.promise(() => server.request(2))).body
      const assistant = third.messages[third.messages.length - 2]
      assert.deepStrictEqual(
        assistant.content.map((block: { input: unknown }) => block.input),
        [{}, {}]
      )
    })
  )

  /**
   * Keeps the first `keep` events of a fixture, ends the turn with a tool call at block `index`
   * so there is a next turn, runs an ask, and returns the assistant message of the next request.
   */
  const assistantSentBack = (events: ReadonlyArray<{ readonly type: string }>, keep: number, index: number) =>
    Effect.gen(function* () {
      const toolCall = [
        {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: "toolu_01Next", name: "list_handles", input: {} }
        },
        { type: "content_block_stop", index },
        { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 9 } },
        { type: "message_stop" }
      ]
      const server = yield* serverWith(
        { sse: AnthropicServer.sse([...events.slice(0, keep), ...toolCall]) },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const agent = yield* agentOn(server)
      yield* agent.runResult(PROMPT)
      const second = (yield* Effect.promise(() => server.request(1))).body
      return second.messages.find((message: { role: string }) => message.role === "assistant")
    })

  it.live("thinking and redacted thinking go back to the API unchanged on the next turn", () =>
    Effect.gen(function* () {
      const events = AnthropicServer.parseSse(AnthropicServer.fixture("thinking.sse"))
      // the thinking blocks and the text block; the tool call goes at block 2
      const assistant = yield* assistantSentBack(events, 8, 2)
      assert.deepStrictEqual(assistant.content.slice(0, 2), [
        {
          type: "thinking",
          thinking: "The user wants the mean. Sum is 1+2+3+4+5 = 15, divided by 5 gives 3 — straightforward.",
          signature:
            "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds9ztUe1whdnZstSoA7tkT8o3m2XkJFhx9tY5nAkP8MAdeZpp8G4MkuiA1N4WVgEKpnQfg8oBwFAP+e2Mx1="
        },
        {
          type: "redacted_thinking",
          data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj2pabGONZx8ey4hNkIRAg=="
        }
      ])
    })
  )

  it.live("an opaque block from the API goes back on the next turn unchanged", () =>
    Effect.gen(function* () {
      const events = AnthropicServer.parseSse(AnthropicServer.fixture("unknown.sse")).filter(
        (event) => event.type !== "message_annotation"
      )
      // the opaque block; the tool call goes at block 1
      const assistant = yield* assistantSentBack(events, 4, 1)
      assert.deepStrictEqual(assistant.content[0], {
        type: "future_widget",
        id: "fw_01Hq2",
        payload: { rows: [1, 2, 3], label: "ünïcödé" }
      })
    })
  )

  it.live("the agent marks the system prompt and the last user block for prompt caching", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
      const agent = yield* agentOn(server)
      yield* agent.runResult(PROMPT)
      const body = (yield* Effect.promise(() => server.request(0))).body
      assert.deepStrictEqual(body.system, [
        { type: "text", text: "You are a data analyst.", cache_control: { type: "ephemeral" } }
      ])
      const last = body.messages[body.messages.length - 1].content
      assert.deepStrictEqual(last[last.length - 1].cache_control, { type: "ephemeral" })
    })
  )
})

describe("Anthropic failures through the agent", () => {
  it.live("a mid-stream overloaded_error without retries fails with the partial text on the error", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: AnthropicServer.fixture("overloaded-midstream.sse") })
      const agent = yield* agentOn(server)
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.instanceOf(error, HarnessError.ProviderError)
      const failure = error as HarnessError.ProviderError
      assert.strictEqual(failure.reason, "Overloaded")
      assert.isTrue(failure.isRetryable)
      assert.strictEqual(failure.partial?.text, "The total revenue is")
    })
  )

  it.live("a mid-stream overloaded_error is retried: the stream says discard, then the new attempt", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: AnthropicServer.fixture("overloaded-midstream.sse") },
        { sse: AnthropicServer.fixture("text.sse") }
      )
      const agent = yield* agentOn(server, { retry: { schedule: Schedule.recurs(2) } })
      const events = [...(yield* Stream.runCollect(agent.runStream(PROMPT)))]
      const types = events.map((event) => event.type)
      const discard = types.indexOf("discard")
      assert.isAbove(discard, 0)
      assert.deepStrictEqual(
        types.slice(discard + 1),
        expectedEvents("text.sse").map((event) => event.type)
      )
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.live("HTTP 529 then success: runResult retries invisibly", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(AnthropicServer.errorReply(529, "overloaded_error", "Overloaded"), {
        sse: AnthropicServer.fixture("text.sse")
      })
      const agent = yield* agentOn(server, { retry: { schedule: Schedule.recurs(2) } })
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
      assert.strictEqual(result.attempts, 2)
    })
  )

  it.live("HTTP 401 is not retried and its error keeps the key out", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(AnthropicServer.errorReply(401, "authentication_error", "invalid x-api-key"))
      const agent = yield* agentOn(server, { retry: { schedule: Schedule.recurs(3) } })
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT))) as HarnessError.ProviderError
      assert.strictEqual(error.reason, "Authentication")
      assert.include(error.message, "ANTHROPIC_API_KEY")
      assert.notInclude(JSON.stringify(error), KEY)
      assert.notInclude(String(error), KEY)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("a stream without message_stop fails the ask with what arrived on the error", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: AnthropicServer.fixture("no-message-stop.sse") })
      const agent = yield* agentOn(server)
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT))) as HarnessError.ProviderError
      assert.instanceOf(error, HarnessError.ProviderError)
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.strictEqual(error.partial?.text, "Half an ans")
    })
  )

  it.live("a consumer of agent.runStream that stops early aborts the HTTP request", () =>
    Effect.gen(function* () {
      const sse = AnthropicServer.fixture("text.sse")
      const server = yield* serverWith({ sse, stallAfterBytes: sse.indexOf("event: content_block_stop") })
      const agent = yield* agentOn(server)
      const first = yield* agent.runStream(PROMPT).pipe(Stream.take(3), Stream.runCollect)
      assert.strictEqual(first.length, 3)
      assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")
    })
  )

  it.live("the layer is the only change: the same agent program runs on the Anthropic layer", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: AnthropicServer.fixture("text.sse") })
      const program = Effect.gen(function* () {
        const agent = yield* Agent.make({ builtinTools: false })
        return yield* agent.run(PROMPT)
      })
      const text = yield* program.pipe(Effect.provide(Layer.fresh(layerFor(server))))
      assert.strictEqual(text, "Grüße aus 東京 🌸 — the mean of [1, 2, 3, 4, 5] is 3.")
    })
  )
})
