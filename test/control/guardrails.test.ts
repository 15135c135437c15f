import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Cost, Data, Guardrails, Hooks, Usage } from "../../src/index.js"

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, region: i % 7 === 0 ? "EU" : "US" }))

const call = (data: Data.Store, input: unknown) => ({
  turn: 1,
  history: [],
  data,
  usage: Usage.empty,
  cost: Cost.empty,
  toolUseId: "toolu_1",
  name: "sql",
  input
})

describe("Guardrails.sqlCostGuard", () => {
  it.effect("reads DuckDB's EXPLAIN: a scan, a cross join and a generated range", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      yield* data.put("orders", rows(1_000))
      assert.strictEqual(yield* Guardrails.estimateRows(data, "SELECT * FROM orders"), 1_000)
      // a cross product has no estimate of its own in DuckDB 1.x: the product of its inputs
      assert.strictEqual(yield* Guardrails.estimateRows(data, "SELECT * FROM orders a, orders b"), 1_000_000)
      assert.strictEqual(yield* Guardrails.estimateRows(data, "SELECT count(*) FROM range(100000000)"), 100_000_000)
      // not plannable: the tool itself says why
      assert.isUndefined(yield* Guardrails.estimateRows(data, "SELECT * FROM missing_table"))
      assert.isUndefined(yield* Guardrails.estimateRows(data, "SELECT 1; SELECT 2"))
      // what the sql tool refuses is not planned either (no file is read)
      assert.isUndefined(yield* Guardrails.estimateRows(data, "SELECT * FROM read_csv('/etc/passwd')"))
    })
  )

  it.effect("denies a query estimated over the limit with a message for the model, and lets a cheap one run", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      yield* data.put("orders", rows(1_000))
      const guard = Guardrails.sqlCostGuard({ maxRows: 100_000 })
      const cheap = yield* guard.beforeTool!(call(data, { query: "SELECT region, count(*) FROM orders GROUP BY ALL" }))
      assert.isUndefined(cheap)
      const costly = yield* guard.beforeTool!(call(data, { query: "SELECT * FROM orders a CROSS JOIN orders b" }))
      assert.strictEqual(costly?._tag, "Deny")
      if (costly?._tag === "Deny") assert.include(costly.message, "1,000,000 rows")
      // other tools are not its business
      assert.isUndefined(yield* guard.beforeTool!({ ...call(data, { query: "x" }), name: "javascript" }))
    })
  )
})

describe("Guardrails.redact", () => {
  it.effect("masks emails and keys in a tool result and leaves clean results alone", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      const hook = Guardrails.redact()
      const dirty = {
        ...call(data, {}),
        durationMs: 1,
        result: {
          content: "owner: ana@example.com, key sk-ant-api03-abcdefghijklmnop1234, aws AKIAABCDEFGHIJKLMNOP",
          isError: false
        }
      }
      const decision = yield* hook.afterTool!(dirty)
      assert.deepStrictEqual(decision, Hooks.replaceResult("owner: [email], key [api key], aws [aws key]"))
      assert.isUndefined(yield* hook.afterTool!({ ...dirty, result: { content: "42", isError: false } }))
    })
  )
})
