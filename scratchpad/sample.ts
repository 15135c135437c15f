/**
 * The sample a new user runs first (`npm start`): a data analyst session over a bundled sales
 * CSV, two questions, text streamed as it arrives, tool calls shown as they happen, usage at the
 * end. With ANTHROPIC_API_KEY set it asks Claude; without it, the embedded scripted model, which
 * issues real SQL and JavaScript calls and quotes their real results.
 */
import { fileURLToPath } from "node:url"
import { Effect, Layer, Stream } from "effect"
import { Agent, Anthropic, Mock, type Provider, type StreamEvent } from "../src/index.js"

const salesCsv = fileURLToPath(new URL("./data/sales.csv", import.meta.url))

const questions = [
  "Which region sells most, how does revenue trend by month, and which month grew most?",
  "Which product brings in the most revenue per order, on average?"
]

// the offline model: scripted turns that read the real tool results

/** The JSON line an inline `sql` result starts with. */
const table = (content: unknown) => JSON.parse(String(content).split("\n")[0]!) as { rows: Array<Array<unknown>> }

const toolResults = (messages: ReadonlyArray<{ role: string; content: ReadonlyArray<{ type: string }> }>) =>
  messages.flatMap((m) => (m.role === "user" ? m.content.filter((b) => b.type === "tool_result") : [])) as Array<{
    content?: unknown
  }>

const scripted: ReadonlyArray<Mock.Turn> = [
  // question 1
  Mock.toolCall("list_variables"),
  Mock.toolCalls(
    [
      {
        name: "sql",
        input: {
          query:
            "SELECT region, round(sum(units * unit_price), 2) AS revenue, sum(units) AS units FROM sales GROUP BY region ORDER BY revenue DESC"
        }
      }
    ],
    "Let me total revenue by region. "
  ),
  Mock.toolCall("sql", {
    query:
      "SELECT strftime(date, '%Y-%m') AS month, round(sum(units * unit_price), 2) AS revenue FROM sales GROUP BY month ORDER BY month"
  }),
  Mock.toolCalls(
    [
      {
        name: "javascript",
        input: {
          code: `const byMonth = {}
for (const row of sales) { const m = row.date.slice(0, 7); byMonth[m] = (byMonth[m] ?? 0) + row.units * row.unit_price }
const months = Object.keys(byMonth).sort()
const growth = months.slice(1).map((m, i) => ({ month: m, change: Math.round((byMonth[m] / byMonth[months[i]] - 1) * 1000) / 10 }))
const best = growth.reduce((a, b) => (b.change > a.change ? b : a))
console.log("month-over-month change (%):", JSON.stringify(growth))
answer({ bestMonth: best.month, changePercent: best.change })
best`
        }
      }
    ],
    "Now the month-over-month growth. "
  ),
  Mock.reply(({ messages }) => {
    const results = toolResults(messages)
    const regions = table(results[1]!.content)
    const months = table(results[2]!.content)
    const resultLine = String(results[3]!.content)
      .split("\n")
      .find((line) => line.startsWith("Result: "))!
    const best = JSON.parse(resultLine.slice("Result: ".length)) as { month: string; change: number }
    return Mock.text(
      `${regions.rows[0]![0]} sells most, with ${regions.rows[0]![1]} in revenue. ` +
        `Revenue by month: ${months.rows.map(([m, v]) => `${m} ${v}`).join(", ")}. ` +
        `The strongest month-over-month growth was ${best.month} (+${best.change}%).`
    )
  }),
  // question 2
  Mock.toolCall("sql", {
    query:
      "SELECT product, round(avg(units * unit_price), 2) AS revenue_per_order, count(*) AS orders FROM sales GROUP BY product ORDER BY revenue_per_order DESC"
  }),
  Mock.reply(({ lastToolResults }) => {
    const rows = table(lastToolResults[0]!.content).rows
    return Mock.text(
      `${rows[0]![0]} brings in the most per order: ${rows[0]![1]} on average over ${rows[0]![2]} orders ` +
        `(next: ${rows[1]![0]} at ${rows[1]![1]}).`
    )
  })
]

const offline = !process.env.ANTHROPIC_API_KEY
const provider: Layer.Layer<Provider.Provider, unknown> = offline
  ? Layer.orDie(Mock.layer({ turns: scripted, chunkSize: 6, eventDelay: "4 millis", model: "scripted-analyst" }))
  : Anthropic.layerConfig()

// printing events as they arrive

const printer = () => {
  const toolInputs = new Map<number, { name: string; json: string }>()
  return (event: StreamEvent.StreamEvent) =>
    Effect.sync(() => {
      switch (event.type) {
        case "content_block_start":
          if (event.content_block.type === "tool_use") {
            toolInputs.set(event.index, { name: (event.content_block as { name: string }).name, json: "" })
          }
          break
        case "content_block_delta":
          if (event.delta.type === "text_delta") process.stdout.write((event.delta as { text: string }).text)
          if (event.delta.type === "input_json_delta") {
            const tool = toolInputs.get(event.index)
            if (tool) tool.json += (event.delta as { partial_json: string }).partial_json
          }
          break
        case "content_block_stop": {
          const tool = toolInputs.get(event.index)
          if (tool) {
            process.stdout.write(
              `\n  → ${tool.name} ${tool.json.length > 300 ? `${tool.json.slice(0, 300)}…` : tool.json}\n`
            )
            toolInputs.delete(event.index)
          }
          break
        }
        case "tool_result": {
          const text = typeof event.content === "string" ? event.content : JSON.stringify(event.content)
          const line = text.replace(/\s+/g, " ")
          process.stdout.write(
            `  ← ${event.is_error ? "error: " : ""}${line.length > 200 ? `${line.slice(0, 200)}…` : line}\n`
          )
          break
        }
        case "discard":
          process.stdout.write(`\n  [retrying: ${event.reason}]\n`)
          break
        case "message_stop":
          process.stdout.write("\n")
          break
      }
    })
}

const program = Effect.gen(function* () {
  console.log(
    offline
      ? "No ANTHROPIC_API_KEY set: running the embedded scripted model (offline); its tool calls run for real."
      : `Using Claude (${process.env.ANTHROPIC_MODEL ?? "claude-sonnet-4-6"}).`
  )
  const agent = yield* Agent.make({
    system: "You are a data analyst. Use the sql and javascript tools on the session's data; quote figures exactly.",
    maxTurns: 12
  })
  const session = yield* agent.session()
  const handle = yield* session.putFile("sales", salesCsv, {
    description: "Sales in the first half of 2024, one row per order",
    semantics: { units: "items in the order", unit_price: "price per item in EUR" }
  })
  console.log(`Put ${salesCsv.split("/").slice(-2).join("/")} into the session as "${handle}".\n`)
  for (const question of questions) {
    console.log(`? ${question}`)
    yield* session.askStream(question).pipe(Stream.runForEach(printer()))
    console.log()
  }
  const usage = yield* session.usage
  console.log(
    `Usage: ${usage.inputTokens} input tokens, ${usage.outputTokens} output tokens, ` +
      `${usage.cacheReadTokens} read from cache, ${usage.cacheWriteTokens} written to cache.`
  )
})

// the session is a resource of this scope: its database is closed when the program ends
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(provider))).catch((error) => {
  console.error(`The sample failed: ${error?.message ?? error}`)
  process.exitCode = 1
})
