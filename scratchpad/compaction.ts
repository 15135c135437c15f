/**
 * Compaction (`npx tsx scratchpad/compaction.ts`), offline: a scripted conversation that would
 * outgrow a (deliberately small) 3,000-token window.
 *
 * - The first ask stores a fact; many long notes follow. Before each model turn the request is
 *   counted; past 80% of the window the older turns are summarised (here by a scripted
 *   summariser that keeps the facts; by default the agent's own model writes the summary) and
 *   the ask emits a `compaction` event.
 * - A large `sql` result is offloaded into a handle (`tool_result`) that the model then queries.
 * - The last question is answered from the summary: the early turn itself is no longer sent.
 */
import { Effect, Stream } from "effect"
import { Agent, type Compaction, Message, Mock, Tokens } from "../src/index.js"

const summarise: Compaction.Summariser = ({ transcript }) =>
  Effect.succeed(
    `Facts to keep: ${[...new Set([...transcript.matchAll(/(?:Remember|Facts to keep): ([^.\n]+)\./g)].map((m) => m[1]))].join("; ")}.`
  )

const model = Mock.layer({
  turns: [
    Mock.reply(({ messages, turn }) => {
      const asked = Message.textOf(messages[messages.length - 1]!.content)
      if (turn === 1)
        return Mock.toolCall("sql", { query: "SELECT range AS id, 'item ' || range AS name FROM range(40)" })
      if (asked.includes("How many items"))
        return Mock.toolCall("sql", { query: "SELECT count(*) AS n FROM tool_result" })
      if (!asked.includes("What is the launch code?")) return { text: "Noted." }
      const code = /launch code is ([A-Z]+-\d+)/.exec(messages.map((m) => Message.textOf(m.content)).join("\n"))?.[1]
      return { text: `The launch code is ${code ?? "unknown"}.` }
    })
  ]
})

const program = Effect.gen(function* () {
  const agent = yield* Agent.make({
    system: "You are a careful assistant.",
    builtinTools: true,
    compaction: { contextWindow: 1_400, threshold: 0.8, keepTurns: 1, offloadOver: 500, summarise }
  })
  const session = yield* agent.session()
  const asks = [
    "Remember: the launch code is ORCHID-42.",
    "List forty items.",
    "How many items were there?",
    ...Array.from(
      { length: 6 },
      (_, i) => `Note ${i + 1}: ${"sales were steady in every region this week. ".repeat(12)}`
    ),
    "What is the launch code?"
  ]
  for (const prompt of asks) {
    yield* session.askStream(prompt).pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (event.type === "compaction") {
            console.log(
              `  compaction: ${event.summarised} messages summarised, offloaded [${event.offloaded.join(", ")}], ` +
                `${event.tokens_before} -> ${event.tokens_after} tokens (estimated)`
            )
          }
          if (event.type === "tool_result") console.log(`  tool_result: ${String(event.content).slice(0, 100)}`)
        })
      )
    )
    const history = yield* session.history
    const last = Message.textOf(history[history.length - 1]!.content)
    console.log(`${prompt.slice(0, 40)}… -> ${last}`)
  }
  const requests = yield* (yield* Mock.Recorder).requests
  console.log(`largest request: ${Math.max(...requests.map(Tokens.estimate))} estimated tokens (window 1,400)`)
  console.log(`compactions recorded: ${(yield* session.compactions).length}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(model))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
