import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  Agent,
  HarnessError,
  Message,
  Mock,
  NormalizedResponse,
  Provider,
  type StreamEvent,
  Tool,
  Usage
} from "../../src/index.js"
import { assertValidHistory, textOf } from "../utils/events.js"

const overloaded = () =>
  new HarnessError.ProviderError({ reason: "Overloaded", provider: "mock", status: 529, message: "Overloaded" })
const rateLimited = (retryAfter: number) =>
  new HarnessError.ProviderError({
    reason: "RateLimited",
    provider: "mock",
    status: 429,
    retryAfter,
    message: "Rate limited"
  })
const unauthorized = () =>
  new HarnessError.ProviderError({ reason: "Authentication", provider: "mock", status: 401, message: "Bad key" })

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Effect.map(Stream.runCollect(stream), (c) => Array.from(c))

/** Runs an effect in a fiber while moving the TestClock far enough for every backoff. */
const withTime = <A, E, R>(effect: Effect.Effect<A, E, R>, millis = 120_000) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 200; i++) yield* TestClock.adjust(millis / 200)
    return yield* Fiber.await(fiber)
  })

const types = (events: ReadonlyArray<{ readonly type: string }>) => events.map((e) => e.type)

describe("retries", () => {
  it.effect("a retry before any output is invisible to the stream consumer", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({})
      const exit = yield* withTime(collect(agent.runStream("hi")))
      const events = yield* exit
      assert.notInclude(types(events), "discard")
      assert.strictEqual(types(events).filter((t) => t === "message_start").length, 1)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded()), Mock.text("hello")] })))
  )

  it.effect(
    "a failure after partial output emits discard, then the new attempt; the result is only the second attempt's",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({})
        const events = yield* yield* withTime(collect(agent.runStream("hi")))
        const t = types(events)
        const discard = t.indexOf("discard")
        assert.isAbove(discard, 0)
        assert.strictEqual(t[discard + 1], "message_start")
        assert.include(t.slice(0, discard), "content_block_delta")
        const result = yield* yield* withTime(agent.runResult("hi"))
        assert.strictEqual(result.text, "Hello again")
        assert.strictEqual(result.attempts, 2)
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.fail(overloaded(), "Hel"),
              Mock.text("Hello again"),
              Mock.fail(overloaded(), "Hel"),
              Mock.text("Hello again")
            ],
            whenExhausted: "fail"
          })
        )
      )
  )

  it.effect("errors that are not retryable (401) fail at once", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({})
      const error = yield* Effect.flip(agent.runResult("hi"))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual((error as HarnessError.ProviderError).reason, "Authentication")
      const recorder = yield* Mock.Recorder
      assert.strictEqual(yield* recorder.turns, 1)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(unauthorized()), Mock.text("never")] })))
  )

  it.effect("retry-after is honoured: the retry waits for it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: { schedule: Schedule.spaced("10 millis") } })
      const recorder = yield* Mock.Recorder
      const fiber = yield* Effect.forkChild(agent.run("hi"))
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual(yield* recorder.turns, 1, "no retry before retry-after")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.strictEqual(yield* recorder.turns, 2)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(rateLimited(5_000)), Mock.text("done")] })))
  )

  it.effect("the retry schedule bounds the attempts; the last error carries the partial output", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: { schedule: Schedule.recurs(2) } })
      const exit = yield* withTime(agent.runResult("hi"))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual((error as HarnessError.ProviderError).partial?.text, "partial")
      const recorder = yield* Mock.Recorder
      assert.strictEqual(yield* recorder.turns, 3)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded(), "partial")] })))
  )
})

const slowTool = Tool.make("slow", {
  description: "takes a minute",
  parameters: Schema.Struct({}),
  handler: () => Effect.as(Effect.sleep("1 minute"), "slow done")
})

const failFlip = <A, E>(exit: Exit.Exit<A, E>) => Effect.flip(exit)

/** Polls `fiber` at `limit - 1` ms (still running) and at `limit` (done); its failure. */
const failsAt = <A, E>(fiber: Fiber.Fiber<A, E>, limit: number) =>
  Effect.gen(function* () {
    yield* TestClock.adjust(limit - 1)
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow
    assert.isUndefined(fiber.pollUnsafe(), `done before ${limit} ms`)
    yield* TestClock.adjust(1)
    for (let i = 0; i < 10 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    const exit = fiber.pollUnsafe()
    assert.isDefined(exit, `still running at ${limit} ms`)
    return yield* failFlip(exit!)
  })

describe("timeouts", () => {
  it.effect("an idle gap longer than the idle timeout is a Timeout carrying the partial text and usage", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "2 seconds" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi"), 20_000))
      assert.strictEqual(error._tag, "Timeout")
      const timeout = error as HarnessError.Timeout
      assert.strictEqual(timeout.phase, "idle")
      assert.strictEqual(timeout.limitMillis, 2_000)
      assert.strictEqual(timeout.partial.text, "abc")
      assert.isAbove(timeout.partial.usage.inputTokens, 0)
      assert.isTrue(timeout.isRetryable)
    }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, turns: [Mock.stall("abc")] })))
  )

  it.effect("an idle timeout is retried by default, and the retry can succeed", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ timeouts: { idle: "2 seconds" } })
      const result = yield* yield* withTime(agent.runResult("hi"), 60_000)
      assert.strictEqual(result.text, "recovered")
      assert.strictEqual(result.attempts, 2)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("abc"), Mock.text("recovered")] })))
  )

  it.effect("no first event within the firstEvent timeout", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { firstEvent: "1 second" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi"), 10_000))
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
    }).pipe(Effect.provide(Mock.layer({ eventDelay: "5 seconds", turns: [Mock.text("late")] })))
  )

  it.effect("the firstEvent limit runs from the start of the turn: waiting for headers counts", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { firstEvent: "1 second" } })
      const error = yield* failsAt(yield* Effect.forkChild(agent.runResult("hi")), 1_000)
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
    }).pipe(Effect.provide(Mock.layer({ headersDelay: "5 seconds", turns: [Mock.text("late")] })))
  )

  it.effect("the firstEvent limit also covers a provider stream that does its work when it starts", () =>
    Effect.gen(function* () {
      // a hand-written provider whose stream sends its "request" when it starts (in its setup)
      const provider = Provider.make({
        name: "slow-start",
        model: "m",
        chat: () => Effect.die("not used"),
        stream: () =>
          Stream.fromPull(
            Effect.as(
              Effect.sleep("5 seconds"),
              Effect.succeed(
                Provider.synthesize(
                  new NormalizedResponse.NormalizedResponse({
                    stopReason: "end_turn",
                    content: [Message.text("late")],
                    usage: Usage.empty
                  })
                ) as unknown as readonly [StreamEvent.ProviderEvent, ...Array<StreamEvent.ProviderEvent>]
              )
            )
          ).pipe(Stream.take(6))
      })
      const agent = yield* Agent.make({ retry: false, timeouts: { firstEvent: "1 second" } }).pipe(
        Effect.provideService(Provider.Provider, provider)
      )
      const error = yield* failsAt(yield* Effect.forkChild(agent.runResult("hi")), 1_000)
      assert.strictEqual((error as HarnessError.Timeout).phase, "firstEvent")
    })
  )

  it.effect("no response headers within the request timeout", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { request: "1 second" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi"), 10_000))
      assert.strictEqual((error as HarnessError.Timeout).phase, "request")
    }).pipe(Effect.provide(Mock.layer({ headersDelay: "5 seconds", turns: [Mock.text("late")] })))
  )

  it.effect("a turn longer than the turn timeout fails with its partial text, and is not retried", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ timeouts: { turn: "3500 millis" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi"), 20_000))
      const timeout = error as HarnessError.Timeout
      assert.strictEqual(timeout.phase, "turn")
      assert.isFalse(timeout.isRetryable)
      assert.isTrue(timeout.partial.text.length > 0 && "abcdefghij".startsWith(timeout.partial.text))
      const recorder = yield* Mock.Recorder
      assert.strictEqual(yield* recorder.turns, 1)
    }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, eventDelay: "1 second", turns: [Mock.text("abcdefghij")] })))
  )

  it.effect("the turn limit spans its retries: it ends during a retry's backoff, not after it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        retry: { schedule: Schedule.spaced("10 seconds") },
        timeouts: { turn: "2 seconds" }
      })
      const fiber = yield* Effect.forkChild(agent.runResult("hi"))
      const error = yield* failsAt(fiber, 2_000)
      assert.strictEqual((error as HarnessError.Timeout).phase, "turn")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.fail(overloaded()), Mock.text("too late")] })))
  )

  it.effect("the turn limit spans its attempts: a retried attempt has what is left of it", () =>
    Effect.gen(function* () {
      // attempt 1 fails at once, the backoff is 1 s, attempt 2 streams a delta a second: the 3.5 s
      // limit of the turn ends 2.5 s into attempt 2, not 3.5 s into it
      const agent = yield* Agent.make({
        retry: { schedule: Schedule.spaced("1 second") },
        timeouts: { turn: "3500 millis" }
      })
      const fiber = yield* Effect.forkChild(agent.runResult("hi"))
      const error = yield* failsAt(fiber, 3_500)
      const timeout = error as HarnessError.Timeout
      assert.strictEqual(timeout.phase, "turn")
      assert.isTrue("abcdefghij".startsWith(timeout.partial.text))
    }).pipe(
      Effect.provide(
        Mock.layer({
          chunkSize: 1,
          eventDelay: "1 second",
          turns: [Mock.fail(overloaded()), Mock.text("abcdefghij")]
        })
      )
    )
  )

  it.effect("a run longer than the run timeout fails, spanning turns", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [slowTool], timeouts: { run: "30 seconds" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi"), 120_000))
      assert.strictEqual((error as HarnessError.Timeout).phase, "run")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("slow"), Mock.text("never")] })))
  )

  it.effect("a tool longer than the tool timeout becomes an error result, and the run goes on", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [slowTool], timeouts: { tool: "5 seconds" } })
      const events = yield* yield* withTime(collect(agent.runStream("hi")), 60_000)
      const result = events.find((e) => e.type === "tool_result") as { content: string; is_error: boolean }
      assert.isTrue(result.is_error)
      assert.include(result.content, "timed out")
      assert.strictEqual(types(events).at(-1), "message_stop")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("slow"), Mock.text("ok")] })))
  )

  it.effect("the idle timeout fires exactly when the gap reaches the limit, not a millisecond before", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "2 seconds" } })
      const fiber = yield* Effect.forkChild(agent.runResult("hi"))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting at 1,999 ms")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual((error as HarnessError.Timeout).phase, "idle")
      assert.strictEqual((error as HarnessError.Timeout).partial.text, "abc")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("abc")] })))
  )

  it.effect("a short idle limit after a long firstEvent limit is still met on time", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { firstEvent: "1 minute", idle: "1 second" } })
      const fiber = yield* Effect.forkChild(agent.runResult("hi"))
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual((error as HarnessError.Timeout).phase, "idle")
      assert.strictEqual((error as HarnessError.Timeout).limitMillis, 1_000)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("abc")] })))
  )

  it.effect("events that keep coming within the idle limit never time out, however long the turn", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "1 second" } })
      const fiber = yield* Effect.forkChild(agent.runResult("hi"))
      for (let i = 0; i < 40; i++) yield* TestClock.adjust("900 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.text, "abcdefghij")
    }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, eventDelay: "900 millis", turns: [Mock.text("abcdefghij")] })))
  )

  it.effect("time the consumer spends between pulls does not count against the idle limit", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "1 second" } })
      const slowConsumer = agent.runStream("hi").pipe(
        Stream.tap(() => Effect.sleep("5 seconds")),
        Stream.runCollect
      )
      const fiber = yield* Effect.forkChild(slowConsumer)
      for (let i = 0; i < 40; i++) yield* TestClock.adjust("5 seconds")
      const events = Array.from(yield* Fiber.join(fiber))
      assert.strictEqual(types(events).at(-1), "message_stop")
    }).pipe(Effect.provide(Mock.layer({ chunkSize: 1, turns: [Mock.text("abcde")] })))
  )

  it.effect("per-call timeouts override the agent's", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "1 hour" } })
      const error = yield* failFlip(yield* withTime(agent.runResult("hi", { timeouts: { idle: "1 second" } }), 10_000))
      assert.strictEqual((error as HarnessError.Timeout).phase, "idle")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("x")] })))
  )

  it.effect("per-call timeouts override the agent's in runStream too", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { idle: "1 hour" } })
      const exit = yield* withTime(collect(agent.runStream("hi", { timeouts: { idle: "1 second" } })), 10_000)
      const error = yield* failFlip(exit)
      assert.strictEqual((error as HarnessError.Timeout).phase, "idle")
      assert.strictEqual((error as HarnessError.Timeout).partial.text, "x")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("x")] })))
  )
})

describe("retries and re-runs across turns", () => {
  const noop = Tool.make("noop", {
    description: "Does nothing.",
    parameters: Schema.Struct({}),
    handler: () => Effect.succeed("done")
  })

  it.effect("every turn gets the whole retry policy, not what earlier turns left of it", () =>
    Effect.gen(function* () {
      // one retry allowed: turn 1 fails once then calls a tool, turn 2 fails once then answers
      const agent = yield* Agent.make({ tools: [noop], retry: { schedule: Schedule.recurs(1) } })
      const result = yield* yield* withTime(agent.runResult("hi"))
      assert.strictEqual(result.text, "answer")
      assert.strictEqual(result.turns, 2)
      assert.strictEqual(result.attempts, 4)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.fail(overloaded()), Mock.toolCall("noop"), Mock.fail(overloaded()), Mock.text("answer")]
        })
      )
    )
  )

  it.effect("running the same runStream stream twice runs two asks, each from its own start", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [noop], maxTurns: 2 })
      const stream = agent.runStream("hi")
      for (let run = 0; run < 2; run++) {
        const events = yield* collect(stream)
        assert.deepStrictEqual(
          events.filter((event) => event.type === "tool_result").map((event) => event.type),
          ["tool_result"],
          `run ${run}`
        )
        assert.strictEqual(types(events).at(-1), "message_stop")
      }
    }).pipe(
      Effect.provide(
        Mock.layer({ turns: [Mock.toolCall("noop"), Mock.text("one"), Mock.toolCall("noop"), Mock.text("two")] })
      )
    )
  )

  it.effect("two concurrent runs of the same runStream stream each have a fresh conversation", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [noop] })
      const stream = agent.runStream("hi")
      const runs = yield* yield* withTime(Effect.all([collect(stream), collect(stream)], { concurrency: 2 }), 10_000)
      const texts = runs.map(textOf)
      // each run's second model call sees its own conversation: prompt, tool call, tool result
      assert.deepStrictEqual(texts, ["messages: 3", "messages: 3"])
    }).pipe(
      Effect.provide(
        Mock.layer({
          eventDelay: "10 millis",
          turns: [
            Mock.reply(({ messages, lastToolResults }) =>
              lastToolResults.length === 0 ? Mock.toolCall("noop") : Mock.text(`messages: ${messages.length}`)
            )
          ]
        })
      )
    )
  )
})

describe("interruption", () => {
  it.effect("interrupting a streaming ask keeps the user message and the partial text, and the next ask works", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({})
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.ask("first question"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const history = yield* session.history
      assert.deepStrictEqual(
        history.map((m) => m.role),
        ["user", "assistant"]
      )
      assert.strictEqual(Message.textOf(history[1]!.content), "partial answ")
      assert.strictEqual(yield* session.ask("second question"), "fine")
      const recorder = yield* Mock.Recorder
      const last = (yield* recorder.requests).at(-1)!
      assertValidHistory(last.messages)
      assert.strictEqual(last.messages.length, 3)
    }).pipe(Effect.provide(Mock.layer({ chunkSize: 4, turns: [Mock.stall("partial answ"), Mock.text("fine")] })))
  )

  it.effect("with partialTurn: discard, the partial turn is dropped and the next user message merges", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ partialTurn: "discard" })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.ask("first"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(
        (yield* session.history).map((m) => m.role),
        ["user"]
      )
      yield* session.ask("second")
      const history = yield* session.history
      assertValidHistory(history)
      assert.deepStrictEqual(
        history[0]!.content.map((b) => (b as Message.TextBlock).text),
        ["first", "second"]
      )
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("partial"), Mock.text("fine")] })))
  )

  it.effect("interrupting during a tool call answers its tool_use with a synthetic error result", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [slowTool] })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(session.ask("go"))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.interrupt(fiber)
      const history = yield* session.history
      assertValidHistory(history)
      const results = history[2]!.content.filter((b) => b.type === "tool_result") as Array<Message.ToolResultBlock>
      assert.strictEqual(results.length, 1)
      assert.isTrue(results[0]!.is_error)
      assert.strictEqual(yield* session.ask("again"), "fine")
      assertValidHistory(yield* session.history)
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.toolCalls([{ name: "slow" }], "let me see"), Mock.text("fine")] }))
    )
  )

  it.effect("a consumer that stops pulling (Stream.take) ends the ask and leaves a valid history", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [slowTool] })
      const session = yield* agent.session()
      const first = yield* collect(session.askStream("go").pipe(Stream.take(3)))
      assert.strictEqual(first.length, 3)
      assertValidHistory(yield* session.history)
      const events = yield* yield* withTime(collect(session.askStream("again")), 120_000)
      assert.strictEqual(types(events).at(-1), "message_stop")
      assertValidHistory(yield* session.history)
    }).pipe(
      Effect.provide(
        Mock.layer({
          chunkSize: 2,
          turns: [Mock.toolCalls([{ name: "slow" }, { name: "slow" }], "checking both"), Mock.text("fine")]
        })
      )
    )
  )
})

describe("review regressions", () => {
  it.effect("an ask queued behind a running one can be timed out while it waits", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({})
      const session = yield* agent.session()
      yield* Effect.forkChild(session.ask("first"))
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.forkChild(Effect.timeoutOption(session.ask("second"), "5 seconds"))
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(second)
      assert.isTrue(result._tag === "None", "the queued ask gave up at its timeout")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall("x"), Mock.text("never")] })))
  )

  it.effect("a tool that interrupts itself is an error result, and the run goes on", () =>
    Effect.gen(function* () {
      const selfInterrupting = Tool.make("flaky", {
        description: "interrupts itself",
        parameters: Schema.Struct({}),
        handler: () => Effect.interrupt
      })
      const agent = yield* Agent.make({ tools: [selfInterrupting] })
      const events = yield* collect(agent.runStream("go"))
      const result = events.find((e) => e.type === "tool_result") as { content: string; is_error: boolean }
      assert.isTrue(result.is_error)
      assert.include(result.content, "interrupted")
      assert.strictEqual(types(events).at(-1), "message_stop")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("flaky"), Mock.text("ok")] })))
  )

  it.effect("an ask that fails after partial output keeps the partial text by policy", () =>
    Effect.gen(function* () {
      const keep = yield* (yield* Agent.make({})).session()
      yield* Effect.flip(keep.ask("first"))
      const kept = yield* keep.history
      assert.deepStrictEqual(
        kept.map((m) => m.role),
        ["user", "assistant"]
      )
      assert.strictEqual(Message.textOf(kept[1]!.content), "partial text")
      const discard = yield* (yield* Agent.make({ partialTurn: "discard" })).session()
      yield* Effect.flip(discard.ask("first"))
      assert.deepStrictEqual(
        (yield* discard.history).map((m) => m.role),
        ["user"]
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.fail(
              new HarnessError.ProviderError({
                reason: "InvalidRequest",
                provider: "mock",
                status: 400,
                message: "bad"
              }),
              "partial text"
            )
          ]
        })
      )
    )
  )

  it.effect("an empty text block of a response is not kept in the history", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make({ tools: [slowTool] })).session()
      const done = yield* Effect.forkChild(session.ask("go"))
      yield* TestClock.adjust("2 minutes")
      yield* Fiber.join(done)
      const history = yield* session.history
      assertValidHistory(history)
      for (const message of history) {
        for (const block of message.content) {
          if (block.type === "text") assert.isAbove((block as Message.TextBlock).text.length, 0)
        }
      }
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [{ content: [Message.text("")], toolCalls: [{ name: "slow" }] }, Mock.text("done")]
        })
      )
    )
  )
})
