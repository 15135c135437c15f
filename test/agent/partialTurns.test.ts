/**
 * What a session keeps of a turn its consumer left, and the rule that no committed text block is
 * empty or whitespace-only (the Messages API rejects those with a 400), asserted on the request
 * the next ask sends (the mock's recorder).
 *
 * With `eventDelay` the mock hands the harness one event per pull; without it a whole turn
 * arrives in one chunk, and the harness keeps what it received, not only what its consumer read.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, HarnessError, Message, Mock, type StreamEvent, Tool } from "../../src/index.js"
import { assertSendableText, assertValidHistory } from "../utils/events.js"

const lookup = Tool.make("lookup", {
  description: "Looks something up.",
  parameters: Schema.Struct({}),
  handler: () => Effect.succeed("found")
})

/** Role and block types of each message, e.g. `assistant:text,tool_use`. */
const shape = (messages: ReadonlyArray<Message.Message>) =>
  messages.map((message) => `${message.role}:${message.content.map((block) => block.type).join(",")}`)

/** Runs `stream` in a fiber while the TestClock moves (for mocks with an `eventDelay`). */
const collectWithTime = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(Stream.runCollect(stream))
    for (let i = 0; i < 100; i++) yield* TestClock.adjust("10 millis")
    return yield* Fiber.join(fiber)
  })

/** The messages of the last request the mock received. */
const lastRequest = Effect.gen(function* () {
  const recorder = yield* Mock.Recorder
  const requests = yield* recorder.requests
  const messages = requests[requests.length - 1]!.messages
  assertValidHistory(messages, "the last request")
  assertSendableText(messages, "the last request")
  return messages
})

const stopsAfterMessageStop = (event: StreamEvent.StreamEvent) => event.type === "message_stop"

describe("a turn its consumer left after message_stop is kept whole", () => {
  for (const [name, eventDelay] of [
    ["one event per pull", "1 millis"],
    ["the whole turn in one chunk", undefined]
  ] as const) {
    it.effect(`its tool calls are kept, answered by synthetic error results (${name})`, () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({ tools: [lookup] })
        const session = yield* agent.session()
        const events = yield* collectWithTime(
          session.askStream("Look it up.").pipe(Stream.takeUntil(stopsAfterMessageStop))
        )
        assert.strictEqual(events[events.length - 1]?.type, "message_stop")
        assert.isFalse(
          events.some((event) => event.type === "tool_result"),
          "the tool never ran"
        )

        const history = yield* session.history
        assertValidHistory(history)
        assert.deepStrictEqual(shape(history), ["user:text", "assistant:text,tool_use", "user:tool_result"])
        const result = history[2]!.content[0] as Message.ToolResultBlock
        assert.isTrue(result.is_error)

        yield* collectWithTime(session.askStream("Go on."))
        assert.deepStrictEqual(shape(yield* lastRequest), [
          "user:text",
          "assistant:text,tool_use",
          "user:tool_result,text"
        ])
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [Mock.toolCalls([{ name: "lookup" }], "Let me look."), Mock.text("done")],
            eventDelay
          })
        )
      )
    )
  }
})

describe("a turn its consumer left early keeps what the harness received", () => {
  const sentence = "Hello there, world."

  it.effect("one event per pull: the text received so far", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      // message_start, content_block_start, the first text delta
      yield* collectWithTime(session.askStream("Greet.").pipe(Stream.take(3)))
      const history = yield* session.history
      assert.deepStrictEqual(history[1], Message.assistant([Message.text("Hello")]))
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text(sentence)], chunkSize: 5, eventDelay: "1 millis" })))
  )

  it.effect("a whole turn in one chunk: the whole turn, although the consumer read one delta of it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      const events = yield* Stream.runCollect(session.askStream("Greet.").pipe(Stream.take(3)))
      assert.strictEqual(events.length, 3)
      const history = yield* session.history
      assert.deepStrictEqual(history[1], Message.assistant([Message.text(sentence)]))
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text(sentence)], chunkSize: 5 })))
  )
})

describe("no empty or whitespace-only text block is committed", () => {
  it.effect("a partial turn cut after a whitespace delta keeps nothing; the next ask's user message merges", () =>
    Effect.gen(function* () {
      // no cache markers, to compare the requests' messages as they are
      const agent = yield* Agent.make({ cache: false })
      const session = yield* agent.session()
      // "\nq" one character per delta: message_start, content_block_start, "\n"
      const events = yield* collectWithTime(session.askStream("First question").pipe(Stream.take(3)))
      assert.strictEqual(events.length, 3)
      assert.deepStrictEqual(yield* session.history, [Message.user("First question")])

      assert.strictEqual(
        yield* Effect.forkChild(session.ask("Second question")).pipe(Effect.flatMap(joinWithTime)),
        "ok"
      )
      assert.deepStrictEqual(yield* lastRequest, [
        { role: "user", content: [Message.text("First question"), Message.text("Second question")] }
      ])
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.text("\nq"), Mock.text("ok")], chunkSize: 1, eventDelay: "1 millis" }))
    )
  )

  it.effect("a completed turn whose whole text is whitespace is not committed; roles still alternate", () =>
    Effect.gen(function* () {
      // no cache markers, to compare the requests' messages as they are
      const agent = yield* Agent.make({ cache: false })
      const session = yield* agent.session()
      const result = yield* session.askResult("First question")
      assert.strictEqual(result.text, "\n", "the result is what the model said")
      assert.deepStrictEqual(yield* session.history, [Message.user("First question")])
      assert.strictEqual(yield* session.ask("Second question"), "ok")
      assert.deepStrictEqual(yield* lastRequest, [
        { role: "user", content: [Message.text("First question"), Message.text("Second question")] }
      ])
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("\n"), Mock.text("ok")] })))
  )

  it.effect("whitespace text beside a tool call is dropped, the tool call kept", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [lookup] })
      const session = yield* agent.session()
      assert.strictEqual(yield* session.ask("Look it up."), "found it")
      assert.deepStrictEqual(shape(yield* lastRequest), ["user:text", "assistant:tool_use", "user:tool_result"])
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.toolCalls([{ name: "lookup" }], " \n\t"), Mock.text("found it")] }))
    )
  )

  it.effect("a saved history with whitespace text is made valid before it is sent", () =>
    Effect.gen(function* () {
      // no cache markers, to compare the requests' messages as they are
      const agent = yield* Agent.make({ cache: false })
      const session = yield* agent.session({
        history: [Message.user("First question"), Message.assistant([Message.text("  ")])]
      })
      assert.strictEqual(yield* session.ask("Second question"), "ok")
      assert.deepStrictEqual(yield* lastRequest, [
        { role: "user", content: [Message.text("First question"), Message.text("Second question")] }
      ])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("an empty or whitespace-only prompt fails with InvalidOptions before anything is added", () =>
    Effect.gen(function* () {
      // no cache markers, to compare the requests' messages as they are
      const agent = yield* Agent.make({ cache: false })
      const session = yield* agent.session()
      for (const prompt of ["", " \n "]) {
        const error = yield* Effect.flip(session.ask(prompt))
        assert.instanceOf(error, HarnessError.InvalidOptions)
        assert.strictEqual((error as HarnessError.InvalidOptions).option, "prompt")
      }
      assert.deepStrictEqual(yield* session.history, [])
      assert.strictEqual(yield* (yield* Mock.Recorder).turns, 0)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})

const joinWithTime = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) yield* TestClock.adjust("10 millis")
    return yield* Fiber.join(fiber)
  })
