/**
 * The OpenAI-compatible provider under the whole agent: a tool loop with the built-in `sql` tool,
 * retries of dropped connections and rate limits, the idle deadline, and the real streams of the
 * conformance corpus (when the corpus is on this machine).
 */
import { existsSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schedule, Stream } from "effect"
import { checkFixture, fixtures } from "../../../scripts/conformance/openai.js"
import { Agent, HarnessError, type StreamEvent } from "../../../src/index.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

const MODEL = "gpt-test"
const KEY = "sk-test"
const PROMPT = "What is the total of the values?"

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

const fastRetry: Agent.RetryOptions = { schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 3 })) }

const serverWith = (...replies: ReadonlyArray<OpenAIServer.Script>) =>
  Effect.tap(OpenAIServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

const agentOn = (server: OpenAIServer.OpenAIServer, options: Agent.Options<never> = {}) =>
  Agent.make({ system: "You are a data analyst.", retry: false, ...options }).pipe(
    Effect.provide(OpenAI.layer({ model: MODEL, apiKey: KEY, baseURL: server.url }))
  )

const textSse = (pieces: ReadonlyArray<string>, id = "chatcmpl-text") =>
  OpenAIServer.sse(OpenAIServer.textChunks(pieces, { id }))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause) as E
}

describe("OpenAI provider under the agent", () => {
  it.live("a full tool loop with the sql tool: the model's query runs, its result goes back, the answer ends", () =>
    Effect.gen(function* () {
      const query = "SELECT sum(x) AS total FROM (VALUES (1), (2), (3), (36)) AS t(x)"
      const call = OpenAIServer.sse(
        OpenAIServer.toolCallChunks([
          // arguments cut inside the SQL string and between key and value
          { id: "call_sql", name: "sql", pieces: ['{"que', `ry": "${query.slice(0, 20)}`, `${query.slice(20)}"}`] }
        ])
      )
      const server = yield* serverWith({ sse: call, chunkSize: 7 }, (request) => {
        // the answer reads the tool result the harness sent back
        const tool = request.body.messages.find((message: { role: string }) => message.role === "tool")
        const result = JSON.parse(String(tool.content).split("\n")[0]!)
        return { sse: textSse([`The total is ${result.rows[0][0]}.`], "chatcmpl-answer") }
      })
      const agent = yield* agentOn(server)
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "The total is 42.")
      assert.strictEqual(result.status, "completed")
      assert.strictEqual(result.turns, 2)
      assert.strictEqual(result.stopReason, "end_turn")
      assert.deepStrictEqual(json(result.usage), {
        inputTokens: 32,
        outputTokens: 11,
        cacheReadTokens: 0,
        cacheWriteTokens: 0
      })

      const first = (yield* Effect.promise(() => server.request(0))).body
      assert.includeMembers(
        first.tools.map((tool: { function: { name: string } }) => tool.function.name),
        ["sql"]
      )
      const second = (yield* Effect.promise(() => server.request(1))).body
      const roles = second.messages.map((message: { role: string }) => message.role)
      assert.deepStrictEqual(roles, ["system", "user", "assistant", "tool"])
      const assistant = second.messages[2]
      assert.strictEqual(assistant.content, null)
      assert.deepStrictEqual(assistant.tool_calls, [
        { id: "call_sql", type: "function", function: { name: "sql", arguments: JSON.stringify({ query }) } }
      ])
      assert.strictEqual(second.messages[3].tool_call_id, "call_sql")
      assert.include(second.messages[3].content, "42")
    })
  )

  it.live("a connection dropped mid-stream is retried: discard, then the new attempt's events", () =>
    Effect.gen(function* () {
      const dropped = textSse(["Hello ", "wor", "ld"], "chatcmpl-dropped")
      const server = yield* serverWith(
        { sse: dropped, dropAfterBytes: OpenAIServer.bytesThroughMessage(dropped, 3) },
        { sse: textSse(["Second ", "attempt."], "chatcmpl-second") }
      )
      const agent = yield* agentOn(server, { retry: fastRetry, builtinTools: false })
      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))]) as Array<StreamEvent.StreamEvent>
      const discard = events.findIndex((event) => event.type === "discard")
      assert.isAbove(discard, 0, "a discard event after the partial output")
      const text = (slice: ReadonlyArray<StreamEvent.StreamEvent>) =>
        slice
          .map((event) =>
            event.type === "content_block_delta" && event.delta.type === "text_delta"
              ? (event.delta as { text: string }).text
              : ""
          )
          .join("")
      assert.strictEqual(text(events.slice(0, discard)), "Hello wor")
      assert.strictEqual(text(events.slice(discard + 1)), "Second attempt.")
      assert.strictEqual(events[events.length - 1]!.type, "message_stop")
      assert.strictEqual(yield* Effect.promise(() => server.outcome(0)), "dropped")
    })
  )

  it.live("the same drop without retries fails with Connection, retryable, with the text so far", () =>
    Effect.gen(function* () {
      const dropped = textSse(["Hello ", "wor", "ld"])
      const server = yield* serverWith({ sse: dropped, dropAfterBytes: OpenAIServer.bytesThroughMessage(dropped, 3) })
      const agent = yield* agentOn(server, { builtinTools: false })
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.instanceOf(error, HarnessError.ProviderError)
      const failure = error as HarnessError.ProviderError
      assert.strictEqual(failure.reason, "Connection")
      assert.isTrue(failure.isRetryable)
      assert.strictEqual(failure.partial?.text, "Hello wor")
    })
  )

  it.live("429 with retry-after: 1 then success waits the server's second", () =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const timed =
        (reply: OpenAIServer.Reply): OpenAIServer.Script =>
        () => {
          times.push(performance.now())
          return reply
        }
      const server = yield* serverWith(
        timed(OpenAIServer.errorReply(429, "requests", "Rate limit reached", { headers: { "retry-after": "1" } })),
        timed({ sse: textSse(["Fine."]) })
      )
      const agent = yield* agentOn(server, { retry: fastRetry, builtinTools: false })
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Fine.")
      assert.strictEqual(result.attempts, 2)
      assert.isAtLeast(times[1]! - times[0]!, 900, "the retry honours retry-after")
    })
  )

  it.live("a stall longer than the idle timeout fails with Timeout idle and closes the request", () =>
    Effect.gen(function* () {
      const sse = textSse(["Hello ", "stalled ", "world"])
      const server = yield* serverWith({ sse, stallAfterBytes: OpenAIServer.bytesThroughMessage(sse, 3) })
      const agent = yield* agentOn(server, { builtinTools: false, timeouts: { idle: "300 millis" } })
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.instanceOf(error, HarnessError.Timeout)
      const timeout = error as HarnessError.Timeout
      assert.strictEqual(timeout.phase, "idle")
      assert.strictEqual(timeout.partial.text, "Hello stalled ")
      assert.strictEqual(yield* Effect.promise(() => server.outcome(0)), "clientClosed")
    })
  )
})

describe("OpenAI provider: the first-event deadline", () => {
  it.live("a server that sends no headers within the first-event limit: Timeout firstEvent, the request aborted", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: textSse(["late"]), headersDelayMs: 3_000 })
      const agent = yield* agentOn(server, { builtinTools: false, timeouts: { firstEvent: "200 millis" } })
      const started = performance.now()
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.instanceOf(error, HarnessError.Timeout)
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
      assert.isBelow(performance.now() - started, 2_000)
      assert.strictEqual(yield* Effect.promise(() => server.outcome(0)), "clientClosed")
    })
  )
})

/** The corpus of real streams; `OPENAI_CONFORMANCE_DIR` points elsewhere. It is not in the repository. */
const corpus =
  [
    process.env.OPENAI_CONFORMANCE_DIR,
    new URL("../../../../shared/conformance/openai-real", import.meta.url).pathname,
    new URL("../../../../../shared/conformance/openai-real", import.meta.url).pathname
  ].find((dir) => dir !== undefined && dir !== "" && existsSync(dir)) ?? "(the openai-real corpus was not found)"

describe.skipIf(!existsSync(corpus))("OpenAI provider: real streams of the conformance corpus", () => {
  const names = existsSync(corpus) ? fixtures(corpus) : []
  it("the corpus has its 40 streams", () => {
    assert.strictEqual(names.length, 40)
  })
  for (const name of names) {
    it(`${name} reads as the stream carried it`, async () => {
      const result = await checkFixture(corpus, name)
      assert.isTrue(result.ok, result.detail)
    })
  }
})
