/**
 * Costs and budgets (`npx tsx scratchpad/budget.ts`), offline: a scripted model that reports
 * itself as `claude-sonnet-4-6`, so the price table prices its turns.
 *
 * 1. A run's cost, per turn and in all, from the table (3 / 15 / 3.75 / 0.30 dollars per million
 *    input, output, cache-write and cache-read tokens).
 * 2. A dollar budget per ask: the third call would pass it, so the run stops before it with
 *    `BudgetExceeded` (what was spent, what the next call needed); the history stays valid.
 * 3. A tool-compute budget: a runaway DuckDB query is interrupted when the budget runs out.
 */
import { Effect, Schema } from "effect"
import { Agent, Mock, Tool } from "../src/index.js"

const lookup = Tool.make("lookup", {
  description: "Looks something up.",
  parameters: Schema.Struct({ what: Schema.String }),
  handler: ({ what }) => Effect.succeed(`${what}: 42`)
})

const usage = { inputTokens: 40_000, outputTokens: 800, cacheReadTokens: 120_000, cacheWriteTokens: 20_000 }
/** A model of four turns: three lookups, then the answer (with usage as a real turn might report). */
const model = Mock.layer({
  model: "claude-sonnet-4-6",
  turns: [
    { toolCalls: [{ name: "lookup", input: { what: "revenue" } }], usage },
    { toolCalls: [{ name: "lookup", input: { what: "costs" } }], usage },
    { toolCalls: [{ name: "lookup", input: { what: "margin" } }], usage },
    { text: "Margin is 42.", usage }
  ]
})

/** The same four turns, their input counted from the request (4 characters a token), 2,000 output tokens each. */
const measuredModel = Mock.layer({
  model: "claude-sonnet-4-6",
  turns: [
    { toolCalls: [{ name: "lookup", input: { what: "revenue" } }], usage: { outputTokens: 2_000 } },
    { toolCalls: [{ name: "lookup", input: { what: "costs" } }], usage: { outputTokens: 2_000 } },
    { toolCalls: [{ name: "lookup", input: { what: "margin" } }], usage: { outputTokens: 2_000 } },
    { text: "Margin is 42.", usage: { outputTokens: 2_000 } }
  ]
})

/** A long document to ask about: about 40,000 tokens. */
const report = `What is the margin in this report?\n${"Revenue and costs by region, line by line, for the quarter. ".repeat(2_700)}`

/** A model that writes a query that would run for minutes. */
const runawayModel = Mock.layer({
  turns: [
    Mock.toolCall("sql", {
      query: "SELECT count(*) FROM range(300000) a, range(300000) b WHERE (a.range + b.range) % 7 = 3"
    }),
    Mock.text("done")
  ]
})

const dollars = (usd: number) => `$${usd.toFixed(4)}`

const program = Effect.gen(function* () {
  // 1. costs
  const agent = yield* Agent.make({ tools: [lookup] }).pipe(Effect.provide(model))
  const result = yield* agent.runResult("What is the margin?")
  console.log(
    `1. cost ${dollars(result.cost.usd)} over ${result.turns} turns: ${result.turnCosts.map((c) => dollars(c.usd)).join(" + ")}`
  )

  // 2. a dollar budget: each call costs about $0.15 and the next one's input is counted before it
  //    is made, so with $0.40 the third call is not made
  const capped = yield* Agent.make({ tools: [lookup], budget: { ask: { usd: 0.4 } } }).pipe(
    Effect.provide(measuredModel)
  )
  const session = yield* capped.session()
  const stopped = yield* Effect.flip(session.ask(report))
  if (stopped._tag === "BudgetExceeded") {
    console.log(`2. ${stopped._tag} (${stopped.scope} ${stopped.limit}): ${stopped.message}`)
  }

  // 3. tool compute: the query would run for minutes; the budget stops it after half a second
  const computeCapped = yield* Agent.make({ budget: { ask: { toolCpuMs: 500 } } }).pipe(Effect.provide(runawayModel))
  const started = Date.now()
  const runaway = yield* Effect.flip(computeCapped.run("Count the pairs."))
  console.log(`3. ${runaway._tag} after ${Date.now() - started} ms: ${runaway.message}`)
})

Effect.runPromise(program.pipe(Effect.scoped)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
