/**
 * Resilience with the real Anthropic provider: `Anthropic.layer` (the official SDK over real
 * sockets) against the fault-injecting local test server. Dropped connections, stalls, rate
 * limits, overload (HTTP and in-stream), malformed events, refused connections, bad keys, and
 * interruption, each through `agent.runStream` / `runResult` / `session.askStream` / `ask`.
 *
 * Real sockets need the real clock: every test is `it.live`, with short timeouts and a fast retry
 * schedule so the file stays quick.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Option, Pull, Schedule, Schema, Stream } from "effect"
import { Agent, HarnessError, Message, Provider, type StreamEvent, Tool } from "../../../src/index.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as PullDeadline from "../../../src/provider/pullDeadline.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"
import { assertValidHistory, label, runEvents, textOf } from "../../utils/events.js"
import * as Faults from "../../utils/faults.js"

const MODEL = "claude-test"
const KEY = "sk-test"
const PROMPT = "What is the total revenue?"

/** A fast retry policy: 10 ms apart, at most 3 retries. */
const fastRetry: Agent.RetryOptions = { schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 3 })) }

const serverWith = (...replies: ReadonlyArray<AnthropicServer.Script>) =>
  Effect.tap(AnthropicServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

const layerFor = (baseURL: string, clientOptions?: Anthropic.Options["clientOptions"]) =>
  Anthropic.layer({ model: MODEL, apiKey: KEY, baseURL, ...(clientOptions !== undefined ? { clientOptions } : {}) })

/** An agent without built-in tools over the real provider at `baseURL`; retries off unless given. */
const agentAt = (
  baseURL: string,
  options: Agent.Options<never> = {},
  clientOptions?: Anthropic.Options["clientOptions"]
) =>
  Agent.make({ system: "You are a data analyst.", builtinTools: false, retry: false, ...options }).pipe(
    Effect.provide(layerFor(baseURL, clientOptions))
  )

const agentOn = (server: AnthropicServer.AnthropicServer, options: Agent.Options<never> = {}) =>
  agentAt(server.url, options)

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  return Cause.squash(exit.cause) as E
}

const providerErrorOf = <A, E>(exit: Exit.Exit<A, E>): HarnessError.ProviderError => {
  const error = failureOf(exit)
  assert.instanceOf(error, HarnessError.ProviderError)
  return error as unknown as HarnessError.ProviderError
}

const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

/** The provider events of a rendered turn, as the agent streams them (no `ping`). */
const providerEvents = (pieces: ReadonlyArray<string>, id: string) => json(Faults.textEvents(pieces, { id }))

/** Waits until the server has seen request `index` end, for at most 3 s. */
const outcomeOf = (server: AnthropicServer.AnthropicServer, index: number) =>
  Faults.within(3_000, `the end of request ${index}`, () => server.outcome(index))

/** The messages of request `index`, checked to be a valid history to send. */
const sentHistory = (server: AnthropicServer.AnthropicServer, index: number) =>
  Effect.map(
    Effect.promise(() => server.request(index)),
    ({ body }) => {
      assertValidHistory(body.messages)
      return body.messages
    }
  )

const roles = (messages: ReadonlyArray<{ readonly role: string }>) => messages.map((message) => message.role)

const FIRST = ["Hello ", "wor", "ld"]
const SECOND = ["Second ", "attempt ", "only."]

describe("faults with the Anthropic provider: retries", () => {
  it.live("a connection dropped mid-stream is retried: discard, then the new attempt; attempts 2", () =>
    Effect.gen(function* () {
      const dropped = Faults.textSse(FIRST, { id: "msg_dropped" })
      const drop = { sse: dropped, dropAfterBytes: Faults.bytesThroughFrame(dropped, 4) }
      const again = { sse: Faults.textSse(SECOND, { id: "msg_second" }) }
      const server = yield* serverWith(drop, again, drop, again)
      const agent = yield* agentOn(server, { retry: fastRetry })

      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
      const discard = events.findIndex((event) => event.type === "discard")
      assert.isAbove(discard, 0, "a discard event after the partial output")
      assert.deepStrictEqual(events.slice(0, discard).map(label), [
        "message_start",
        "content_block_start:text",
        "content_block_delta:text_delta",
        "content_block_delta:text_delta"
      ])
      assert.strictEqual(textOf(events.slice(0, discard)), "Hello wor")
      assert.deepInclude(events[discard] as object, { type: "discard", attempt: 1 })
      assert.deepStrictEqual(events.slice(discard + 1), providerEvents(SECOND, "msg_second"))
      assert.strictEqual(yield* outcomeOf(server, 0), "dropped")

      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Second attempt only.")
      assert.strictEqual(result.attempts, 2)
      assert.strictEqual(result.status, "completed")
      assert.strictEqual(server.requests.length, 4)
    })
  )

  it.live("a connection dropped mid-stream without retries fails: Connection, retryable, the text so far", () =>
    Effect.gen(function* () {
      const sse = Faults.textSse(FIRST)
      const server = yield* serverWith({ sse, dropAfterBytes: Faults.bytesThroughFrame(sse, 4) })
      const agent = yield* agentOn(server, { retry: false })
      const { events, exit } = yield* runEvents(agent.runStream(PROMPT))
      const error = providerErrorOf(exit)
      assert.strictEqual(error.reason, "Connection")
      assert.isTrue(error.isRetryable)
      assert.strictEqual(error.partial?.text, "Hello wor")
      assert.strictEqual(textOf(events), "Hello wor")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.live("a stall longer than the idle timeout fails with Timeout idle and the partial text", () =>
    Effect.gen(function* () {
      const sse = Faults.textSse(["Hello ", "stalled ", "world"])
      const server = yield* serverWith({ sse, stallAfterBytes: Faults.bytesThroughFrame(sse, 4) })
      const agent = yield* agentOn(server, { retry: false, timeouts: { idle: "300 millis" } })
      const started = performance.now()
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      const elapsed = performance.now() - started
      assert.instanceOf(error, HarnessError.Timeout)
      const timeout = error as HarnessError.Timeout
      assert.strictEqual(timeout.phase, "idle")
      assert.strictEqual(timeout.limitMillis, 300)
      assert.isTrue(timeout.isRetryable)
      assert.strictEqual(timeout.partial.text, "Hello stalled ")
      assert.isAtLeast(elapsed, 280)
      assert.isBelow(elapsed, 3_000)
      // The timed-out request is aborted: the server sees the client close it.
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("a stall then success with retries on: discard, then the new attempt's text only", () =>
    Effect.gen(function* () {
      const sse = Faults.textSse(["Hello ", "stalled ", "world"])
      const server = yield* serverWith(
        { sse, stallAfterBytes: Faults.bytesThroughFrame(sse, 4) },
        { sse: Faults.textSse(SECOND, { id: "msg_second" }) }
      )
      const agent = yield* agentOn(server, { retry: fastRetry, timeouts: { idle: "300 millis" } })
      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
      const discard = events.findIndex((event) => event.type === "discard")
      assert.isAbove(discard, 0)
      assert.strictEqual(textOf(events.slice(0, discard)), "Hello stalled ")
      assert.deepStrictEqual(events.slice(discard + 1), providerEvents(SECOND, "msg_second"))
      assert.strictEqual(textOf(events.slice(discard + 1)), "Second attempt only.")
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("429 with retry-after: 1 then success waits the server's second, not the 10 ms schedule", () =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const server = yield* serverWith(
        Faults.timed(
          times,
          AnthropicServer.errorReply(429, "rate_limit_error", "Rate limited", { "retry-after": "1" })
        ),
        Faults.timed(times, { sse: Faults.textSse(SECOND) })
      )
      const agent = yield* agentOn(server, { retry: fastRetry })
      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Second attempt only.")
      assert.strictEqual(result.attempts, 2)
      assert.strictEqual(times.length, 2)
      assert.isAtLeast(times[1]! - times[0]!, 900, "the retry honours retry-after")
      assert.isBelow(times[1]! - times[0]!, 5_000)
    })
  )

  it.live("529 twice then success: attempts 3, no discard (nothing was streamed before the failures)", () =>
    Effect.gen(function* () {
      const overloaded = AnthropicServer.errorReply(529, "overloaded_error", "Overloaded")
      const ok = { sse: Faults.textSse(SECOND, { id: "msg_second" }) }
      const server = yield* serverWith(overloaded, overloaded, ok, overloaded, overloaded, ok)
      const agent = yield* agentOn(server, { retry: fastRetry })

      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
      assert.notInclude(
        events.map((event) => event.type),
        "discard"
      )
      assert.deepStrictEqual(events, providerEvents(SECOND, "msg_second"))

      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Second attempt only.")
      assert.strictEqual(result.attempts, 3)
      assert.strictEqual(server.requests.length, 6)
    })
  )

  it.live("an overloaded_error event after some text, then success: discard after the text, then message_start", () =>
    Effect.gen(function* () {
      const overloadedEvent =
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
      const partial = AnthropicServer.sse(Faults.textEvents(["Partial ", "answer"]).slice(0, 4)) + overloadedEvent
      const ok = { sse: Faults.textSse(SECOND, { id: "msg_second" }) }
      const server = yield* serverWith({ sse: partial }, ok, { sse: partial }, ok)
      const agent = yield* agentOn(server, { retry: fastRetry })

      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
      const discard = events.findIndex((event) => event.type === "discard")
      assert.strictEqual(discard, 4, "the discard comes right after the partial text")
      assert.strictEqual(textOf(events.slice(0, discard)), "Partial answer")
      const discardEvent = events[discard] as StreamEvent.Discard
      assert.strictEqual(discardEvent.attempt, 1)
      assert.include(discardEvent.reason, "overloaded")
      assert.strictEqual(events[discard + 1]!.type, "message_start")
      assert.deepStrictEqual(events.slice(discard + 1), providerEvents(SECOND, "msg_second"))

      const result = yield* agent.runResult(PROMPT)
      assert.strictEqual(result.text, "Second attempt only.")
      assert.strictEqual(result.attempts, 2)
    })
  )

  const malformed: ReadonlyArray<readonly [string, string]> = [
    ["a truncated JSON line", 'event: content_block_delta\ndata: {"type":"content_block_delta",\n\n'],
    ["data that is not JSON", "event: content_block_delta\ndata: not json\n\n"],
    ["JSON that is not a valid event", 'event: content_block_delta\ndata: {"type":"content_block_delta"}\n\n']
  ]
  for (const [name, bad] of malformed) {
    it.live(`${name} in an event fails with InvalidResponse, not retried`, () =>
      Effect.gen(function* () {
        const good = Faults.textEvents(["Fine so far", " and then"])
        const sse = AnthropicServer.sse(good.slice(0, 3)) + bad + AnthropicServer.sse(good.slice(3))
        const server = yield* serverWith({ sse }, { sse: Faults.textSse(SECOND) })
        // logLevel off: the SDK logs the unparsable line itself.
        const agent = yield* agentAt(server.url, { retry: fastRetry }, { logLevel: "off" })
        const error = providerErrorOf(yield* Effect.exit(agent.runResult(PROMPT)))
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.isFalse(error.isRetryable)
        assert.strictEqual(error.partial?.text, "Fine so far")
        assert.strictEqual(server.requests.length, 1)
      })
    )
  }

  it.live("a refused connection fails with Connection after the policy's retries", () =>
    Effect.gen(function* () {
      const url = yield* Faults.refusedURL
      const counting = Faults.countingFetch()
      const agent = yield* agentAt(url, { retry: { schedule: Schedule.recurs(2) } }, { fetch: counting.fetch })
      const error = providerErrorOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.strictEqual(error.reason, "Connection")
      assert.isTrue(error.isRetryable)
      assert.include(error.message, url)
      assert.strictEqual(counting.calls(), 3, "one try and two retries")
    })
  )

  it.live("401 fails with Authentication and is not retried", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(AnthropicServer.errorReply(401, "authentication_error", "invalid x-api-key"), {
        sse: Faults.textSse(SECOND)
      })
      const agent = yield* agentOn(server, { retry: fastRetry })
      const error = providerErrorOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.strictEqual(error.reason, "Authentication")
      assert.strictEqual(error.status, 401)
      assert.isFalse(error.isRetryable)
      assert.strictEqual(server.requests.length, 1)
    })
  )
})

describe("faults with the Anthropic provider: interruption", () => {
  const PIECES = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"]
  /** A text turn written slowly: 32 bytes every 15 ms (a delta event takes about 50 ms). */
  const slow = () => ({ sse: Faults.textSse(PIECES), chunkSize: 32, delayMs: 15 })

  /** Forks `session.askStream(prompt)`; resolves `first` when its first text delta arrives. */
  const askUntilFirstDelta = (stream: Stream.Stream<StreamEvent.StreamEvent, HarnessError.HarnessError>) =>
    Effect.gen(function* () {
      const first = yield* Deferred.make<void>()
      const fiber = yield* stream.pipe(
        Stream.runForEach((event) =>
          event.type === "content_block_delta" ? Deferred.succeed(first, undefined) : Effect.void
        ),
        Effect.forkChild
      )
      yield* Deferred.await(first).pipe(Effect.timeout("3 seconds"))
      return fiber
    })

  it.live("interrupting askStream closes the socket; the next ask sends a valid history with the partial text", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(slow(), { sse: Faults.textSse(["Done."]) })
      const agent = yield* agentOn(server)
      const session = yield* agent.session()

      const fiber = yield* askUntilFirstDelta(session.askStream("Count slowly."))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")

      assert.strictEqual(yield* session.ask("next"), "Done.")
      const messages = yield* sentHistory(server, 1)
      assert.deepStrictEqual(roles(messages), ["user", "assistant", "user"])
      assert.strictEqual(messages[0].content[0].text, "Count slowly.")
      const kept: string = messages[1].content.map((block: { text: string }) => block.text).join("")
      assert.isTrue(kept.startsWith("one "), `the partial text is kept: ${JSON.stringify(kept)}`)
      assert.isTrue(PIECES.join("").startsWith(kept), `the partial text is a prefix: ${JSON.stringify(kept)}`)
      assert.isBelow(kept.length, PIECES.join("").length)
      assert.strictEqual(messages[2].content[0].text, "next")
      assertValidHistory(yield* session.history)
    })
  )

  it.live("with partialTurn discard, the interrupted turn is dropped and the prompts merge into one user message", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(slow(), { sse: Faults.textSse(["Done."]) })
      const agent = yield* agentOn(server, { partialTurn: "discard" })
      const session = yield* agent.session()
      yield* Fiber.interrupt(yield* askUntilFirstDelta(session.askStream("Count slowly.")))
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
      assert.strictEqual(yield* session.ask("next"), "Done.")
      const messages = yield* sentHistory(server, 1)
      assert.deepStrictEqual(roles(messages), ["user"])
      assert.deepStrictEqual(
        messages[0].content.map((block: { text: string }) => block.text),
        ["Count slowly.", "next"]
      )
    })
  )

  it.live(
    "interrupting during a tool call: the next request answers the tool_use with a synthetic is_error result",
    () =>
      Effect.gen(function* () {
        const server = yield* serverWith(
          { sse: Faults.toolUseSse("toolu_slow_1", "slow_lookup", { key: "a" }) },
          { sse: Faults.textSse(["Done."]) }
        )
        const started = yield* Deferred.make<void>()
        const slowLookup = Tool.make("slow_lookup", {
          description: "Looks something up, slowly.",
          parameters: Schema.Struct({ key: Schema.String }),
          handler: () =>
            Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep("30 seconds")), Effect.as("late"))
        })
        const agent = yield* agentOn(server, { tools: [slowLookup] })
        const session = yield* agent.session()
        const fiber = yield* session.askStream("Look up a.").pipe(Stream.runDrain, Effect.forkChild)
        yield* Deferred.await(started).pipe(Effect.timeout("3 seconds"))
        yield* Fiber.interrupt(fiber)
        // The model turn had completed before the tool ran.
        assert.strictEqual(yield* outcomeOf(server, 0), "completed")

        assert.strictEqual(yield* session.ask("next"), "Done.")
        const messages = yield* sentHistory(server, 1)
        assert.deepStrictEqual(roles(messages), ["user", "assistant", "user"])
        const [, assistant, user] = messages
        assert.deepInclude(assistant.content[0], { type: "tool_use", id: "toolu_slow_1", name: "slow_lookup" })
        assert.strictEqual(user.content[0].type, "tool_result")
        assert.strictEqual(user.content[0].tool_use_id, "toolu_slow_1")
        assert.isTrue(user.content[0].is_error)
        assert.strictEqual(user.content[1].type, "text")
        assert.strictEqual(user.content[1].text, "next")
      })
  )

  it.live("a consumer that stops pulling (Stream.take) closes the socket; the session stays valid", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(slow(), { sse: Faults.textSse(["Done."]) })
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      const taken = yield* session.askStream("Count slowly.").pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual([...taken].map(label), [
        "message_start",
        "content_block_start:text",
        "content_block_delta:text_delta"
      ])
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
      assert.strictEqual(yield* session.ask("next"), "Done.")
      const messages = yield* sentHistory(server, 1)
      assert.strictEqual(messages[1].role, "assistant")
      assert.isTrue(messages[1].content[0].text.startsWith("one "))
    })
  )

  it.live("interrupting while the response headers are awaited closes the socket; the next ask works", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ hang: true }, { sse: Faults.textSse(["Done."]) })
      const agent = yield* agentOn(server)
      const session = yield* agent.session()
      const fiber = yield* session.ask("Anyone there?").pipe(Effect.forkChild)
      yield* Faults.within(3_000, "the first request", () => server.request(0))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
      assert.strictEqual(yield* session.ask("next"), "Done.")
      const messages = yield* sentHistory(server, 1)
      assert.deepStrictEqual(
        messages[0].content.map((block: { text: string }) => block.text),
        ["Anyone there?", "next"]
      )
    })
  )

  it.live("a request timeout aborts the request (Timeout request) and the server sees it closed", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ hang: true })
      const agent = yield* agentOn(server, { timeouts: { request: "200 millis" } })
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      assert.instanceOf(error, HarnessError.Timeout)
      assert.strictEqual((error as HarnessError.Timeout).phase, "request")
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("agent.runStream with Stream.take closes the socket at once", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(slow())
      const agent = yield* agentOn(server)
      const taken = yield* agent.runStream(PROMPT).pipe(Stream.take(1), Stream.runCollect)
      assert.strictEqual(taken.length, 1)
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
      assert.strictEqual(server.clientClosedCount(), 1)
    })
  )
})

describe("faults with the Anthropic provider: its own first-event and idle deadlines", () => {
  /** The provider service itself over `server`, and a one-message request. */
  const providerOn = (server: AnthropicServer.AnthropicServer, transport: "node" | "fetch" = "node") =>
    Effect.map(
      Effect.service(Provider.Provider).pipe(
        Effect.provide(Anthropic.layer({ model: MODEL, apiKey: KEY, baseURL: server.url, transport }))
      ),
      (service) => ({
        service,
        request: { messages: [{ role: "user" as const, content: [Message.text(PROMPT)] }], tools: [] }
      })
    )

  it.live("the provider's stream enforces the deadlines itself: the loop needs no puller fiber for it", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: Faults.textSse(FIRST) })
      const { service, request } = yield* providerOn(server)
      assert.isTrue(PullDeadline.EnforcesDeadlines in service.stream(request))
    })
  )

  it.live("headers later than the first-event limit: Timeout firstEvent, the request closed", () =>
    Effect.gen(function* () {
      const server = yield* serverWith({ sse: Faults.textSse(FIRST), headersDelayMs: 5_000 })
      const agent = yield* agentOn(server, { timeouts: { firstEvent: "300 millis" } })
      const started = performance.now()
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      const elapsed = performance.now() - started
      assert.instanceOf(error, HarnessError.Timeout)
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
      assert.isAtLeast(elapsed, 280)
      assert.isBelow(elapsed, 3_000)
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("the first-event limit runs from the request, not from the headers", () =>
    Effect.gen(function* () {
      // headers after 400 ms, then nothing: the 600 ms limit ends at 600 ms, not at 1,000
      const server = yield* serverWith({ sse: Faults.textSse(FIRST), headersDelayMs: 400, stallAfterBytes: 0 })
      const agent = yield* agentOn(server, { timeouts: { firstEvent: "600 millis" } })
      const started = performance.now()
      const error = failureOf(yield* Effect.exit(agent.runResult(PROMPT)))
      const elapsed = performance.now() - started
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
      assert.isAtLeast(elapsed, 580)
      assert.isBelow(elapsed, 950)
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("after the first-event timeout a retry sends the request again and streams the new attempt", () =>
    Effect.gen(function* () {
      const server = yield* serverWith(
        { sse: Faults.textSse(FIRST), stallAfterBytes: 0 },
        { sse: Faults.textSse(SECOND, { id: "msg_second" }) }
      )
      const agent = yield* agentOn(server, { retry: fastRetry, timeouts: { firstEvent: "200 millis" } })
      const events = json([...(yield* Stream.runCollect(agent.runStream(PROMPT)))])
      // nothing was streamed before the timeout, so there is nothing to discard
      assert.deepStrictEqual(events, providerEvents(SECOND, "msg_second"))
      assert.strictEqual(yield* outcomeOf(server, 0), "clientClosed")
    })
  )

  it.live("events read for a pull its consumer gave up count as the first: the next wait has the idle limit", () =>
    Effect.scoped(
      Effect.gen(function* () {
        // headers and half of message_start at once, the other half 300 ms later, then nothing
        const sse = Faults.textSse(FIRST)
        const frame = Faults.bytesThroughFrame(sse, 1)
        const server = yield* serverWith({
          sse,
          chunkSize: Math.ceil(frame / 2),
          delayMs: 300,
          stallAfterBytes: frame
        })
        const { service, request } = yield* providerOn(server)
        const stream = PullDeadline.withPullDeadlines(
          service.stream(request),
          { first: Duration.seconds(1), idle: Duration.seconds(10) },
          (first) => (first ? "first-event timeout" : "idle timeout")
        )
        const pull = yield* Stream.toPull(stream)
        // gives up before message_start is complete; it arrives while nobody pulls
        assert.isTrue(Option.isNone(yield* Effect.timeoutOption(pull, "100 millis")))
        yield* Effect.sleep("500 millis")
        const got = yield* pull
        assert.deepStrictEqual(
          got.map((event) => event.type),
          ["message_start"]
        )
        // the stream stalls now: the idle limit (10 s) applies, not the first-event one (1 s)
        const next = yield* Effect.exit(Effect.timeoutOption(pull, "1500 millis"))
        assert.deepStrictEqual(next, Exit.succeed(Option.none()))
      })
    )
  )

  for (const [name, limits, transport] of [
    ["without deadlines", {}, "node"],
    ["without deadlines", {}, "fetch"],
    ["with deadlines", { first: Duration.seconds(5), idle: Duration.seconds(5) }, "node"],
    ["with deadlines", { first: Duration.seconds(5), idle: Duration.seconds(5) }, "fetch"]
  ] as const) {
    it.live(
      `${name} (${transport} transport), a pull its consumer gave up keeps its events for the next pull: nothing lost`,
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            // one frame every 60 ms; the consumer gives up every pull after 20 ms and pulls again
            const server = yield* serverWith({
              sse: Faults.textSse(FIRST, { id: "msg_kept" }),
              chunkSize: 40,
              delayMs: 60
            })
            const { service, request } = yield* providerOn(server, transport)
            const stream = PullDeadline.withPullDeadlines(service.stream(request), limits, () => "timeout")
            const pull = yield* Stream.toPull(stream)
            const got: Array<unknown> = []
            let gaveUp = 0
            while (true) {
              const exit = yield* Effect.exit(Effect.timeoutOption(pull, "20 millis"))
              if (Exit.isFailure(exit)) {
                assert.isTrue(Pull.isDoneCause(exit.cause), String(exit.cause))
                break
              }
              if (exit.value._tag === "None") gaveUp++
              else got.push(...exit.value.value)
            }
            assert.isAbove(gaveUp, 3)
            assert.deepStrictEqual(json(got), providerEvents(FIRST, "msg_kept"))
          })
        )
    )
  }
})
