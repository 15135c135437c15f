import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, DataTools, Mock, type Session, type StreamEvent, Tool } from "../../src/index.js"
import * as JavaScript from "../../src/tools/JavaScript.js"
import * as Sql from "../../src/tools/Sql.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

/** The text of a tool result event (the data tools always answer with text). */
const text = (event: StreamEvent.ToolResult): string => {
  assert.isString(event.content)
  return event.content as string
}

type Call = readonly [tool: string, input: unknown]

/**
 * Asks once in a fresh session prepared by `setup`: the scripted model makes each call in its own
 * turn, then ends with "done". Returns the `tool_result` events and the session.
 */
const run = (setup: (session: Session.Session) => Effect.Effect<unknown, unknown>, calls: ReadonlyArray<Call>) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ dataTools: [Sql.sql, JavaScript.javascript] })
    const session = yield* agent.session()
    yield* Effect.addFinalizer(() => session.data.close)
    yield* setup(session)
    const { events, exit } = yield* runEvents(session.askStream("Analyse the data."))
    assert.isTrue(Exit.isSuccess(exit), "the run completes")
    const results = toolResultEvents(events).map((event) => ({ ...event, content: text(event) }))
    assert.strictEqual(results.length, calls.length)
    return { results, session }
  }).pipe(
    Effect.provide(
      Mock.layer({ turns: [...calls.map(([tool, input]) => Mock.toolCall(tool, input)), Mock.text("done")] })
    )
  )

const sql = (query: string, save_as?: string): Call => ["sql", save_as === undefined ? { query } : { query, save_as }]

interface Inline {
  readonly rowCount: number
  readonly columns: ReadonlyArray<string>
  readonly types: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
}

const inline = (content: string): Inline => JSON.parse(content.split("\n")[0]!) as Inline

const sales = Array.from({ length: 1_000 }, (_, i) => ({
  id: i,
  region: ["north", "south", "east", "west"][i % 4]!,
  units: (i * 7) % 13,
  price: [2.5, 10, 4.25][i % 3]!
}))

const revenueSql = (table: string) =>
  `SELECT region, sum(units * price) AS revenue FROM ${table} GROUP BY region ORDER BY region`

/** Revenue per region of the sales fixture files. */
const fileRevenue = [
  ["east", 137.5],
  ["north", 161.25],
  ["south", 175.25],
  ["west", 232.75]
]

describe("sql over put tables", () => {
  it.effect("a group-by over a put table comes back inline as columns, types and rows", () =>
    Effect.gen(function* () {
      const { results } = yield* run((s) => s.put("sales", sales), [sql(revenueSql("sales"))])
      const [result] = results
      assert.strictEqual(result!.tool_name, "sql")
      assert.isFalse(result!.is_error)
      const expected = new Map<string, number>()
      for (const row of sales) expected.set(row.region, (expected.get(row.region) ?? 0) + row.units * row.price)
      assert.deepStrictEqual(inline(result!.content), {
        rowCount: 4,
        columns: ["region", "revenue"],
        types: ["VARCHAR", "DOUBLE"],
        rows: [...expected].sort(([a], [b]) => a.localeCompare(b))
      })
    })
  )

  it.effect("the scripted model reads the result and quotes it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ dataTools: [Sql.sql] })
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      const answer = yield* session.ask("Total units?")
      assert.strictEqual(answer, `Total units: ${sales.reduce((sum, row) => sum + row.units, 0)}.`)
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT sum(units) AS total FROM sales" }),
            Mock.reply(({ lastToolResults }) => {
              const { rows } = inline(String(lastToolResults[0]!.content))
              return Mock.text(`Total units: ${rows[0]![0]}.`)
            })
          ]
        })
      )
    )
  )

  it.effect("tables put later, replaced or joined are seen as they are now", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ dataTools: [Sql.sql] })
      const session = yield* agent.session()
      yield* session.put("t", [{ k: 1, v: 1 }])
      const first = yield* runEvents(session.askStream("sum"))
      yield* session.put(
        "t",
        [
          { k: 1, v: 5 },
          { k: 2, v: 7 }
        ],
        { overwrite: true }
      )
      yield* session.put("names", [
        { k: 1, name: "one" },
        { k: 2, name: "two" }
      ])
      const second = yield* runEvents(session.askStream("sum again"))
      const [a] = toolResultEvents(first.events)
      const [b] = toolResultEvents(second.events)
      assert.deepStrictEqual(inline(text(a!)).rows, [[1]])
      assert.deepStrictEqual(inline(text(b!)).rows, [
        [5, "one"],
        [7, "two"]
      ])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT sum(v) AS s FROM t" }),
            Mock.text("ok"),
            Mock.toolCall("sql", { query: "SELECT v, name FROM t JOIN names USING (k) ORDER BY k" }),
            Mock.text("ok")
          ]
        })
      )
    )
  )
})

describe("sql over files", () => {
  for (const file of ["sales.csv", "sales.parquet", "sales.json", "sales.jsonl", "sales.tsv"]) {
    it.effect(`DuckDB reads ${file} directly`, () =>
      Effect.gen(function* () {
        const { results } = yield* run((s) => s.putFile("sales", fixture(file)), [sql(revenueSql("sales"))])
        assert.isFalse(results[0]!.is_error, results[0]!.content)
        assert.deepStrictEqual(inline(results[0]!.content).rows, fileRevenue)
      })
    )
  }

  it.effect("a file joins a put table", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) =>
          Effect.andThen(
            s.putFile("sales", fixture("sales.parquet")),
            s.put("targets", [
              { region: "north", target: 150 },
              { region: "west", target: 250 }
            ])
          ),
        [
          sql(
            "SELECT region, sum(units * price) >= any_value(target) AS met FROM sales JOIN targets USING (region) " +
              "GROUP BY region ORDER BY region"
          )
        ]
      )
      assert.deepStrictEqual(inline(results[0]!.content).rows, [
        ["north", true],
        ["west", false]
      ])
    })
  )
})

describe("large results become handles", () => {
  it.effect("a result over 50 rows is saved as query_1 with a snapshot, and queried further", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(
        (s) => s.put("sales", sales),
        [
          sql("SELECT * FROM sales WHERE region = 'north' ORDER BY id"),
          sql("SELECT count(*) AS n, sum(units) AS units FROM query_1"),
          sql("SELECT id FROM sales WHERE units > 3"),
          ["javascript", { code: "query_1.filter((row) => row.units === 0).length" }]
        ]
      )
      const [saved, follow, second, js] = results
      assert.isFalse(saved!.is_error)
      assert.include(
        saved!.content,
        'The result has 250 rows, more than 50 to show here, so it was saved as table handle "query_1"'
      )
      const snapshot = JSON.parse(saved!.content.slice(saved!.content.indexOf("Snapshot:\n") + 10))
      assert.deepStrictEqual(snapshot.name, "query_1")
      assert.strictEqual(snapshot.rows, 250)
      assert.deepStrictEqual(
        snapshot.columns.map((c: { readonly name: string }) => c.name),
        ["id", "region", "units", "price"]
      )
      assert.deepStrictEqual(snapshot.sample[0], sales[0])
      assert.isBelow(saved!.content.length, 1_200, "the transcript carries the snapshot, not the rows")

      const north = sales.filter((row) => row.region === "north")
      assert.deepStrictEqual(inline(follow!.content).rows, [[250, north.reduce((sum, row) => sum + row.units, 0)]])
      assert.include(second!.content, '"query_2"')
      assert.strictEqual(js!.content, `Result: ${north.filter((row) => row.units === 0).length}`)
      const names = (yield* session.handles).map((h) => h.name)
      assert.deepStrictEqual(names, ["sales", "query_1", "query_2"])
    })
  )

  it.effect("a result of few but wide rows is saved too", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) =>
          s.put(
            "docs",
            Array.from({ length: 10 }, (_, i) => ({ id: i, text: "lorem ipsum ".repeat(200) }))
          ),
        [sql("SELECT * FROM docs")]
      )
      assert.include(results[0]!.content, "characters of JSON, more than 8000 to show here")
      assert.include(results[0]!.content, '"query_1"')
    })
  )

  it.effect("save_as keeps a small result as a named handle and still shows it", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(
        (s) => s.put("sales", sales),
        [sql(revenueSql("sales"), "revenue by region"), sql(revenueSql("sales"), "revenue_by_region")]
      )
      assert.strictEqual(inline(results[0]!.content).rowCount, 4)
      assert.include(results[0]!.content, 'Saved as table handle "revenue_by_region".')
      assert.include(
        results[1]!.content,
        'Saved as table handle "revenue_by_region_2".',
        "a taken name is not replaced"
      )
      const handle = yield* session.data.get("revenue_by_region")
      assert.strictEqual(handle!.query, revenueSql("sales"))
    })
  )
})

describe("sql errors", () => {
  it.effect("an SQL error is an is_error result with DuckDB's message, and the run goes on", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => s.put("sales", sales),
        [sql("SELECT revenue FROM sales"), sql("SELEC 1"), sql("SELECT * FROM nowhere"), sql("SELECT 1 AS ok")]
      )
      const [column, syntax, table, ok] = results
      assert.isTrue(column!.is_error)
      assert.include(column!.content, 'Binder Error: Referenced column "revenue" not found')
      assert.isTrue(syntax!.is_error)
      assert.include(syntax!.content, 'Parser Error: syntax error at or near "SELEC"')
      assert.isTrue(table!.is_error)
      assert.include(table!.content, "Table with name nowhere does not exist")
      assert.isFalse(ok!.is_error)
    })
  )

  const refused: ReadonlyArray<readonly [string, string, string]> = [
    ["a write", "DROP TABLE sales", "would change the database"],
    ["an insert", "INSERT INTO sales VALUES (1, 'x', 1, 1)", "would change the database"],
    ["a settings change", "SET threads = 1", "would change the database"],
    ["a file export", "COPY sales TO '/tmp/stolen.csv'", "would change the database"],
    ["an attach", "ATTACH '/tmp/other.db'", "would change the database"],
    ["two statements", "SELECT 1; DROP TABLE sales", "would change the database"],
    ["a file read by path", "SELECT * FROM '/etc/passwd'", "not a handle name"],
    ["a file read by function", "SELECT * FROM read_text('/etc/passwd')", "read_text() is not available"],
    ["a file read in a subquery", "SELECT (SELECT count(*) FROM read_csv('/etc/hosts')) FROM sales", "read_csv()"],
    ["a URL", "SELECT * FROM 'https://example.com/data.csv'", "not a handle name"],
    ["a glob", "FROM glob('/*')", "glob() is not available"],
    ["another catalog", "SELECT * FROM other.main.t", "outside the session database"]
  ]
  for (const [label, query, text] of refused) {
    it.effect(`${label} is refused and the data is intact`, () =>
      Effect.gen(function* () {
        const { results } = yield* run(
          (s) => s.put("sales", sales),
          [sql(query), sql("SELECT count(*) AS n FROM sales")]
        )
        assert.isTrue(results[0]!.is_error)
        assert.include(results[0]!.content, text)
        assert.include(results[0]!.content, "one read-only query per call")
        assert.deepStrictEqual(inline(results[1]!.content).rows, [[1_000]])
      })
    )
  }

  it.effect("read-only forms of DuckDB SQL are allowed", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => s.put("sales", sales),
        [
          sql("DESCRIBE sales"),
          sql("SUMMARIZE sales"),
          sql("FROM sales SELECT count(*)"),
          sql("WITH t AS (SELECT unnest(range(3)) AS x) SELECT sum(x) AS s FROM t"),
          sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'sales'")
        ]
      )
      for (const result of results) assert.isFalse(result.is_error, result.content)
      assert.deepStrictEqual(inline(results[3]!.content).rows, [[3]])
      assert.deepStrictEqual(inline(results[4]!.content).rows, [[1]])
    })
  )
})

describe("statements the read-only check refuses say what and why", () => {
  const refusals: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
    [
      "a dynamic PIVOT",
      "PIVOT sales ON region USING sum(units)",
      ["PIVOT without an IN list is refused", "IN ('EU', 'US')", "SELECT DISTINCT"]
    ],
    ["an EXPLAIN", "EXPLAIN SELECT * FROM sales", ["EXPLAIN statements are refused", "SELECT-form"]],
    ["a SET", "SET memory_limit = '100GB'", ["SET statements are refused", "would change the database"]],
    ["two reads", "SELECT 1; SELECT 2", ["Send one statement per call (this has 2)"]]
  ]
  for (const [label, query, texts] of refusals) {
    it.effect(`${label} is refused with what was refused and why`, () =>
      Effect.gen(function* () {
        const { results } = yield* run((s) => s.put("sales", sales), [sql(query)])
        assert.isTrue(results[0]!.is_error)
        for (const text of texts) assert.include(results[0]!.content, text)
      })
    )
  }

  it.effect("a PIVOT with an IN list runs, as the tool's description shows it", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => s.put("sales", sales),
        [sql("PIVOT (SELECT region, units FROM sales) ON region IN ('north', 'south') USING sum(units)")]
      )
      assert.isFalse(results[0]!.is_error, results[0]!.content)
      const north = sales.filter((row) => row.region === "north").reduce((sum, row) => sum + row.units, 0)
      const south = sales.filter((row) => row.region === "south").reduce((sum, row) => sum + row.units, 0)
      assert.deepStrictEqual(inline(results[0]!.content).rows, [[north, south]])
      const tool = Sql.make()
      assert.include(tool.description, "PIVOT t ON col IN ('a', 'b') USING sum(x)")
    })
  )

  it.effect("a syntax error is DuckDB's parser message, pointing at the place", () =>
    Effect.gen(function* () {
      const { results } = yield* run((s) => s.put("sales", sales), [sql("SELECT region,\nFROM sales WHERE")])
      assert.isTrue(results[0]!.is_error)
      assert.include(results[0]!.content, "Parser Error: syntax error at end of input")
      assert.include(results[0]!.content, "LINE 2: FROM sales WHERE")
    })
  )
})

describe("results run once, into a bounded handle", () => {
  it.effect("the rows shown and the rows saved come from the same single run", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(
        () => Effect.void,
        [sql("SELECT range AS i, random() AS r FROM range(3)", "draws")]
      )
      const shown = inline(results[0]!.content).rows
      const handle = yield* session.data.get("draws")
      const saved = (yield* session.data.read(handle!)) as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(
        saved.map((row) => [row.i, row.r]),
        shown,
        "a second run would draw other random numbers"
      )
    })
  )

  it.effect("a result over maxResultRows keeps its first rows, and the model is told it was cut", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ dataTools: DataTools.make({ sql: { maxResultRows: 100 } }) })
      const session = yield* agent.session()
      yield* Effect.addFinalizer(() => session.data.close)
      const { events } = yield* runEvents(session.askStream("go"))
      const [cut, count] = toolResultEvents(events).map(text)
      assert.include(cut!, "The result has more than 100 rows (the most the sql tool keeps), so its first 100 rows")
      assert.include(cut!, '"query_1"')
      assert.deepStrictEqual(inline(count!).rows, [[100, 99]])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT range AS i FROM range(1000000) ORDER BY i" }),
            Mock.toolCall("sql", { query: "SELECT count(*), max(i) FROM query_1" }),
            Mock.text("done")
          ]
        })
      )
    )
  )
})

describe("the time limit", () => {
  it.effect("a query past the time limit is stopped, DuckDB is interrupted, and the model is told the limit", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ dataTools: DataTools.make({ sql: { timeoutMs: 2_000 } }) })
      const session = yield* agent.session()
      yield* Effect.addFinalizer(() => session.data.close)
      yield* session.put("t", [{ a: 1 }])
      const fiber = yield* Effect.forkChild(runEvents(session.askStream("go")))
      // The limit starts once the query itself runs, after real I/O (opening the database, the
      // read-only check, loading t): let the event loop turn, and move the clock by the limit
      // until the call ends. The query alone would run for hours.
      for (let turn = 0; fiber.pollUnsafe() === undefined && turn < 6_000; turn++) {
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
        yield* TestClock.adjust("2 seconds")
      }
      const { events, exit } = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      const [stopped] = toolResultEvents(events)
      assert.isTrue(stopped!.is_error)
      assert.include(text(stopped!), "ran longer than the sql tool's time limit of 2s and was stopped")
      assert.include(text(stopped!), "DataTools.make({ sql: { timeoutMs } })")
      const after = yield* session.data.query("SELECT count(*) AS n FROM t")
      assert.deepStrictEqual(after.rows, [{ n: 1 }], "DuckDB was interrupted: the database is free")
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT sum(range) + (SELECT count(*) FROM t) FROM range(1000000000000)" }),
            Mock.text("done")
          ]
        })
      )
    )
  )

  it("the default limit is 30 seconds and is in the tool's description", () => {
    assert.include(Sql.sql.description, "Each query may run 30s")
  })

  it("an invalid limit is recorded as InvalidOptions, not thrown", () => {
    const tool = Sql.make({ timeoutMs: -1 })
    const invalid = Tool.validate(tool)
    assert.strictEqual(invalid?._tag, "InvalidOptions")
    assert.strictEqual(invalid?.option, "sql.timeoutMs")
    assert.strictEqual(
      Tool.validate(DataTools.make({ sql: { maxResultRows: Number.NaN } }))?.option,
      "sql.maxResultRows"
    )
  })
})
