import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Agent, Message, Mock, Tool } from "../../src/index.js"
import { assertSendableText, assertValidHistory } from "../utils/events.js"

interface Case {
  readonly turns: ReadonlyArray<{ readonly text: string; readonly tools: ReadonlyArray<number> }>
  readonly interruptAt: number
  readonly partialTurn: "keep" | "discard"
  readonly concurrency: number
}

const arbitrary: fc.Arbitrary<Case> = fc.record({
  turns: fc.array(
    fc.record({
      // whitespace-only texts too ("\n", " \t"), and texts that start with whitespace ("\nq"): a
      // turn interrupted after its first delta must not leave a whitespace-only text block
      text: fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom("\n", "  ", " \t\n", "\nq", "   abc", "\n\nlonger text after blank lines")
      ),
      // each tool call sleeps this many ms
      tools: fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 3 })
    }),
    { minLength: 1, maxLength: 4 }
  ),
  interruptAt: fc.integer({ min: 0, max: 15_000 }),
  partialTurn: fc.constantFrom("keep" as const, "discard" as const),
  concurrency: fc.constantFrom(1, 3)
})

const sleepTool = Tool.make("sleep", {
  description: "sleeps",
  parameters: Schema.Struct({ ms: Schema.Number }),
  handler: ({ ms }) => Effect.as(Effect.sleep(ms), `slept ${ms}`)
})

/** A scripted model: follows the case's turns for the first question, answers "ok" to the follow-up. */
const script = (testCase: Case): Mock.Turn =>
  Mock.reply(({ messages }) => {
    const lastUserText = [...messages]
      .reverse()
      .find((m) => m.role === "user" && m.content.some((b) => b.type === "text"))
    if (lastUserText && Message.textOf(lastUserText.content).includes("follow-up")) return Mock.text("ok")
    const step = messages.filter((m) => m.role === "assistant").length
    const turn = testCase.turns[Math.min(step, testCase.turns.length - 1)]!
    const last = step >= testCase.turns.length - 1
    return last || turn.tools.length === 0
      ? Mock.text(turn.text || "done")
      : Mock.toolCalls(
          turn.tools.map((ms) => ({ name: "sleep", input: { ms } })),
          turn.text
        )
  })

const runCase = (testCase: Case) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({
      tools: [sleepTool],
      partialTurn: testCase.partialTurn,
      toolConcurrency: testCase.concurrency
    })
    const session = yield* agent.session()
    const fiber = yield* Effect.forkChild(session.ask("first question"))
    yield* TestClock.adjust(testCase.interruptAt)
    yield* Fiber.interrupt(fiber)
    assertValidHistory(yield* session.history, "after interrupt")
    assertSendableText(yield* session.history, "after interrupt")
    const follow = yield* Effect.forkChild(session.ask("follow-up"))
    yield* TestClock.adjust(60_000)
    assert.strictEqual(yield* Fiber.join(follow), "ok")
    const recorder = yield* Mock.Recorder
    for (const request of yield* recorder.requests) {
      assertValidHistory(request.messages, "a sent request")
      assertSendableText(request.messages, "a sent request")
    }
    assertValidHistory(yield* session.history, "after follow-up")
    assertSendableText(yield* session.history, "after follow-up")
  }).pipe(
    Effect.provide(
      Layer.merge(Mock.layer({ turns: [script(testCase)], chunkSize: 3, eventDelay: "40 millis" }), TestClock.layer())
    )
  )

describe("interruption at random points", () => {
  it("keeps the history valid (roles, tool results, no whitespace-only text) and a follow-up ask succeeds (property)", async () => {
    await fc.assert(
      fc.asyncProperty(arbitrary, (testCase) => Effect.runPromise(Effect.scoped(runCase(testCase)))),
      { numRuns: 150 }
    )
  })
})
