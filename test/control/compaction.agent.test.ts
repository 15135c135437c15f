/**
 * Compaction through the public API: a long scripted conversation stays under its configured
 * window and still answers a question about its first turn from the summary; large tool results
 * are offloaded into handles the model queries with SQL; `session.compact()` summarises on demand
 * with the agent's model; the system prompt stays byte-stable.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Agent, type Compaction, Message, Mock, type StreamEvent, Tokens } from "../../src/index.js"
import { assertValidHistory, toolResultEvents } from "../utils/events.js"

const SYSTEM = "You are a careful assistant. Keep track of what the user asks you to remember."
const WINDOW = 2_000

/** A scripted summariser: keeps every fact the user asked to remember, and the facts of an earlier summary. */
const summarise: Compaction.Summariser = ({ transcript }) =>
  Effect.sync(() => {
    const facts = [...transcript.matchAll(/(?:Remember|Fact): ([^.\n]+)\./g)].map((m) => m[1])
    return `Facts: ${[...new Set(facts)].map((f) => `Fact: ${f}.`).join(" ")} The user also shared some notes.`
  })

/** The model: answers the launch-code question from whatever its request holds, else notes the message. */
const model = Mock.layer({
  turns: [
    Mock.reply(({ messages }) => {
      const last = messages[messages.length - 1]!
      const asked = Message.textOf(last.content)
      if (!asked.includes("What is the launch code?")) return { text: "Noted." }
      const all = messages.map((m) => Message.textOf(m.content)).join("\n")
      const code = /launch code is ([A-Z]+-\d+)/.exec(all)?.[1]
      return { text: code === undefined ? "I do not know." : `The launch code is ${code}.` }
    })
  ]
})

const filler = (i: number) =>
  `Note ${i}: ${"the quarterly numbers look steady across every region and product line. ".repeat(16)}`

describe("compaction near the context window", () => {
  it.effect("a long conversation stays under the window and answers about its first turn from the summary", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        system: SYSTEM,
        builtinTools: false,
        compaction: { contextWindow: WINDOW, threshold: 0.8, keepTurns: 1, summarise }
      })
      const session = yield* agent.session()
      yield* session.ask("Remember: the launch code is ORCHID-42.")
      const compactions: Array<StreamEvent.Compaction> = []
      for (let i = 1; i <= 12; i++) {
        yield* session
          .askStream(filler(i))
          .pipe(Stream.runForEach((event) => Effect.sync(() => event.type === "compaction" && compactions.push(event))))
        assertValidHistory(yield* session.history)
      }
      const answer = yield* session.ask("What is the launch code?")
      assert.strictEqual(answer, "The launch code is ORCHID-42.")

      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests.length, 14)
      // every request stayed under the window, and the system prompt never changed
      for (const request of requests) assert.isAtMost(Tokens.estimate(request), WINDOW)
      const systems = new Set(requests.map((r) => JSON.stringify(r.system)))
      assert.strictEqual(systems.size, 1)
      // the last request carries the summary, not the early turn
      const last = requests[requests.length - 1]!
      const texts = last.messages.map((m) => Message.textOf(m.content))
      assert.include(texts[0], "<conversation_summary>")
      assert.include(texts[0], "Fact: the launch code is ORCHID-42.")
      assert.isFalse(texts.some((t) => t.includes("Remember: the launch code")))
      assert.isFalse(texts.some((t) => t.includes("Note 1:")))

      // recorded: as events in the stream, and as records with the removed messages
      const records = yield* session.compactions
      assert.isAtLeast(records.length, 2)
      assert.strictEqual(compactions.length, records.length)
      assert.deepStrictEqual(records[0]!.removed[0], Message.user("Remember: the launch code is ORCHID-42."))
      for (const record of records) {
        assert.strictEqual(record.reason, "window")
        assert.isBelow(record.tokensAfter, record.tokensBefore)
      }
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(model))
  )

  it.effect("without compaction the same conversation grows past the window", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        system: SYSTEM,
        builtinTools: false,
        compaction: { contextWindow: WINDOW, auto: false, summarise }
      })
      const session = yield* agent.session()
      yield* session.ask("Remember: the launch code is ORCHID-42.")
      for (let i = 1; i <= 12; i++) yield* session.ask(filler(i))
      const requests = yield* (yield* Mock.Recorder).requests
      assert.isAbove(Tokens.estimate(requests[requests.length - 1]!), WINDOW)
      assert.deepStrictEqual(yield* session.compactions, [])
    }).pipe(Effect.provide(model))
  )

  it.effect("large tool results are offloaded into handles the model can still query with SQL", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        system: SYSTEM,
        compaction: {
          contextWindow: 2_400,
          threshold: 0.5,
          offloadOver: 1_000,
          summarise: () => Effect.die("no summary is needed once the result is offloaded")
        }
      })
      const session = yield* agent.session()
      yield* session.ask("List fifty rows.")
      const { events } = yield* Effect.map(
        Stream.runCollect(session.askStream("How many rows were there?")),
        (events) => ({ events })
      )
      const compaction = events.find((e): e is StreamEvent.Compaction => e.type === "compaction")
      assert.deepStrictEqual(compaction?.offloaded, ["tool_result"])
      assert.strictEqual(compaction?.summarised, 0)
      // the model queried the offloaded result with sql
      const results = toolResultEvents(events)
      assert.include(String(results[0]!.content), '"rows":[[50]]')
      const requests = yield* (yield* Mock.Recorder).requests
      const offloadedNote = JSON.stringify(requests[2]!.messages)
      assert.include(offloadedNote, 'kept as the data handle \\"tool_result\\"')
      assert.notInclude(offloadedNote, "row number 49")
      assertValidHistory(yield* session.history)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", {
              query: "SELECT range AS id, 'row number ' || range || ' of fifty rows' AS label FROM range(50)"
            }),
            Mock.text("Here are fifty rows."),
            Mock.toolCall("sql", { query: "SELECT count(*) AS n FROM tool_result" }),
            Mock.reply(({ lastToolResults }) => ({ text: String(lastToolResults[0]?.content) }))
          ]
        })
      )
    )
  )
})

describe("compaction on demand", () => {
  it.effect(
    "session.compact() summarises with the agent's model; later requests carry the summary, the system prompt unchanged",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({ system: SYSTEM, builtinTools: false, compaction: { keepTurns: 1 } })
        const session = yield* agent.session()
        yield* session.ask("Remember: the launch code is ORCHID-42.")
        yield* session.ask("Remember: the backup code is LILY-7.")
        yield* session.ask("Thanks.")
        const usageBefore = yield* session.usage
        const record = yield* session.compact
        assert.isDefined(record)
        assert.strictEqual(record!.reason, "manual")
        assert.strictEqual(record!.summarised, 5)
        assert.strictEqual(
          record!.summary,
          "The user asked me to remember two codes: ORCHID-42 (launch) and LILY-7 (backup)."
        )
        const history = yield* session.history
        assertValidHistory(history)
        assert.strictEqual(history.length, 2)
        // the summariser's call is counted
        assert.strictEqual((yield* session.usage).outputTokens, usageBefore.outputTokens + 25)

        yield* session.ask("What is the launch code?")
        const requests = yield* (yield* Mock.Recorder).requests
        // the summary request: its own system prompt, a transcript, no tools
        const summaryRequest = requests[3]!
        assert.deepStrictEqual(summaryRequest.tools, [])
        assert.include(
          Message.textOf(summaryRequest.messages[0]!.content),
          "User: Remember: the launch code is ORCHID-42."
        )
        const next = requests[4]!
        assert.strictEqual(JSON.stringify(next.system), JSON.stringify(requests[0]!.system))
        assert.include(Message.textOf(next.messages[0]!.content), "ORCHID-42 (launch)")
        assert.deepStrictEqual(yield* session.compactions, [record!])
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.text("Noted."),
              Mock.text("Noted."),
              Mock.text("You are welcome."),
              {
                text: "The user asked me to remember two codes: ORCHID-42 (launch) and LILY-7 (backup).",
                usage: { outputTokens: 25 }
              },
              Mock.text("ORCHID-42.")
            ]
          })
        )
      )
  )
})

describe("compaction failures", () => {
  it.effect("a failing summariser: compact() is CompactionFailed and the history is unchanged; an ask goes on", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        system: SYSTEM,
        builtinTools: false,
        compaction: { contextWindow: 300, keepTurns: 1, summarise: () => Effect.fail("summariser offline") }
      })
      const session = yield* agent.session()
      yield* session.ask("Remember: the launch code is ORCHID-42.")
      yield* session.ask(filler(1))
      const before = yield* session.history
      const error = yield* Effect.flip(session.compact)
      assert.strictEqual(error._tag, "CompactionFailed")
      assert.include(error.message, "summariser offline")
      assert.deepStrictEqual(yield* session.history, before)
      // automatic compaction fails the same way before this ask's turn: it logs and goes on
      assert.strictEqual(yield* session.ask("What is the launch code?"), "The launch code is ORCHID-42.")
      assert.deepStrictEqual(yield* session.compactions, [])
    }).pipe(Effect.provide(model))
  )
})
