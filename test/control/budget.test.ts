/**
 * Costs and budgets through the public API: costs priced by the table, a dollar budget that stops
 * a run before the call that would pass it, token and wall-time budgets, a tool-compute budget
 * that interrupts a runaway DuckDB query, and budgets per ask, session and agent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Mock, Tool, type Usage } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

const close = (actual: number, expected: number) => assert.approximately(actual, expected, 1e-12)

const echo = Tool.make("echo", {
  description: "Echoes its text.",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

describe("costs", () => {
  const usages = [
    { inputTokens: 1_200, outputTokens: 300, cacheReadTokens: 4_000, cacheWriteTokens: 2_000 },
    { inputTokens: 900, outputTokens: 150, cacheReadTokens: 6_000, cacheWriteTokens: 0 }
  ]
  const sonnet = Mock.layer({
    model: "claude-sonnet-4-6",
    turns: [
      { toolCalls: [{ name: "echo", input: { text: "x" } }], usage: usages[0] },
      { text: "done", usage: usages[1] }
    ]
  })
  // the table's row for claude-sonnet-4-6: 3 in, 15 out, 3.75 5-minute writes, 0.30 reads
  const priced = (u: (typeof usages)[number]) =>
    (u.inputTokens * 3 + u.outputTokens * 15 + u.cacheWriteTokens * 3.75 + u.cacheReadTokens * 0.3) / 1e6

  it.effect("RunResult.cost and each turn's cost match the price table", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [echo] })
      const result = yield* agent.runResult("go")
      assert.strictEqual(result.turnCosts.length, 2)
      close(result.turnCosts[0]!.usd, priced(usages[0]!))
      close(result.turnCosts[1]!.usd, priced(usages[1]!))
      close(result.cost.usd, priced(usages[0]!) + priced(usages[1]!))
      close(result.cost.cacheRead, ((4_000 + 6_000) * 0.3) / 1e6)
      assert.deepStrictEqual(result.cost.unpriced, [])
      close((yield* agent.spent).usd, result.cost.usd)
    }).pipe(Effect.provide(sonnet))
  )

  it.effect("a session sums its asks' costs; a model without a price is named, not guessed", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [echo] })
      const session = yield* agent.session()
      const result = yield* session.askResult("go")
      close((yield* session.cost).usd, result.cost.usd)
      assert.strictEqual((yield* session.spent).inputTokens, 1_200 + 4_000 + 2_000 + 900 + 6_000)
      assert.strictEqual((yield* session.spent).outputTokens, 450)

      const unknown = yield* Agent.make({ tools: [echo] }).pipe(
        Effect.provide(Mock.layer({ model: "my-finetune", turns: [Mock.text("hi")] }))
      )
      const free = yield* unknown.runResult("go")
      assert.strictEqual(free.cost.usd, 0)
      assert.deepStrictEqual(free.cost.unpriced, ["my-finetune"])
      // a price given to the agent prices it
      const pricedAgent = yield* Agent.make({ prices: { "my-finetune": { input: 1, output: 2 } } }).pipe(
        Effect.provide(
          Mock.layer({ model: "my-finetune", turns: [{ text: "hi", usage: { inputTokens: 1e6, outputTokens: 1e6 } }] })
        )
      )
      close((yield* pricedAgent.runResult("go")).cost.usd, 3)
    }).pipe(Effect.provide(sonnet))
  )
})

describe("budgets before model calls", () => {
  // a large prompt: the mock reports its input at 4 characters per token, the estimate counts 3
  const prompt = `Summarise this log:\n${"2026-12-07 12:00:00 INFO request served in 12 ms\n".repeat(1_200)}`
  const threeCalls = Mock.layer({
    turns: [
      Mock.toolCall("echo", { text: "one" }),
      Mock.toolCall("echo", { text: "two" }),
      Mock.toolCall("echo", { text: "three" }),
      Mock.text("done")
    ]
  })

  it.effect("a run that would pass its dollar budget on its third call stops before making it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        builtinTools: false,
        tools: [echo],
        prices: { "mock-model": { input: 10, output: 10 } },
        budget: { ask: { usd: 0.45 } }
      })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.ask(prompt))
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(error._tag, "BudgetExceeded")
      if (error._tag !== "BudgetExceeded") return
      assert.strictEqual(error.scope, "ask")
      assert.strictEqual(error.limit, "usd")
      assert.strictEqual(error.allowed, 0.45)
      // what was spent is the two calls made, priced by the table ($10 per million tokens)
      const usage = (yield* session.usage) as Usage.Usage
      close(error.spent.usd, ((usage.inputTokens + usage.outputTokens) * 10) / 1e6)
      close(error.cost.usd, error.spent.usd)
      assert.isBelow(error.spent.usd, 0.45)
      assert.isAbove(error.spent.usd + error.needed!, 0.45)
      assert.include(error.message, "budget.ask.usd")
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(threeCalls))
  )

  it.effect("an input-token budget uses the agent's token counter", () =>
    Effect.gen(function* () {
      const counted: Array<number> = []
      const agent = yield* Agent.make({
        builtinTools: false,
        tools: [echo],
        countTokens: (request) =>
          Effect.sync(() => {
            counted.push(request.messages.length)
            return 600
          }),
        budget: { ask: { inputTokens: 1_500 } }
      })
      const error = yield* Effect.flip(agent.run("go"))
      assert.strictEqual(error._tag, "BudgetExceeded")
      if (error._tag !== "BudgetExceeded") return
      assert.strictEqual(error.limit, "inputTokens")
      assert.strictEqual(error.needed, 600)
      assert.strictEqual(error.spent.inputTokens, 1_200)
      assert.deepStrictEqual(counted, [1, 3, 5])
      assert.strictEqual((yield* (yield* Mock.Recorder).requests).length, 2)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            { toolCalls: [{ name: "echo", input: { text: "a" } }], usage: { inputTokens: 600 } },
            { toolCalls: [{ name: "echo", input: { text: "b" } }], usage: { inputTokens: 600 } },
            Mock.text("done")
          ]
        })
      )
    )
  )

  it.effect("a session budget counts all its asks; an agent budget all its runs", () =>
    Effect.gen(function* () {
      const script = Mock.layer({ turns: [{ text: "hi", usage: { inputTokens: 0, outputTokens: 100 } }] })
      const agent = yield* Agent.make({ budget: { agent: { outputTokens: 250 } } }).pipe(Effect.provide(script))
      const session = yield* agent.session({ budget: { outputTokens: 150 } })
      yield* session.ask("one")
      yield* session.ask("two") // 100 spent before it: allowed, 200 after
      const sessionOver = yield* Effect.flip(session.ask("three"))
      assert.strictEqual(sessionOver._tag === "BudgetExceeded" && sessionOver.scope, "session")
      yield* agent.run("four") // 200 before: allowed by the agent's 250, 300 after
      const agentOver = yield* Effect.flip(agent.run("five"))
      assert.strictEqual(agentOver._tag === "BudgetExceeded" && agentOver.scope, "agent")
      assert.strictEqual((yield* agent.spent).outputTokens, 300)
    })
  )

  it.effect("a wall-time budget refuses the next call once the ask has run that long", () =>
    Effect.gen(function* () {
      const slow = Tool.make("slow", {
        description: "Takes ten seconds.",
        parameters: Schema.Struct({}),
        handler: () => Effect.as(Effect.sleep("10 seconds"), "ok")
      })
      const agent = yield* Agent.make({ tools: [slow], budget: { ask: { wallTime: "5 seconds" } } })
      const fiber = yield* Effect.forkChild(Effect.flip(agent.run("go")))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag === "BudgetExceeded" && error.limit, "wallTime")
      assert.strictEqual((yield* (yield* Mock.Recorder).requests).length, 1)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("slow"), Mock.text("done")] })))
  )

  it.effect("invalid budgets are InvalidOptions naming the limit, before anything runs", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(Agent.make({ budget: { ask: { usd: -1 } } }))
      assert.strictEqual(bad.option, "budget.ask.usd")
      const agent = yield* Agent.make({})
      const session = yield* agent.session()
      const wrong = yield* Effect.flip(session.ask("go", { budget: { dollars: 1 } as never }))
      assert.strictEqual(wrong._tag === "InvalidOptions" && wrong.option, "budget.dollars")
      assert.deepStrictEqual(yield* session.history, [])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("hi")] })))
  )
})

describe("budgets before tool calls", () => {
  it.live("a tool-compute budget interrupts a runaway SQL query and ends the run", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ budget: { ask: { toolCpuMs: 400 } } })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.ask("Count the pairs."))
      assert.strictEqual(error._tag, "BudgetExceeded")
      if (error._tag !== "BudgetExceeded") return
      assert.strictEqual(error.limit, "toolCpuMs")
      assert.isAtLeast(error.spent.toolCpuMs, 400)
      assert.include(error.message, "sql call to finish (it was stopped)")
      // DuckDB was interrupted: the session's database answers at once
      const probe = yield* session.data.query("SELECT 42 AS answer")
      assert.deepStrictEqual(probe.rows, [{ answer: 42 }])
      const history = yield* session.history
      assertValidHistory(history)
      assert.isAtLeast((yield* session.spent).toolCpuMs, 400)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", {
              query: "SELECT count(*) FROM range(200000) a, range(200000) b WHERE (a.range * 7 + b.range) % 1000003 = 1"
            }),
            Mock.text("done")
          ]
        })
      )
    )
  )

  it.effect("a spent tool-compute budget refuses the next compute call before it starts, not other tools", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [echo], budget: { session: { toolCpuMs: 0 } } })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.ask("Query."))
      assert.strictEqual(error._tag === "BudgetExceeded" && error.limit, "toolCpuMs")
      assert.strictEqual(error._tag === "BudgetExceeded" && error.scope, "session")
      const history = yield* session.history
      assertValidHistory(history)
      // echo ran (it is not a compute tool), the sql call was answered with a synthetic error
      const results = history.flatMap((m) => m.content).filter((b) => b.type === "tool_result")
      assert.deepStrictEqual(
        results.map((b) => [
          (b as { tool_use_id: string }).tool_use_id,
          (b as { is_error?: boolean }).is_error ?? false
        ]),
        [
          ["echo_1", false],
          ["sql_1", true]
        ]
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("echo", { text: "hi" }, "echo_1"),
            Mock.toolCall("sql", { query: "SELECT 1" }, "sql_1"),
            Mock.text("done")
          ]
        })
      )
    )
  )
})
