import Anthropic from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Schedule } from "effect"
import { HarnessError, Mock } from "../../src/index.js"
import { call, openSse, startServer, TOKEN_A } from "./helpers.js"

const usage = (inputTokens: number, outputTokens: number) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens: 1,
  cacheWriteTokens: 0
})

/** Two harness tool calls (list_variables, then sql), then an answer that quotes the sql result. */
const twoToolCalls: ReadonlyArray<Mock.Turn> = [
  { toolCalls: [{ name: "list_variables" }], text: "Checking.", usage: usage(100, 10) },
  { toolCalls: [{ name: "sql", input: { query: "select 42 as answer" } }], usage: usage(200, 20) },
  Mock.reply(({ lastToolResults }) => ({
    text: `The answer is in ${String(lastToolResults[0]?.content).slice(0, 40)}`,
    usage: usage(300, 30)
  }))
]

const request = {
  model: "claude-sonnet-4-6",
  max_tokens: 1000,
  messages: [{ role: "user" as const, content: "What is the answer?" }]
}

/** The error a call failed with (typed loosely: the SDK's error classes carry the body as `error`). */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's error body
const failed = (error: unknown): any => error

const sdk = (url: string, apiKey = TOKEN_A) => new Anthropic({ apiKey, baseURL: url, maxRetries: 0 })

const recorded = (context: Context.Context<Mock.Recorder>) => Context.get(context, Mock.Recorder).requests

describe("POST /v1/messages", () => {
  it.live(
    "the official SDK's beta stream finalMessage() holds the whole ask: two tool calls with their results, then the answer",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* startServer({ turns: twoToolCalls, chunkSize: 5 })
          const message = yield* Effect.promise(() => sdk(url).beta.messages.stream(request).finalMessage())
          assert.deepStrictEqual(
            message.content.map((block) => block.type),
            ["text", "mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result", "text"]
          )
          const [intro, list, listed, sql, result, answer] = message.content as Array<any>
          assert.strictEqual(intro.text, "Checking.")
          assert.deepStrictEqual(list, {
            type: "mcp_tool_use",
            id: "toolu_mock_0_0",
            name: "list_variables",
            server_name: "data-harness",
            input: {}
          })
          assert.strictEqual(listed.tool_use_id, "toolu_mock_0_0")
          assert.isFalse(listed.is_error)
          assert.deepStrictEqual(sql.input, { query: "select 42 as answer" })
          assert.strictEqual(result.tool_use_id, sql.id)
          assert.include(result.content[0].text, "42")
          assert.strictEqual(answer.text, `The answer is in ${result.content[0].text.slice(0, 40)}`)
          assert.strictEqual(message.stop_reason, "end_turn")
          assert.strictEqual(message.model, "mock-model")
          assert.match(message.id, /^msg_/)
          // usage summed over the three turns
          assert.strictEqual(message.usage.input_tokens, 600)
          assert.strictEqual(message.usage.output_tokens, 60)
          assert.strictEqual(message.usage.cache_read_input_tokens, 3)
        })
      )
  )

  it.live(
    "the stream is one message in the API's SSE format: blocks numbered across turns, usage summed at the end",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* startServer({ turns: twoToolCalls, chunkSize: 5 })
          const sse = yield* openSse(url, "POST", "/v1/messages", { body: { ...request, stream: true } })
          assert.strictEqual(sse.status, 200)
          const events = yield* sse.toEnd
          for (const event of events) assert.strictEqual(event.event, event.data.type)
          const types = events.map((e) => e.event)
          assert.strictEqual(types.filter((t) => t === "message_start").length, 1)
          assert.strictEqual(types.filter((t) => t === "message_delta").length, 1)
          assert.deepStrictEqual(types.slice(-2), ["message_delta", "message_stop"])
          assert.strictEqual(types[0], "message_start")
          const starts = events.filter((e) => e.event === "content_block_start").map((e) => e.data.index)
          assert.deepStrictEqual(starts, [0, 1, 2, 3, 4, 5])
          // every delta and stop refers to a block already started, each block stops once
          const started = new Set<number>()
          const stopped: Array<number> = []
          for (const event of events) {
            if (event.event === "content_block_start") started.add(event.data.index)
            if (event.event === "content_block_delta") assert.isTrue(started.has(event.data.index))
            if (event.event === "content_block_stop") stopped.push(event.data.index)
          }
          assert.deepStrictEqual(stopped, [0, 1, 2, 3, 4, 5])
          const end = events.at(-2)!.data
          assert.deepStrictEqual(end.delta, { stop_reason: "end_turn", stop_sequence: null })
          assert.deepStrictEqual(end.usage, {
            input_tokens: 600,
            output_tokens: 60,
            cache_read_input_tokens: 3,
            cache_creation_input_tokens: 0
          })
        })
      )
  )

  it.live("without stream the same message comes back as JSON", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [...twoToolCalls, ...twoToolCalls], chunkSize: 5 })
        const streamed = yield* Effect.promise(() => sdk(url).beta.messages.stream(request).finalMessage())
        const whole = yield* Effect.promise(() => sdk(url).beta.messages.create(request))
        // the same but for the ids (the scripted model numbers its tool calls by turn) and the
        // fields only the SDK's accumulator adds
        const normal = (message: object) => {
          const {
            id: _id,
            parsed_output: _parsed,
            ...rest
          } = JSON.parse(JSON.stringify(message).replace(/toolu_mock_\d+_/g, "toolu_"))
          return rest
        }
        assert.deepStrictEqual(normal(whole), normal(streamed))
      })
    )
  )

  it.live("a tool of the caller's ends the message with tool_use; the follow-up carrying its result continues", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, context } = yield* startServer({
          turns: [
            { toolCalls: [{ name: "list_variables" }, { name: "get_weather", input: { city: "Oslo" } }] },
            Mock.reply(({ lastToolResults }) =>
              Mock.text(lastToolResults.map((r) => `${r.tool_use_id}=${JSON.stringify(r.content)}`).join(" "))
            )
          ]
        })
        const tools = [
          {
            name: "get_weather",
            description: "The weather in a city.",
            input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] }
          }
        ]
        const client = sdk(url)
        const first = yield* Effect.promise(() => client.beta.messages.stream({ ...request, tools }).finalMessage())
        assert.strictEqual(first.stop_reason, "tool_use")
        assert.deepStrictEqual(
          first.content.map((b) => b.type),
          ["mcp_tool_use", "tool_use", "mcp_tool_result"]
        )
        const call = first.content.find((b) => b.type === "tool_use")!
        assert.deepStrictEqual(call, {
          type: "tool_use",
          id: "toolu_mock_0_1",
          name: "get_weather",
          input: { city: "Oslo" }
        })
        // the model was offered the caller's tool with its schema
        const firstRequest = (yield* recorded(context))[0]!
        assert.deepStrictEqual(
          firstRequest.tools.find((t) => t.name === "get_weather")?.input_schema,
          tools[0]!.input_schema
        )

        const second = yield* Effect.promise(() =>
          client.beta.messages.create({
            ...request,
            tools,
            messages: [
              ...request.messages,
              { role: "assistant", content: first.content },
              { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "Sunny, 21 C" }] }
            ]
          })
        )
        assert.strictEqual(second.stop_reason, "end_turn")
        assert.deepStrictEqual<unknown>(second.content, [
          { type: "text", text: 'toolu_mock_0_0="No data handles yet." toolu_mock_0_1="Sunny, 21 C"' }
        ])
        // the model read the conversation as it happened: one assistant turn with both calls, one
        // user message with both results, and nothing added
        const followUp = (yield* recorded(context))[1]!
        assert.deepStrictEqual(
          followUp.messages.map((m) => [m.role, m.content.map((b) => b.type)]),
          [
            ["user", ["text"]],
            ["assistant", ["tool_use", "tool_use"]],
            ["user", ["tool_result", "tool_result"]]
          ]
        )
        assert.notInclude(JSON.stringify(followUp.messages), "data-harness:continue")
      })
    )
  )

  it.live(
    "the request's parameters reach every model call, tool_choice only the first, the system prompt the agent",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url, context } = yield* startServer({ turns: [Mock.toolCall("list_variables"), Mock.text("done")] })
          // the SDK's types no longer carry temperature and top_k; the API (and this server) take them
          const response = yield* call(url, "POST", "/v1/messages", {
            body: {
              ...request,
              system: "Answer in French.",
              temperature: 0.2,
              top_k: 5,
              stop_sequences: ["END"],
              metadata: { user_id: "user-7" },
              tool_choice: { type: "any" }
            }
          })
          assert.strictEqual(response.status, 200)
          const requests = yield* recorded(context)
          assert.strictEqual(requests.length, 2)
          for (const sent of requests) {
            assert.strictEqual(sent.temperature, 0.2)
            assert.strictEqual(sent.topK, 5)
            assert.deepStrictEqual(sent.stopSequences, ["END"])
            assert.deepStrictEqual(sent.metadata, { userId: "user-7" })
            assert.strictEqual(sent.maxTokens, 1000)
            assert.include(JSON.stringify(sent.system), "Answer in French.")
          }
          assert.deepStrictEqual(requests[0]!.toolChoice, { type: "any" })
          assert.isUndefined(requests[1]!.toolChoice)
        })
      )
  )

  it.live("bad requests are invalid_request_errors naming the field, in the API's error shape", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] })
        const bad = yield* call(url, "POST", "/v1/messages", {
          body: { model: 7, max_tokens: 0, messages: [{ role: "robot", content: "hi" }] }
        })
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(bad.body.type, "error")
        assert.strictEqual(bad.body.error.type, "invalid_request_error")
        for (const field of ["model", "max_tokens", "messages.0.role"]) assert.include(bad.body.error.message, field)
        const clash = yield* Effect.promise(() =>
          sdk(url)
            .messages.create({ ...request, tools: [{ name: "sql", input_schema: { type: "object" } }] })
            .then(() => undefined, failed)
        )
        assert.instanceOf(clash, Anthropic.BadRequestError)
        assert.include(failed(clash).error.error.message, "tools.0.name")
        const unauthorized = yield* Effect.promise(() =>
          sdk(url, "not-a-token")
            .messages.create(request)
            .then(() => undefined, failed)
        )
        assert.instanceOf(unauthorized, Anthropic.AuthenticationError)
        assert.deepStrictEqual(failed(unauthorized).error.error.type, "authentication_error")
      })
    )
  )

  it.live(
    "a provider failure before any output is an HTTP error with the API's status; after output, an error event",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const overloaded = new HarnessError.ProviderError({
            reason: "Overloaded",
            message: "The model is overloaded.",
            provider: "mock"
          })
          const { url } = yield* startServer(
            {
              turns: [
                Mock.fail(
                  new HarnessError.ProviderError({
                    reason: "InvalidRequest",
                    message: "prompt is too long",
                    provider: "mock"
                  })
                ),
                Mock.fail(overloaded, "Half an ans")
              ]
            },
            { agent: { retry: false } }
          )
          const before = yield* Effect.promise(() =>
            sdk(url)
              .beta.messages.stream(request)
              .finalMessage()
              .then(() => undefined, failed)
          )
          assert.instanceOf(before, Anthropic.BadRequestError)
          assert.include(failed(before).error.error.message, "prompt is too long")

          const texts: Array<string> = []
          const after = yield* Effect.promise(() => {
            const stream = sdk(url).beta.messages.stream(request)
            stream.on("text", (text) => texts.push(text))
            return stream.finalMessage().then(() => undefined, failed)
          })
          assert.instanceOf(after, Anthropic.APIError)
          assert.strictEqual(failed(after).error.error.type, "overloaded_error")
          assert.strictEqual(texts.join(""), "Half an ans")
        })
      )
  )

  it.live("when the harness hits its turn limit the message ends with pause_turn", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, context } = yield* startServer(
          { turns: [Mock.toolCall("list_variables"), Mock.toolCall("list_variables"), Mock.text("Finally.")] },
          { agent: { maxTurns: 2 } }
        )
        const client = sdk(url)
        const message = yield* Effect.promise(() => client.beta.messages.stream(request).finalMessage())
        assert.strictEqual(message.stop_reason, "pause_turn")
        assert.deepStrictEqual(
          message.content.map((b) => b.type),
          ["mcp_tool_use", "mcp_tool_result", "mcp_tool_use", "mcp_tool_result"]
        )
        // sent back as it is, the message continues
        const next = yield* Effect.promise(() =>
          client.beta.messages.create({
            ...request,
            messages: [...request.messages, { role: "assistant", content: message.content }]
          })
        )
        assert.strictEqual(next.stop_reason, "end_turn")
        assert.deepStrictEqual<unknown>(next.content, [{ type: "text", text: "Finally." }])
        const continued = (yield* recorded(context))[2]!
        assert.deepStrictEqual(
          continued.messages.map((m) => [m.role, m.content.map((b) => b.type)]),
          [
            ["user", ["text"]],
            ["assistant", ["tool_use"]],
            ["user", ["tool_result"]],
            ["assistant", ["tool_use"]],
            ["user", ["tool_result"]]
          ]
        )
      })
    )
  )

  it.live("a client that leaves mid-stream stops the ask and frees the tenant's slot", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer(
          { turns: [Mock.stall("thinking..."), Mock.text("second")] },
          { limits: { maxConcurrentAsks: 1 } }
        )
        const sse = yield* openSse(url, "POST", "/v1/messages", { body: { ...request, stream: true } })
        yield* sse.until((e) => e.event === "content_block_delta")
        yield* sse.close
        // the server notices the closed socket and releases the slot: retried until it has
        const next = yield* call(url, "POST", "/v1/messages", { body: request }).pipe(
          Effect.repeat({ until: (r) => r.status !== 429, schedule: Schedule.spaced("5 millis") }),
          Effect.timeout("5 seconds")
        )
        assert.strictEqual(next.status, 200)
        assert.deepStrictEqual(next.body.content, [{ type: "text", text: "second" }])
      })
    )
  )

  it.live("the GA stream keeps the harness's blocks (without their streamed input)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: twoToolCalls })
        const message = yield* Effect.promise(() => sdk(url).messages.stream(request).finalMessage())
        const types = message.content.map((b) => (b as { type: string }).type)
        assert.deepStrictEqual(types, [
          "text",
          "mcp_tool_use",
          "mcp_tool_result",
          "mcp_tool_use",
          "mcp_tool_result",
          "text"
        ])
      })
    )
  )
})
