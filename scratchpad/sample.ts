/**
 * The sample a new user runs first (`npm start`): a data analyst session over a bundled sales
 * CSV, two questions, text streamed as it arrives, each tool call shown as its input streams,
 * a summary line after each answer (duration, events, time to first token) and usage at the end.
 *
 * The model comes from the environment: `ANTHROPIC_API_KEY` asks Claude (`ANTHROPIC_MODEL`,
 * `ANTHROPIC_BASE_URL`); else `OPENAI_API_KEY` or `OPENAI_BASE_URL` asks an OpenAI-compatible
 * server (`OPENAI_MODEL`; an Ollama URL needs no key); else the embedded scripted model, which
 * issues real SQL and JavaScript calls and quotes their real results. The first line says which.
 */
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer, Option, Stream } from "effect"
import { Accumulate, Agent, Anthropic, Mock, OpenAI, type Provider } from "../src/index.js"

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

// the model, from the environment

const env = (name: string): string | undefined => {
  const value = process.env[name]?.trim()
  return value === undefined || value.length === 0 ? undefined : value
}

/** The provider the environment asks for, and the line that says which. */
const chooseProvider = (): { readonly layer: Layer.Layer<Provider.Provider, unknown>; readonly says: string } => {
  if (env("ANTHROPIC_API_KEY") !== undefined) {
    return {
      layer: Anthropic.layerConfig(),
      says: `Using Claude (${env("ANTHROPIC_MODEL") ?? Anthropic.defaultModel}), from ANTHROPIC_API_KEY.`
    }
  }
  const baseURL = env("OPENAI_BASE_URL")
  if (env("OPENAI_API_KEY") !== undefined || baseURL !== undefined) {
    return {
      layer: OpenAI.layerConfig(),
      says:
        `Using the OpenAI-compatible server at ${baseURL ?? OpenAI.presets.openai.baseURL} ` +
        `(model ${env("OPENAI_MODEL") ?? OpenAI.defaultModel}), from ${baseURL === undefined ? "OPENAI_API_KEY" : "OPENAI_BASE_URL"}.`
    }
  }
  return {
    layer: Layer.orDie(
      Mock.layer({ turns: scripted, chunkSize: 6, eventDelay: "4 millis", model: "scripted-analyst" })
    ),
    says:
      "No ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL set: running the embedded scripted model " +
      "(offline); its tool calls run for real."
  }
}

// printing the run as it streams

const tty = process.stdout.isTTY === true
const write = (text: string) => process.stdout.write(text)
const oneLine = (text: string) => text.replace(/\s+/g, " ")
const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text)

/**
 * Shows each snapshot of an ask: text as it arrives; the tool call being streamed on a line that
 * updates as its input grows (on a terminal; elsewhere the line is printed once, whole); each
 * tool result.
 */
const printer = () => {
  let atLineStart = true
  let shown: Accumulate.ToolCall | undefined
  const newline = () => {
    if (!atLineStart) write("\n")
    atLineStart = true
  }
  const width = () => Math.max(40, (process.stdout.columns ?? 120) - 1)
  /** The call as it streams: its input's last characters, where it grows. */
  const growingLine = (call: Accumulate.ToolCall) => {
    const head = `  → ${call.name} `
    const json = oneLine(call.json)
    const room = width() - head.length
    return json.length > room ? `${head}…${json.slice(json.length - room + 1)}` : head + json
  }
  /** The whole call: its input's first characters. */
  const callLine = (call: Accumulate.ToolCall) => clip(`  → ${call.name} ${oneLine(call.json)}`, width())
  return (snapshot: Accumulate.Snapshot) =>
    Effect.sync(() => {
      const event = snapshot.event
      const call = snapshot.toolCall
      if (call !== undefined) {
        if (shown === undefined) newline()
        shown = call
        if (tty) {
          write(`\r\x1b[2K${growingLine(call)}`)
          atLineStart = false
        }
        return
      }
      switch (event.type) {
        case "content_block_delta":
          if (event.delta.type === "text_delta") {
            write((event.delta as { text: string }).text)
            atLineStart = false
          }
          break
        case "content_block_stop": {
          if (shown === undefined || shown.index !== event.index) break
          const whole = snapshot.toolCalls.find((c) => c.id === shown!.id) ?? shown
          write(`${tty ? "\r\x1b[2K" : ""}${callLine(whole)}\n`)
          atLineStart = true
          shown = undefined
          break
        }
        case "tool_result": {
          newline()
          const text = typeof event.content === "string" ? event.content : JSON.stringify(event.content)
          write(`  ← ${event.is_error ? "error: " : ""}${clip(oneLine(text), 200)}\n`)
          break
        }
        case "discard":
          newline()
          write(`  [the model's turn failed part-way (${event.reason}); retrying it from the start]\n`)
          shown = undefined
          break
        case "message_stop":
          newline()
          break
      }
    })
}

const ms = (duration: Duration.Duration) => `${Math.round(Duration.toMillis(duration))} ms`

/** The line after each answer: how long, how many events, how soon the first token. */
const summaryLine = (summary: Accumulate.Summary) =>
  `  [${(Duration.toMillis(summary.duration) / 1000).toFixed(2)} s, ${summary.events} events ` +
  `(${summary.deltas} deltas) over ${summary.turns.length} turns; first token after ` +
  `${Option.match(summary.timeToFirstToken, { onNone: () => "none", onSome: ms })}, first tool call after ` +
  `${Option.match(summary.timeToFirstToolCall, { onNone: () => "none", onSome: ms })}]`

const program = (says: string) =>
  Effect.gen(function* () {
    console.log(says)
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
      // one pass over the events: snapshots to show the run, the same events into the summary
      const summary = yield* session.askStream(question).pipe(
        Accumulate.snapshots,
        Stream.tap(printer()),
        Stream.map((snapshot) => snapshot.event),
        Stream.run(Accumulate.summary)
      )
      console.log(`${summaryLine(summary)}\n`)
    }
    const usage = yield* session.usage
    console.log(
      `Usage: ${usage.inputTokens} input tokens, ${usage.outputTokens} output tokens, ` +
        `${usage.cacheReadTokens} read from cache, ${usage.cacheWriteTokens} written to cache.`
    )
  })

const chosen = chooseProvider()

// the session is a resource of this scope: its database is closed when the program ends
Effect.runPromise(program(chosen.says).pipe(Effect.scoped, Effect.provide(chosen.layer))).catch((error) => {
  console.error(`The sample failed: ${error?.message ?? error}`)
  process.exitCode = 1
})
