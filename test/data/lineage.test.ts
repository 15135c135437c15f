/**
 * Lineage in the handle store: what each way of making a handle records, which handles a SQL
 * statement read (from DuckDB's parser), and the chains `lineage` and `lineageOf` return.
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Data } from "../../src/index.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

const inputNames = (store: Data.Store, name: string) =>
  Effect.map(store.lineage(name), (lineage) => lineage.steps[0]!.inputs.map((input) => input.name))

/** Every step comes before the steps of the versions it read. */
const assertOrdered = (lineage: Data.Lineage) => {
  const at = new Map(lineage.steps.map((step, i) => [step.id, i]))
  for (const [i, step] of lineage.steps.entries()) {
    for (const input of step.inputs) assert.isAbove(at.get(input.id)!, i, `${step.name} before ${input.name}`)
  }
}

describe("what each way of making a handle records", () => {
  it.effect("put records a source put by the user, at the Clock's time", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* TestClock.adjust("5 seconds")
      yield* store.put("sales", [{ a: 1 }])
      const lineage = yield* store.lineage("SALES")
      const [step] = lineage.steps
      assert.deepStrictEqual(lineage.handles, [{ name: "sales", id: step!.id }])
      assert.deepStrictEqual(
        { ...step!, id: "" },
        { id: "", name: "sales", kind: "put", inputs: [], createdAt: 5_000, superseded: false }
      )
    })
  )

  it.effect("putFile records the file's path and the format given", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.putFile("orders", fixture("sales.csv"), { format: "csv" })
      const [step] = (yield* store.lineage("orders")).steps
      assert.deepStrictEqual(
        [step!.kind, step!.path, step!.format, step!.inputs],
        ["file", fixture("sales.csv"), "csv", []]
      )
    })
  )

  it.effect("saveQuery records its statement and the handles it read", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("sales", [{ region: "n", amount: 2 }])
      yield* store.putFile("orders", fixture("sales.parquet"))
      const sql = "SELECT s.region, count(*) AS n FROM sales s JOIN orders o ON o.region = s.region GROUP BY 1 ;"
      yield* store.saveQuery("joined", sql)
      const lineage = yield* store.lineage("joined")
      assert.strictEqual(lineage.steps[0]!.code, sql.slice(0, -2))
      assert.deepStrictEqual(
        lineage.steps.map((step) => [step.name, step.kind]),
        [
          ["joined", "sql"],
          ["sales", "put"],
          ["orders", "file"]
        ]
      )
    })
  )

  it.effect("a value put with a source records that tool, its code and its inputs", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("sales", [{ a: 1 }])
      const sales = (yield* store.get("sales"))!
      yield* store.put("forecast", [{ a: 2 }], {
        source: { kind: "forecast", code: "holt-winters", inputs: [sales], toolUseId: "toolu_9" }
      })
      const [step, source] = (yield* store.lineage("forecast")).steps
      assert.deepStrictEqual(
        [step!.kind, step!.code, step!.toolUseId, step!.inputs],
        ["forecast", "holt-winters", "toolu_9", [{ name: "sales", id: source!.id }]]
      )
    })
  )

  it.effect("a source naming an unknown handle is a NotFound, and nothing is put", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("sales", [{ a: 1 }])
      const error = yield* Effect.flip(store.put("x", 1, { source: { kind: "tool", inputs: ["sales", "nope"] } }))
      assert.strictEqual(error._tag, "DataError")
      assert.strictEqual(error.reason, "NotFound")
      assert.strictEqual(error.name, "nope")
      assert.include(error.message, "sales")
      assert.isUndefined(yield* store.get("x"))
    })
  )
})

describe("which handles a SQL statement read", () => {
  const setup = Effect.gen(function* () {
    const store = yield* Data.makeStore
    for (const name of ["sales", "orders", "regions", "users"]) yield* store.put(name, [{ id: 1, region: "n" }])
    return store
  })

  const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
    [
      "a string literal or a column that spells a handle is not a read",
      "SELECT 'regions' AS users FROM sales",
      ["sales"]
    ],
    ["a CTE named like a handle hides it", "WITH sales AS (SELECT * FROM orders) SELECT * FROM sales", ["orders"]],
    ["a CTE reads the handle of its own name", "WITH sales AS (FROM sales) SELECT * FROM sales", ["sales"]],
    [
      "a recursive CTE's name is its own",
      "WITH RECURSIVE regions AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM regions WHERE n < 3) SELECT * FROM regions, users",
      ["users"]
    ],
    [
      "subqueries, joins and later CTEs are followed",
      "WITH a AS (SELECT * FROM orders), b AS (SELECT * FROM a) SELECT (SELECT max(id) FROM users) AS m FROM b JOIN Regions USING (id) WHERE id IN (SELECT id FROM main.sales)",
      ["orders", "users", "regions", "sales"]
    ],
    ["DESCRIBE reads its table", "DESCRIBE orders", ["orders"]],
    ["static PIVOT reads its table", "PIVOT sales ON region IN ('n') USING count(*)", ["sales"]],
    ["a statement over no handle reads none", "SELECT * FROM range(3)", []]
  ]
  for (const [label, sql, expected] of cases) {
    it.effect(label, () =>
      Effect.gen(function* () {
        const store = yield* setup
        // the sql tool's path: any SELECT-form statement, DESCRIBE and PIVOT too
        yield* store.select(sql, { keepAs: () => "result" })
        assert.deepStrictEqual(yield* inputNames(store, "result"), expected)
      })
    )
  }

  it.effect("the sql path (select) records the version the database held", () =>
    Effect.gen(function* () {
      const store = yield* setup
      const sales = (yield* store.lineage("sales")).steps[0]!
      const kept = yield* store.select("SELECT * FROM sales", { keepAs: () => "copy", toolUseId: "toolu_1" })
      assert.strictEqual(kept.handle, "copy")
      const [step] = (yield* store.lineage("copy")).steps
      assert.deepStrictEqual([step!.inputs, step!.toolUseId], [[{ name: "sales", id: sales.id }], "toolu_1"])
      // a dropped result is no handle and has no lineage
      yield* store.select("SELECT * FROM orders")
      assert.deepStrictEqual(
        (yield* store.list).map((handle) => handle.name),
        ["sales", "orders", "regions", "users", "copy"]
      )
    })
  )
})

describe("lineage and lineageOf", () => {
  it.effect("an unknown name is a DataError NotFound that says which handles there are", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const empty = yield* Effect.flip(store.lineage("sales"))
      assert.deepStrictEqual([empty._tag, empty.reason, empty.name], ["DataError", "NotFound", "sales"])
      yield* store.put("orders", 1)
      const error = yield* Effect.flip(store.lineageOf(["orders", "sales"]))
      assert.deepStrictEqual([error.reason, error.name], ["NotFound", "sales"])
      assert.include(error.message, "orders")
    })
  )

  it.effect("a diamond is listed once per version, every step before the steps it read", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("a", [{ x: 1 }])
      yield* store.saveQuery("b", "SELECT x + 1 AS x FROM a")
      yield* store.saveQuery("c", "SELECT * FROM a UNION ALL SELECT * FROM b")
      yield* store.saveQuery("d", "SELECT * FROM b UNION ALL SELECT * FROM c")
      const lineage = yield* store.lineage("d")
      assert.deepStrictEqual(
        lineage.steps.map((step) => step.name),
        ["d", "c", "b", "a"]
      )
      assertOrdered(lineage)
    })
  )

  it.effect("lineageOf merges the chains of several handles, each step once", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("sales", [{ x: 1 }])
      yield* store.put("costs", [{ x: 2 }])
      yield* store.saveQuery("revenue", "SELECT sum(x) AS x FROM sales")
      yield* store.saveQuery("margin", "SELECT r.x - c.x AS x FROM revenue r, costs c")
      const lineage = yield* store.lineageOf(["revenue", "margin", "revenue"])
      assert.deepStrictEqual(
        lineage.handles.map((handle) => handle.name),
        ["revenue", "margin"]
      )
      assert.deepStrictEqual(lineage.steps.map((step) => step.name).sort(), ["costs", "margin", "revenue", "sales"])
      assertOrdered(lineage)
    })
  )

  it.effect("a saved result removed with the database stays in the chains made from it, superseded", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("sales", [{ x: 1 }])
      yield* store.saveQuery("total", "SELECT sum(x) AS x FROM sales")
      const total = (yield* store.get("total"))!
      yield* store.put(
        "report",
        { total: 1 },
        { source: { kind: "javascript", code: "({ total: total[0].x })", inputs: [total] } }
      )
      yield* store.close
      assert.isUndefined(yield* store.get("total"))
      const lineage = yield* store.lineage("report")
      assert.deepStrictEqual(
        lineage.steps.map((step) => [step.name, step.kind, step.superseded]),
        [
          ["report", "javascript", false],
          ["total", "sql", true],
          ["sales", "put", false]
        ]
      )
    })
  )

  it.effect("a chain thousands of steps long is returned whole", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("v0", 0)
      for (let i = 1; i <= 3_000; i++) {
        yield* store.put(`v${i}`, i, { source: { kind: "increment", inputs: [`v${i - 1}`] } })
      }
      const lineage = yield* store.lineage("v3000")
      assert.strictEqual(lineage.steps.length, 3_001)
      assert.deepStrictEqual([lineage.steps[0]!.name, lineage.steps[3_000]!.name], ["v3000", "v0"])
      assertOrdered(lineage)
    })
  )
})
