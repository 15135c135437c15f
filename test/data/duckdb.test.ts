import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as DuckDB from "../../src/data/duckdb.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

/**
 * A database whose SQL may read the fixtures and the temp directory (every database is opened
 * with external access off, except for what it is told to allow).
 */
const open = DuckDB.open({
  allowedDirectories: [NodePath.dirname(fixture("sales.csv")) + NodePath.sep, Os.tmpdir() + NodePath.sep]
})

/** Revenue per region in the sales fixtures (sum of units * price). */
const revenueByRegion = { east: 137.5, north: 161.25, south: 175.25, west: 232.75 }

const revenueSql = (table: string) =>
  `SELECT region, sum(units * price) AS revenue FROM ${table} GROUP BY region ORDER BY region`

const asRevenueMap = (rows: ReadonlyArray<Record<string, unknown>>) =>
  Object.fromEntries(rows.map((row) => [row.region, row.revenue]))

describe("registerRows", () => {
  it.effect("loads records and answers a group-by", () =>
    Effect.gen(function* () {
      const db = yield* open
      const rows = Array.from({ length: 1000 }, (_, i) => ({
        region: ["north", "south"][i % 2],
        units: i % 10,
        price: 1.5
      }))
      yield* db.registerRows("sales", rows)
      const result = yield* db.query(
        "SELECT region, sum(units) AS units, sum(units * price) AS revenue FROM sales GROUP BY region ORDER BY region"
      )
      assert.deepStrictEqual(result.rows, [
        { region: "north", units: 2000, revenue: 3000 },
        { region: "south", units: 2500, revenue: 3750 }
      ])
      assert.deepStrictEqual(result.columns, [
        { name: "region", type: "VARCHAR" },
        { name: "units", type: "HUGEINT" },
        { name: "revenue", type: "DOUBLE" }
      ])
      assert.strictEqual(result.rowCount, 2)
      assert.isFalse(result.truncated)
    })
  )

  it.effect("infers column types, keeping nulls, dates and nested values", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("typed", [
        { id: 1, ratio: 1, name: "a", ok: true, at: new Date("2024-01-02T03:04:05.678Z"), meta: { tags: ["x"] } },
        { id: 2, ratio: 0.5, name: null, ok: false, at: null, meta: null, late: "only here" },
        { id: 3, ratio: undefined, name: "c", ok: null, at: new Date(0), meta: [1, 2] }
      ])
      const info = yield* db.describe("typed")
      assert.deepStrictEqual(info.columns, [
        { name: "id", type: "BIGINT" },
        { name: "ratio", type: "DOUBLE" },
        { name: "name", type: "VARCHAR" },
        { name: "ok", type: "BOOLEAN" },
        { name: "at", type: "TIMESTAMP" },
        { name: "meta", type: "JSON" },
        { name: "late", type: "VARCHAR" }
      ])
      assert.strictEqual(info.rowCount, 3)
      assert.deepStrictEqual(info.sample, [
        {
          id: 1,
          ratio: 1,
          name: "a",
          ok: true,
          at: "2024-01-02T03:04:05.678Z",
          meta: { tags: ["x"] },
          late: null
        },
        { id: 2, ratio: 0.5, name: null, ok: false, at: null, meta: null, late: "only here" },
        { id: 3, ratio: null, name: "c", ok: null, at: "1970-01-01T00:00:00.000Z", meta: [1, 2], late: null }
      ])
      const dates = yield* db.query("SELECT count(*) AS n FROM typed WHERE \"at\" >= TIMESTAMP '2024-01-01'")
      assert.deepStrictEqual(dates.rows, [{ n: 1 }])
    })
  )

  it.effect("widens mixed columns: integers and doubles to DOUBLE, other mixes to VARCHAR", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("mixed", [
        { n: 1, s: 1, big: 2n ** 40n },
        { n: 2.5, s: "two", big: 7 }
      ])
      const result = yield* db.query("SELECT * FROM mixed")
      assert.deepStrictEqual(
        result.columns.map((c) => c.type),
        ["DOUBLE", "VARCHAR", "BIGINT"]
      )
      assert.deepStrictEqual(result.rows, [
        { n: 1, s: "1", big: 2 ** 40 },
        { n: 2.5, s: "two", big: 7 }
      ])
    })
  )

  it.effect("rejects values it cannot store, naming the row and column", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.registerRows("t", [{ a: 1 }, { a: () => 1 }]))
      assert.strictEqual(error._tag, "DataLoadError")
      assert.strictEqual(error.reason, "InvalidValue")
      assert.include(error.message, "row 1")
      assert.include(error.message, '"a"')
      const empty = yield* Effect.flip(db.registerRows("t", []))
      assert.strictEqual(empty.reason, "InvalidValue")
    })
  )

  it.live("interrupting a large load rolls it back and keeps the previous table", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("t", [{ a: 1 }])
      const rows = Array.from({ length: 1_000_000 }, (_, i) => ({ a: i, b: `row ${i}` }))
      const fiber = yield* Effect.forkChild(db.registerRows("t", rows))
      yield* Effect.sleep(30)
      yield* Fiber.interrupt(fiber)
      const info = yield* db.describe("t")
      assert.strictEqual(info.rowCount, 1)
      assert.deepStrictEqual(info.columns, [{ name: "a", type: "BIGINT" }])
    })
  )

  it.effect("keeps the previous table when a replacement fails inside DuckDB", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("t", [{ a: 1 }, { a: 2 }])
      // DuckDB names are case-insensitive, so "x" and "X" collide when the table is created.
      const error = yield* Effect.flip(db.registerRows("t", [{ x: 1, X: 2 }]))
      assert.strictEqual(error.reason, "InvalidValue")
      const result = yield* db.query("SELECT a FROM t ORDER BY a")
      assert.deepStrictEqual(result.rows, [{ a: 1 }, { a: 2 }])
    })
  )
})

describe("registerFile", () => {
  for (const file of ["sales.csv", "sales.parquet", "sales.json"]) {
    it.effect(`makes ${file} queryable as a view`, () =>
      Effect.gen(function* () {
        const db = yield* open
        yield* db.registerFile("sales", fixture(file))
        const result = yield* db.query(revenueSql("sales"))
        assert.deepStrictEqual(asRevenueMap(result.rows), revenueByRegion)
        const info = yield* db.describe("sales", 2)
        assert.strictEqual(info.rowCount, 20)
        assert.deepStrictEqual(
          info.columns.map((c) => c.name),
          ["date", "region", "product", "units", "price"]
        )
        assert.strictEqual(info.sample.length, 2)
        assert.deepStrictEqual(info.sample[0], {
          date: "2024-01-01",
          region: "north",
          product: "widget",
          units: 1,
          price: 2.5
        })
      })
    )
  }

  it.effect("takes the format from the argument when the extension says nothing", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => Fs.mkdtemp(NodePath.join(Os.tmpdir(), "duckdb-test-")))
      const path = NodePath.join(dir, "sales.data")
      yield* Effect.promise(() => Fs.copyFile(fixture("sales.csv"), path))
      const db = yield* open
      const error = yield* Effect.flip(db.registerFile("sales", path))
      assert.strictEqual(error.reason, "UnsupportedFormat")
      assert.include(error.message, "pass format")
      yield* db.registerFile("sales", path, "csv")
      const result = yield* db.query("SELECT count(*) AS n FROM sales")
      assert.deepStrictEqual(result.rows, [{ n: 20 }])
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    })
  )

  it.effect("quotes file paths with quotes and spaces", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => Fs.mkdtemp(NodePath.join(Os.tmpdir(), "duckdb-test-")))
      const path = NodePath.join(dir, "o'brien's sales.csv")
      yield* Effect.promise(() => Fs.copyFile(fixture("sales.csv"), path))
      const db = yield* open
      yield* db.registerFile("sales", path)
      const result = yield* db.query(revenueSql("sales"))
      assert.deepStrictEqual(asRevenueMap(result.rows), revenueByRegion)
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    })
  )

  it.effect("fails with FileNotFound for a missing file", () =>
    Effect.gen(function* () {
      const db = yield* open
      const path = fixture("no-such-file.csv")
      const error = yield* Effect.flip(db.registerFile("missing", path))
      assert.strictEqual(error._tag, "DataLoadError")
      assert.strictEqual(error.reason, "FileNotFound")
      assert.strictEqual(error.path, path)
      assert.include(error.message, path)
      const noTable = yield* Effect.flip(db.query("SELECT * FROM missing"))
      assert.strictEqual(noTable._tag, "SqlError")
    })
  )

  it.effect("fails with FileNotFound for a glob that matches nothing", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.registerFile("none", fixture("*.nothing.csv")))
      assert.strictEqual(error.reason, "FileNotFound")
    })
  )

  it.effect("fails with ParseError and DuckDB's message for a CSV with inconsistent rows", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.registerFile("bad", fixture("bad.csv")))
      assert.strictEqual(error.reason, "ParseError")
      assert.include(error.message, fixture("bad.csv"))
      assert.include(error.message, "Invalid Input Error")
      const noView = yield* Effect.flip(db.query("SELECT * FROM bad"))
      assert.include(noView.message, "Catalog Error")
    })
  )

  it.effect("fails with ParseError for a CSV that is not UTF-8", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.registerFile("bad", fixture("bad-encoding.csv")))
      assert.strictEqual(error.reason, "ParseError")
      assert.include(error.message, "not utf-8 encoded")
    })
  )

  it.effect("fails with ParseError when the file is not in the format given", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.registerFile("sales", fixture("sales.csv"), "parquet"))
      assert.strictEqual(error.reason, "ParseError")
      assert.include(error.message, "Parquet")
    })
  )

  it.effect("replaces a table of the same name, and registerRows replaces the view", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("sales", [{ a: 1 }])
      yield* db.registerFile("sales", fixture("sales.csv"))
      assert.strictEqual((yield* db.describe("sales")).rowCount, 20)
      yield* db.registerRows("SALES", [{ a: 1 }])
      assert.strictEqual((yield* db.describe("sales")).rowCount, 1)
    })
  )

  it.effect("readAll hands every row of a file-backed table to JS", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerFile("sales", fixture("sales.parquet"))
      const rows = yield* db.readAll("sales")
      assert.strictEqual(rows.length, 20)
      assert.strictEqual(
        rows.reduce((sum, row) => sum + (row.units as number), 0),
        128
      )
    })
  )
})

describe("query", () => {
  it.effect("fails with SqlError carrying DuckDB's message for a syntax error", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.query("SELEC 1"))
      assert.strictEqual(error._tag, "SqlError")
      assert.isTrue(error.message.startsWith('SQL error: Parser Error: syntax error at or near "SELEC"'))
      assert.strictEqual(error.sql, "SELEC 1")
    })
  )

  it.effect("fails with SqlError for a missing table", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.query("SELECT * FROM x"))
      assert.include(error.message, "SQL error: Catalog Error: Table with name x does not exist!")
    })
  )

  it.effect("returns at most maxRows rows with the total count", () =>
    Effect.gen(function* () {
      const db = yield* open
      const big = yield* db.query("SELECT range AS i FROM range(25000)")
      assert.strictEqual(big.rows.length, 10_000)
      assert.strictEqual(big.rowCount, 25_000)
      assert.isTrue(big.truncated)
      assert.deepStrictEqual(big.rows[9_999], { i: 9_999 })

      const small = yield* db.query("SELECT range AS i FROM range(25000)", { maxRows: 3 })
      assert.deepStrictEqual(small.rows, [{ i: 0 }, { i: 1 }, { i: 2 }])
      assert.isTrue(small.truncated)

      const exact = yield* db.query("SELECT range AS i FROM range(3)", { maxRows: 3 })
      assert.isFalse(exact.truncated)
      assert.strictEqual(exact.rowCount, 3)
    })
  )

  it.effect("converts values to JSON-safe JS", () =>
    Effect.gen(function* () {
      const db = yield* open
      const result = yield* db.query(`SELECT
        42::BIGINT AS small,
        9007199254740993::BIGINT AS unsafe,
        170141183460469231731687303715884105727::HUGEINT AS huge,
        -7::HUGEINT AS negative,
        1.25::DECIMAL(10, 2) AS dec,
        DATE '2024-02-29' AS d,
        TIMESTAMP '2024-01-02 03:04:05.123456' AS ts,
        TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz,
        '\\xAA\\x00'::BLOB AS bytes,
        [1, 2, NULL] AS list,
        {'x': 1, 'y': [2::BIGINT]} AS struct,
        'NaN'::DOUBLE AS nan,
        NULL AS nothing`)
      assert.deepStrictEqual(result.rows[0], {
        small: 42,
        unsafe: "9007199254740993",
        huge: "170141183460469231731687303715884105727",
        negative: -7,
        dec: 1.25,
        d: "2024-02-29",
        ts: "2024-01-02T03:04:05.123456Z",
        tstz: "2024-01-02T03:04:05.000Z",
        bytes: Buffer.from([0xaa, 0x00]).toString("base64"),
        list: [1, 2, null],
        struct: { x: 1, y: [2] },
        nan: "NaN",
        nothing: null
      })
      assert.deepStrictEqual(
        result.columns.slice(0, 5).map((c) => c.type),
        ["BIGINT", "BIGINT", "HUGEINT", "HUGEINT", "DECIMAL(10,2)"]
      )
      assert.strictEqual(JSON.stringify(JSON.parse(JSON.stringify(result.rows))), JSON.stringify(result.rows))
    })
  )

  it.effect("serialises concurrent operations on the one connection", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("t", [{ a: 1 }])
      const results = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? Effect.map(db.query(`SELECT ${i} AS i, count(*) AS n FROM t`), (r) => r.rows[0])
            : Effect.as(db.registerRows(`t${i}`, [{ a: i }]), { i, n: 1 })
        ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(
        results,
        Array.from({ length: 20 }, (_, i) => ({ i, n: 1 }))
      )
    })
  )

  it.live("interrupting a long query interrupts DuckDB and frees the connection", () =>
    Effect.gen(function* () {
      const db = yield* open
      const fiber = yield* Effect.forkChild(db.query("SELECT sum(range) FROM range(1000000000000)"))
      yield* Effect.sleep(100)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 5_000)
      const after = yield* db.query("SELECT 1 AS one")
      assert.deepStrictEqual(after.rows, [{ one: 1 }])
    })
  )
})

describe("createTableAs and describe", () => {
  it.effect("materialises a query as a table and describes it", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerFile("sales", fixture("sales.csv"))
      const info = yield* db.createTableAs(
        "by_product",
        "SELECT product, sum(units) AS units FROM sales GROUP BY product ORDER BY product;"
      )
      assert.strictEqual(info.rowCount, 3)
      assert.deepStrictEqual(info.columns, [
        { name: "product", type: "VARCHAR" },
        { name: "units", type: "HUGEINT" }
      ])
      assert.deepStrictEqual(
        info.sample.map((row) => row.product),
        ["gadget", "gizmo", "widget"]
      )
      const again = yield* db.describe("by_product", 1)
      assert.strictEqual(again.sample.length, 1)
      assert.strictEqual(again.rowCount, 3)
    })
  )

  it.effect("reports a bad query as SqlError naming the table", () =>
    Effect.gen(function* () {
      const db = yield* open
      const error = yield* Effect.flip(db.createTableAs("t", "SELECT * FROM nowhere"))
      assert.include(error.message, '"t"')
      assert.include(error.message, "Catalog Error")
      assert.strictEqual(error.sql, "SELECT * FROM nowhere")
      const missing = yield* Effect.flip(db.describe("nowhere"))
      assert.strictEqual(missing._tag, "SqlError")
    })
  )
})

describe("identifiers", () => {
  it.effect("quotes table names with spaces, quotes and SQL in them", () =>
    Effect.gen(function* () {
      const db = yield* open
      const odd = 'my "odd" name'
      const sneaky = 'x"; DROP TABLE keep; --'
      yield* db.registerRows("keep", [{ a: 1 }])
      yield* db.registerRows(odd, [{ "col with space": 1 }, { "col with space": 2 }])
      yield* db.registerFile(sneaky, fixture("sales.csv"))
      assert.strictEqual((yield* db.describe(odd)).rowCount, 2)
      assert.strictEqual((yield* db.describe(sneaky)).rowCount, 20)
      const summed = yield* db.query(`SELECT sum("col with space") AS s FROM ${DuckDB.quoteIdentifier(odd)}`)
      assert.deepStrictEqual(summed.rows, [{ s: 3 }])
      const copied = yield* db.createTableAs(`${odd} copy`, `SELECT * FROM ${DuckDB.quoteIdentifier(odd)}`)
      assert.deepStrictEqual(copied.columns, [{ name: "col with space", type: "BIGINT" }])
      assert.strictEqual((yield* db.describe("keep")).rowCount, 1)
    })
  )

  it.effect("drop removes tables and views and ignores missing names", () =>
    Effect.gen(function* () {
      const db = yield* open
      yield* db.registerRows("t", [{ a: 1 }])
      yield* db.registerFile("v", fixture("sales.csv"))
      yield* db.drop("t")
      yield* db.drop("v")
      yield* db.drop("never existed")
      const tables = yield* db.query("SELECT count(*) AS n FROM information_schema.tables")
      assert.deepStrictEqual(tables.rows, [{ n: 0 }])
    })
  )
})
