/**
 * `Accumulate` on its own (`npx tsx scratchpad/snapshots.ts`), offline: a scripted model that
 * thinks, writes, calls `sql`, then gives a structured answer with the `answer` tool. It prints
 * the partial answer each time its parsed input changes (the typed answer as it is streamed),
 * then the summary of the run.
 */
import { Duration, Effect, Option, Schema, Stream } from "effect"
import { Accumulate, Agent, Mock, Tool } from "../src/index.js"

const sql = Tool.make("sql", {
  description: "Runs a query (here: returns a fixed table).",
  parameters: Schema.Struct({ query: Schema.String }),
  handler: () => JSON.stringify({ columns: ["region", "revenue"], rows: [["West", 22140.06]] })
})

const model = Mock.layer({
  turns: [
    Mock.toolCalls(
      [{ name: "sql", input: { query: "SELECT region, sum(revenue) FROM sales GROUP BY region" } }],
      "Summing by region. "
    ),
    Mock.toolCall("answer", {
      value: { region: "West", revenue: 22140.06, note: "West leads, East follows", checked: ["sql"] }
    }),
    Mock.text("West sells most.")
  ],
  chunkSize: 4,
  eventDelay: "3 millis"
})

const program = Effect.gen(function* () {
  const agent = yield* Agent.make({ builtinTools: false, tools: [sql, Agent.answer] })
  let last = ""
  const summary = yield* agent.runStream("Which region sells most?").pipe(
    Accumulate.snapshots,
    Stream.tap((snapshot) =>
      Effect.sync(() => {
        // read the partial answer only while it streams: its input is parsed when read
        const answer = snapshot.toolCall?.name === "answer" ? snapshot.toolCall : undefined
        if (answer === undefined) return
        const shown = JSON.stringify(answer.input)
        if (shown !== last) console.log(`answer so far: ${shown}`)
        last = shown
      })
    ),
    Stream.map((snapshot) => snapshot.event),
    Stream.run(Accumulate.summary)
  )
  const ms = Option.match({
    onNone: () => "none",
    onSome: (d: Duration.Duration) => `${Math.round(Duration.toMillis(d))} ms`
  })
  console.log(
    `\n${summary.text}\n${summary.turns.length} turns, ${summary.events} events, ${summary.toolResults.length} tool results, ` +
      `${Math.round(Duration.toMillis(summary.duration))} ms; first token ${ms(summary.timeToFirstToken)}, first tool call ${ms(summary.timeToFirstToolCall)}`
  )
})

Effect.runPromise(program.pipe(Effect.provide(model))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
