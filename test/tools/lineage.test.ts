/**
 * Lineage as the agent makes it: the `sql` and `javascript` tools record what made each handle they
 * keep, `list_variables` shows it in one line, and the store returns the chain back to the sources.
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Data, Mock, SessionStore, type StreamEvent } from "../../src/index.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

const sales = [
  { region: "north", revenue: 120 },
  { region: "south", revenue: 80 },
  { region: "north", revenue: 60 },
  { region: "east", revenue: 200 }
]

const REVENUE_SQL = "SELECT region, sum(revenue) AS revenue FROM sales GROUP BY region ORDER BY region"
const TOP_CODE = "save('top_regions', revenue_by_region.filter((row) => row.revenue > 100))"
const SUMMARY_SQL = "SELECT count(*) AS regions, sum(revenue) AS revenue FROM top_regions"

/** The scripted model of the chain put -> sql -> javascript save -> sql, then `list_variables`. */
const chainTurns = [
  Mock.toolCall("sql", { query: REVENUE_SQL, save_as: "revenue_by_region" }, "toolu_sql_1"),
  Mock.toolCall("javascript", { code: TOP_CODE }, "toolu_js_1"),
  Mock.toolCall("sql", { query: `${SUMMARY_SQL};`, save_as: "summary" }, "toolu_sql_2"),
  Mock.toolCall("list_variables", {}, "toolu_list"),
  Mock.text("Two regions above 100.")
]

const text = (event: StreamEvent.ToolResult | undefined): string => {
  assert.isDefined(event)
  assert.isString(event!.content)
  return event!.content as string
}

describe("lineage of handles the tools make", () => {
  it.effect("put -> sql -> javascript save -> sql: the last handle's lineage is the whole chain back to the put", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      yield* TestClock.adjust("1 hour")
      const { events, exit } = yield* runEvents(session.askStream("Which regions sold more than 100?"))
      assert.strictEqual(exit._tag, "Success")
      for (const result of toolResultEvents(events)) assert.isFalse(result.is_error, text(result))

      const lineage = yield* session.lineage("summary")
      assert.deepStrictEqual(lineage, yield* session.data.lineage("summary"), "the session's lineage is its store's")
      const unknown = yield* Effect.flip(session.lineage("nope"))
      assert.strictEqual(unknown.reason, "NotFound")
      const [summary, top, revenue, put] = lineage.steps
      assert.strictEqual(lineage.steps.length, 4)
      assert.deepStrictEqual(lineage.handles, [{ name: "summary", id: summary!.id }])
      assert.deepStrictEqual(
        lineage.steps.map((step) => [step.name, step.kind, step.code, step.toolUseId]),
        [
          ["summary", "sql", SUMMARY_SQL, "toolu_sql_2"],
          ["top_regions", "javascript", TOP_CODE, "toolu_js_1"],
          ["revenue_by_region", "sql", REVENUE_SQL, "toolu_sql_1"],
          ["sales", "put", undefined, undefined]
        ]
      )
      // each step names the exact version it read: the id of the step below it
      assert.deepStrictEqual(summary!.inputs, [{ name: "top_regions", id: top!.id }])
      assert.deepStrictEqual(top!.inputs, [{ name: "revenue_by_region", id: revenue!.id }])
      assert.deepStrictEqual(revenue!.inputs, [{ name: "sales", id: put!.id }])
      assert.deepStrictEqual(put!.inputs, [])
      assert.strictEqual(new Set(lineage.steps.map((step) => step.id)).size, 4, "every version has its own id")
      // created-at is read from Effect's Clock: the put before the clock moved, the rest after
      assert.deepStrictEqual(
        lineage.steps.map((step) => step.createdAt),
        [3_600_000, 3_600_000, 3_600_000, 0]
      )
      assert.isTrue(lineage.steps.every((step) => !step.superseded))
      // the lineage is a typed value that encodes as JSON
      assert.deepStrictEqual(
        Schema.decodeUnknownSync(Data.Lineage)(JSON.parse(JSON.stringify(Schema.encodeSync(Data.Lineage)(lineage)))),
        lineage
      )
    }).pipe(Effect.provide(Mock.layer({ turns: chainTurns })))
  )

  it.effect("list_variables shows each derived handle's lineage in one line, and nothing for sources", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      const { events } = yield* runEvents(session.askStream("Which regions sold more than 100?"))
      const listing = toolResultEvents(events).find((event) => event.tool_name === "list_variables")
      const content = text(listing)
      const listed = JSON.parse(content) as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(
        listed.map((handle) => [handle.name, handle.lineage]),
        [
          ["sales", undefined],
          ["revenue_by_region", "sql over sales (put)"],
          ["top_regions", "javascript over revenue_by_region (sql)"],
          ["summary", "sql over top_regions (javascript)"]
        ]
      )
      // the lineage comes right after the name, so the model reads "summary <- sql over top_regions"
      assert.deepStrictEqual(Object.keys(listed[1]!).slice(0, 2), ["name", "lineage"])
      assert.notInclude(content, TOP_CODE, "the code itself is not listed")
      assert.isBelow(content.length, 2_000, "the listing stays small")
    }).pipe(Effect.provide(Mock.layer({ turns: chainTurns })))
  )

  it.effect("the javascript tool records only the handles the code mentions, as the versions it read", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      yield* session.put("threshold", 100)
      yield* session.put("unrelated", [{ x: 1 }])
      yield* session.askResult("Filter.")
      const [step, ...rest] = (yield* session.data.lineage("big_sales")).steps
      assert.strictEqual(step!.kind, "javascript")
      assert.deepStrictEqual(
        step!.inputs.map((input) => input.name),
        ["sales", "threshold"]
      )
      assert.deepStrictEqual(
        rest.map((s) => [s.name, s.kind]),
        [
          ["sales", "put"],
          ["threshold", "put"]
        ]
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("javascript", { code: "save('big_sales', sales.filter((row) => row.revenue > threshold))" }),
            Mock.text("done")
          ]
        })
      )
    )
  )

  it.effect("a result the sql tool keeps because it is large names the query that made it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.putFile("orders", fixture("sales.csv"))
      const query = "SELECT o.*, r.n FROM orders o CROSS JOIN range(10) AS r(n)"
      const { events } = yield* runEvents(session.askStream("Expand."))
      assert.include(text(toolResultEvents(events)[0]), 'table handle "query_1"')
      const lineage = yield* session.data.lineage("query_1")
      const [step, file] = lineage.steps
      assert.deepStrictEqual([step!.kind, step!.code, step!.toolUseId], ["sql", query, "toolu_big"])
      assert.deepStrictEqual(step!.inputs, [{ name: "orders", id: file!.id }])
      assert.deepStrictEqual([file!.kind, file!.path], ["file", fixture("sales.csv")])
      const listing = JSON.parse(text(toolResultEvents(events)[1])) as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(listing[1]!.lineage, "sql over orders (file sales.csv)")
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT o.*, r.n FROM orders o CROSS JOIN range(10) AS r(n)" }, "toolu_big"),
            Mock.toolCall("list_variables"),
            Mock.text("done")
          ]
        })
      )
    )
  )
})

describe("history is not rewritten", () => {
  it.effect("overwriting a source leaves the chain of a handle derived from the old version, marked superseded", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      yield* session.askResult("Revenue by region.")
      const before = yield* session.data.lineage("revenue_by_region")
      const oldSales = before.steps[1]!

      yield* TestClock.adjust("1 minute")
      yield* session.put("sales", [{ region: "west", revenue: 1 }], { overwrite: true })

      const after = yield* session.data.lineage("revenue_by_region")
      // the same steps, the same ids, code and times: only the flag says the source changed since
      assert.deepStrictEqual(
        after.steps.map(({ superseded: _, ...step }) => step),
        before.steps.map(({ superseded: _, ...step }) => step)
      )
      assert.deepStrictEqual(
        after.steps.map((step) => [step.name, step.superseded]),
        [
          ["revenue_by_region", false],
          ["sales", true]
        ]
      )
      const now = yield* session.data.lineage("sales")
      assert.notStrictEqual(now.steps[0]!.id, oldSales.id)
      assert.deepStrictEqual([now.steps[0]!.createdAt, now.steps[0]!.superseded], [60_000, false])
      // the derived data is the old version's, as its lineage says
      const rows = yield* session.data.query("SELECT count(*) AS n FROM revenue_by_region")
      assert.strictEqual(rows.rows[0]!.n, 3)

      // what the model sees: the input it was made from is no longer there
      const listing = yield* session.askStream("What is there now?").pipe(runEvents)
      const listed = JSON.parse(text(toolResultEvents(listing.events)[0])) as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(
        listed.find((handle) => handle.name === "revenue_by_region")!.lineage,
        "sql over sales (put, replaced since)"
      )

      // removing it changes nothing in the chain either
      yield* session.data.remove("sales")
      const removed = yield* session.data.lineage("revenue_by_region")
      assert.deepStrictEqual(removed, after)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: REVENUE_SQL, save_as: "revenue_by_region" }),
            Mock.text("done"),
            Mock.toolCall("list_variables"),
            Mock.text("listed")
          ]
        })
      )
    )
  )

  it.effect("a handle's recorded chain is JSON a session store keeps, and a store given it back keeps it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      yield* session.askResult("Revenue by region.")
      const handle = (yield* session.data.get("revenue_by_region"))!
      const stored = Schema.decodeUnknownSync(SessionStore.StoredHandle)(
        JSON.parse(
          JSON.stringify({
            name: handle.name,
            snapshot: handle.snapshot,
            query: handle.query,
            lineage: Schema.encodeSync(Data.LineageChain)(handle.lineage!)
          })
        )
      )
      const chain = Schema.decodeUnknownSync(Data.LineageChain)(stored.lineage)
      assert.deepStrictEqual(chain, handle.lineage)

      // a store given the handle back (a restored session) reports the same lineage
      const restored = yield* Data.makeStore
      yield* restored.putHandle({ name: stored.name, value: undefined, snapshot: handle.snapshot, lineage: chain })
      const lineage = yield* restored.lineage("revenue_by_region")
      assert.deepStrictEqual(
        lineage.steps.map(({ superseded: _, ...step }) => step),
        [...chain]
      )
      // its source is not in that store: the step is kept, marked superseded
      assert.deepStrictEqual(
        lineage.steps.map((step) => step.superseded),
        [false, true]
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.toolCall("sql", { query: REVENUE_SQL, save_as: "revenue_by_region" }), Mock.text("done")]
        })
      )
    )
  )
})
