import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, Data, Mock } from "../../src/index.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

/** A session over a mock model that never gets asked, closed with the test's scope. */
const session = Effect.gen(function* () {
  const agent = yield* Agent.make()
  const session = yield* agent.session()
  yield* Effect.addFinalizer(() => session.data.close)
  return session
}).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))

const sales = [
  { date: "2024-01-01", region: "north", units: 3, price: 2.5, promo: true },
  { date: "2024-01-02", region: "south", units: 8, price: 10, promo: false },
  { date: "2024-01-03", region: "east", units: 2, price: 4.25, promo: null },
  { date: "2024-01-04", region: "west", units: 9, price: 2.5, promo: false },
  { date: "2024-01-05", region: "north", units: 1, price: 10, promo: true },
  { date: "2024-01-06", region: "south", units: 4, price: 4.25, promo: false },
  { date: "2024-01-07", region: "east", units: 7, price: 2.5, promo: true }
]

/** The columns the sales fixture files have, as DuckDB reads them. */
const fileColumns = [
  { name: "date", type: "DATE" },
  { name: "region", type: "VARCHAR" },
  { name: "product", type: "VARCHAR" },
  { name: "units", type: "BIGINT" },
  { name: "price", type: "DOUBLE" }
]

const firstFileRow = { date: "2024-01-01", region: "north", product: "widget", units: 1, price: 2.5 }

const snapshotOf = (handles: ReadonlyArray<Data.Handle>, name: string): Data.Snapshot => {
  const handle = handles.find((h) => h.name === name)
  assert.isDefined(handle, `no handle ${name}`)
  return handle!.snapshot
}

describe("handles and snapshots of values", () => {
  it.effect("a table gets row count, typed columns, semantics and 5 sample rows", () =>
    Effect.gen(function* () {
      const s = yield* session
      const name = yield* s.put("sales", sales, {
        description: "Daily sales",
        semantics: { units: "items sold that day", price: "unit price in EUR" }
      })
      assert.strictEqual(name, "sales")
      const [handle] = yield* s.handles
      assert.deepStrictEqual(Data.describe(handle!), {
        name: "sales",
        description: "Daily sales",
        kind: "table",
        rows: 7,
        columns: [
          { name: "date", type: "string" },
          { name: "region", type: "string" },
          { name: "units", type: "integer", description: "items sold that day" },
          { name: "price", type: "number", description: "unit price in EUR" },
          { name: "promo", type: "boolean" }
        ],
        sample: sales.slice(0, 5)
      })
      assert.strictEqual(handle!.value, sales, "the value itself is kept, not copied")
    })
  )

  it.effect("arrays, objects and scalars get their own small snapshots", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.put(
        "scores",
        Array.from({ length: 40 }, (_, i) => i * 2)
      )
      yield* s.put("config", { currency: "EUR", year: 2024, regions: ["north", "south"] })
      yield* s.put("threshold", 0.75)
      yield* s.put("label", "Q1")
      yield* s.put("big", 12345678901234567890n)
      yield* s.put("launch", new Date("2024-03-01T00:00:00.000Z"))
      const handles = yield* s.handles
      assert.deepStrictEqual(snapshotOf(handles, "scores"), {
        kind: "array",
        length: 40,
        sample: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
      })
      assert.deepStrictEqual(snapshotOf(handles, "config"), {
        kind: "object",
        keys: ["currency", "year", "regions"],
        preview: { currency: "EUR", year: 2024, regions: ["north", "south"] }
      })
      assert.deepStrictEqual(snapshotOf(handles, "threshold"), { kind: "scalar", type: "number", value: 0.75 })
      assert.deepStrictEqual(snapshotOf(handles, "label"), { kind: "scalar", type: "string", value: "Q1" })
      assert.deepStrictEqual(snapshotOf(handles, "big"), {
        kind: "scalar",
        type: "bigint",
        value: "12345678901234567890"
      })
      assert.deepStrictEqual(snapshotOf(handles, "launch"), {
        kind: "scalar",
        type: "date",
        value: "2024-03-01T00:00:00.000Z"
      })
    })
  )

  it.effect("the model sees names and snapshots, not the data, however large the table", () =>
    Effect.gen(function* () {
      const rows = Array.from({ length: 200_000 }, (_, i) => ({ id: i, region: `r${i % 7}`, amount: i * 0.5 }))
      const agent = yield* Agent.make()
      const s = yield* agent.session()
      yield* s.put("events", rows)
      const { events } = yield* runEvents(s.askStream("What data is there?"))
      const [listing] = toolResultEvents(events)
      assert.strictEqual(listing!.tool_name, "list_variables")
      assert.include(listing!.content, '"rows":200000')
      assert.isBelow(listing!.content.length, 1_000, "the snapshot stays small")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("list_variables"), Mock.text("done")] })))
  )
})

describe("handles of files", () => {
  const cases = [
    ["CSV", "sales.csv"],
    ["TSV", "sales.tsv"],
    ["Parquet", "sales.parquet"],
    ["JSON array", "sales.json"],
    ["JSON lines", "sales.jsonl"]
  ] as const
  for (const [label, file] of cases) {
    it.effect(`a ${label} file gets a snapshot read by DuckDB, with its path and no value`, () =>
      Effect.gen(function* () {
        const s = yield* session
        const name = yield* s.putFile("sales", fixture(file), { semantics: { units: "items sold" } })
        assert.strictEqual(name, "sales")
        const [handle] = yield* s.handles
        assert.strictEqual(handle!.path, fixture(file))
        assert.isUndefined(handle!.value)
        const snapshot = handle!.snapshot
        assert.strictEqual(snapshot.kind, "table")
        if (snapshot.kind !== "table") return
        assert.strictEqual(snapshot.rows, 20)
        assert.deepStrictEqual(
          snapshot.columns,
          fileColumns.map((c) => (c.name === "units" ? { ...c, description: "items sold" } : c))
        )
        assert.strictEqual(snapshot.sample.length, 5)
        assert.deepStrictEqual(snapshot.sample[0], firstFileRow)
      })
    )
  }

  it.effect("a file is read through DuckDB when its data is needed", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.putFile("sales", fixture("sales.parquet"))
      const [handle] = yield* s.handles
      const rows = (yield* s.data.read(handle!)) as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(rows.length, 20)
      assert.deepStrictEqual(rows[0], firstFileRow)
    })
  )

  it.effect("a format can be given for a file whose extension does not say", () =>
    Effect.gen(function* () {
      const s = yield* session
      const error = yield* Effect.flip(s.putFile("notes", fixture("../../../README.md")))
      assert.strictEqual(error.reason, "UnsupportedFormat")
      assert.include(error.message, 'pass format "csv", "parquet" or "json"')
      const name = yield* s.data.putFile("sales", fixture("sales.jsonl"), { format: "json" })
      const handle = yield* s.data.get(name)
      assert.strictEqual(handle!.format, "json")
    })
  )
})

describe("name clashes", () => {
  it.effect("a taken name gets _2, _3 …, compared ignoring case; overwrite replaces", () =>
    Effect.gen(function* () {
      const s = yield* session
      assert.strictEqual(yield* s.put("sales", sales), "sales")
      assert.strictEqual(yield* s.put("sales", [1, 2]), "sales_2")
      assert.strictEqual(yield* s.putFile("sales", fixture("sales.csv")), "sales_3")
      assert.strictEqual(yield* s.put("Sales", 1), "Sales_4", "SQL ignores case, so Sales would clash with sales")
      assert.strictEqual(yield* s.put("SALES", 42, { overwrite: true }), "SALES")
      const handles = yield* s.handles
      assert.deepStrictEqual(
        handles.map((h) => h.name),
        ["sales_2", "sales_3", "Sales_4", "SALES"]
      )
      assert.deepStrictEqual(snapshotOf(handles, "SALES"), { kind: "scalar", type: "integer", value: 42 })
    })
  )

  it.effect("names become identifiers usable in SQL and JavaScript", () =>
    Effect.gen(function* () {
      const s = yield* session
      assert.strictEqual(yield* s.put("Q1 sales (EUR)", 1), "Q1_sales_EUR")
      assert.strictEqual(yield* s.put("2024", 1), "_2024")
      assert.strictEqual(yield* s.put("select", 1), "select_", "an SQL keyword")
      assert.strictEqual(yield* s.put("Math", 1), "Math_", "a JavaScript global the handle would shadow")
      assert.strictEqual(yield* s.put("math", 1), "math")
      const error = yield* Effect.flip(s.put("???", 1))
      assert.strictEqual(error.reason, "InvalidName")
      assert.include(error.message, "letters, digits and underscores")
    })
  )
})

describe("values and files that cannot be stored", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const bad: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a function", { f: () => 1 }, "holds a function at value.f"],
    ["a function in a row", [{ a: 1 }, { a: () => 2 }], "holds a function at value[1].a"],
    ["a cycle", cyclic, "refers to itself at value.self"],
    ["a class instance", [{ at: new Point(1) }], "holds a Point instance at value[0].at"],
    ["a Map", new Map([["a", 1]]), "holds a Map instance"],
    ["a symbol", { s: Symbol("x") }, "holds a symbol at value.s"]
  ]
  for (const [label, value, problem] of bad) {
    it.effect(`${label} is a DataError naming the problem, and the session is unchanged`, () =>
      Effect.gen(function* () {
        const s = yield* session
        yield* s.put("kept", 1)
        const error = yield* Effect.flip(s.put("bad", value))
        assert.strictEqual(error._tag, "DataError")
        assert.strictEqual(error.reason, "UnsupportedValue")
        assert.include(error.message, 'Cannot put "bad"')
        assert.include(error.message, problem)
        assert.deepStrictEqual(
          (yield* s.handles).map((h) => h.name),
          ["kept"]
        )
      })
    )
  }

  const badFiles: ReadonlyArray<readonly [string, string, Data.PutFileOptions | undefined, string, string]> = [
    ["a missing file", "missing.csv", undefined, "FileNotFound", "File not found"],
    ["a directory", ".", { format: "csv" }, "FileNotFound", "is not a file"],
    ["an unknown extension", "../../../package.json.txt", undefined, "UnsupportedFormat", "Cannot tell the format"],
    ["a CSV with a ragged row", "bad.csv", undefined, "ParseError", "DuckDB said"],
    ["a CSV that is not UTF-8", "bad-encoding.csv", undefined, "ParseError", "not utf-8"],
    ["a broken JSON file", "broken.json", undefined, "ParseError", "as JSON"],
    ["a CSV read as Parquet", "sales.csv", { format: "parquet" }, "ParseError", "Parquet"]
  ]
  for (const [label, file, options, reason, text] of badFiles) {
    it.effect(`${label} is a ${reason} DataError, and the session is unchanged`, () =>
      Effect.gen(function* () {
        const s = yield* session
        yield* s.putFile("kept", fixture("sales.csv"))
        const error = yield* Effect.flip(s.data.putFile("orders", fixture(file), options))
        assert.strictEqual(error._tag, "DataError")
        assert.strictEqual(error.reason, reason)
        assert.strictEqual(error.name, "orders")
        assert.include(error.message, 'Cannot put "orders"')
        assert.include(error.message, text)
        assert.notInclude(error.message, "__data_harness", "internal table names stay internal")
        assert.deepStrictEqual(
          (yield* s.handles).map((h) => h.name),
          ["kept"]
        )
        const count = yield* s.data.query("SELECT count(*) AS n FROM kept")
        assert.deepStrictEqual(count.rows, [{ n: 20 }], "the database is unharmed")
      })
    )
  }

  it.effect("a DataError is a Schema error that encodes and decodes", () =>
    Effect.gen(function* () {
      const s = yield* session
      const error = yield* Effect.flip(s.putFile("x", fixture("missing.parquet")))
      const { DataError } = yield* Effect.promise(() => import("../../src/core/HarnessError.js"))
      const encoded = Schema.encodeUnknownSync(DataError)(error)
      assert.deepStrictEqual(Schema.decodeUnknownSync(DataError)(encoded), error)
    })
  )
})

describe("the session database", () => {
  it.effect("queries see put tables, replaced tables and removed tables as they are now", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.put("t", [{ a: 1 }, { a: 2 }])
      assert.deepStrictEqual((yield* s.data.query("SELECT sum(a) AS s FROM t")).rows, [{ s: 3 }])
      yield* s.put("t", [{ a: 10 }], { overwrite: true })
      assert.deepStrictEqual((yield* s.data.query("SELECT sum(a) AS s FROM t")).rows, [{ s: 10 }])
      yield* s.putFile("t", fixture("sales.csv"), { overwrite: true })
      assert.deepStrictEqual((yield* s.data.query("SELECT count(*) AS n FROM t")).rows, [{ n: 20 }])
      yield* s.data.remove("t")
      const error = yield* Effect.flip(s.data.query("SELECT * FROM t"))
      assert.strictEqual(error._tag, "SqlError")
      assert.include(error.message, "Table with name t does not exist")
    })
  )

  it.effect("a saved query is a table handle with a snapshot and the SQL that made it", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.putFile("sales", fixture("sales.csv"))
      const name = yield* s.data.saveQuery(
        "by_region",
        "SELECT region, sum(units * price) AS revenue FROM sales GROUP BY region ORDER BY region;"
      )
      const handle = yield* s.data.get(name)
      assert.deepStrictEqual(Data.describe(handle!), {
        name: "by_region",
        query: "SELECT region, sum(units * price) AS revenue FROM sales GROUP BY region ORDER BY region",
        kind: "table",
        rows: 4,
        columns: [
          { name: "region", type: "VARCHAR" },
          { name: "revenue", type: "DOUBLE" }
        ],
        sample: [
          { region: "east", revenue: 137.5 },
          { region: "north", revenue: 161.25 },
          { region: "south", revenue: 175.25 },
          { region: "west", revenue: 232.75 }
        ]
      })
      assert.deepStrictEqual(
        yield* s.data.read(handle!),
        handle!.snapshot.kind === "table" ? handle!.snapshot.sample : []
      )
    })
  )

  it.effect("close releases the database: values and files come back, saved results are removed", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.put("t", [{ a: 1 }, { a: 2 }])
      yield* s.putFile("f", fixture("sales.parquet"))
      yield* s.data.saveQuery("r", "SELECT * FROM t")
      yield* s.data.close
      assert.deepStrictEqual(
        (yield* s.handles).map((h) => h.name),
        ["t", "f"]
      )
      const result = yield* s.data.query("SELECT (SELECT sum(a) FROM t) AS a, (SELECT count(*) FROM f) AS n")
      assert.deepStrictEqual(result.rows, [{ a: 3, n: 20 }])
    })
  )

  it.effect("a table that cannot be loaded into SQL says why when a query needs it", () =>
    Effect.gen(function* () {
      const s = yield* session
      yield* s.put("huge", [{ n: 2n ** 200n }])
      const error = yield* Effect.flip(s.data.query("SELECT * FROM huge"))
      assert.include(error.message, 'Handle "huge" could not be loaded into SQL')
      assert.include(error.message, "does not fit in 128 bits")
    })
  )
})
