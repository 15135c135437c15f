/**
 * DuckDB benchmarks: loading 1,000,000 JS records, and a group-by over them and over a
 * 1,000,000-row CSV file; first on the internal database, then through the public path a model
 * takes (`session.put` / `session.putFile`, then a call of the `sql` tool); and 10,000 `put`s
 * into one store (what the `javascript` tool's `save` does per value), with distinct names and
 * with one name (`h`, `h_2`, … `h_10000`).
 *
 * Run alone with `npx tsx bench/duckdb.ts`, or through `benchDuckdb()` from the bench runner.
 * @since 0.1.0
 */

import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import * as Data from "../src/data/Data.js"
import * as DuckDB from "../src/data/duckdb.js"
import * as Sql from "../src/tools/Sql.js"
import type * as Tool from "../src/tools/Tool.js"

/**
 * One measured figure.
 * @since 0.1.0
 */
export interface Measurement {
  readonly name: string
  readonly value: number
  readonly unit: string
}

const ROWS = 1_000_000
const RUNS = 5
const REGIONS = ["north", "south", "east", "west"] as const
const PRODUCTS = ["widget", "gadget", "gizmo", "doohickey", "thingamajig"] as const
const GROUP_BY = "SELECT region, sum(units * price) AS revenue FROM t GROUP BY region"

type Sale = {
  readonly region: string
  readonly product: string
  readonly units: number
  readonly price: number
}

const generateRows = (count: number): ReadonlyArray<Sale> =>
  Array.from({ length: count }, (_, i) => ({
    region: REGIONS[i % REGIONS.length]!,
    product: PRODUCTS[(i * 7) % PRODUCTS.length]!,
    units: (i * 13) % 50,
    price: ((i * 31) % 10_000) / 100
  }))

const toCsv = (rows: ReadonlyArray<Sale>): string =>
  "region,product,units,price\n" + rows.map((r) => `${r.region},${r.product},${r.units},${r.price}`).join("\n") + "\n"

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Runs `effect` `RUNS` times and returns the median wall time in milliseconds. */
const medianMillis = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<number, E, R> =>
  Effect.gen(function* () {
    const times: Array<number> = []
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now()
      yield* effect
      times.push(performance.now() - start)
    }
    return median(times)
  })

const round = (value: number): number => Math.round(value * 10) / 10

/** Wall time of one run of `effect`, in milliseconds. */
const millis = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.as(effect, undefined).pipe(Effect.map(() => performance.now() - start))
  })

/** Calls the `sql` tool as the agent loop does; fails if the tool result is an error. */
const callSql = (store: Data.Store, query: string) => {
  const context: Tool.Context = {
    toolUseId: "toolu_bench",
    data: store,
    reveal: () => Effect.void,
    setAnswer: () => Effect.void
  }
  return Effect.flatMap(Sql.sql.call({ query }, context), (outcome) =>
    outcome.isError ? Effect.die(new Error(outcome.content)) : Effect.succeed(outcome.content)
  )
}

const TOOL_GROUP_BY = (table: string) =>
  `SELECT region, sum(units * price) AS revenue FROM ${table} GROUP BY region ORDER BY region`

/**
 * The public path: `put` of 1,000,000 records (snapshot only), the first `sql` call after it (which
 * loads the records into DuckDB), later `sql` calls, `putFile` of the 1,000,000-row CSV (DuckDB
 * reads it for the snapshot) and `sql` calls over it. Medians of 5 (the first call: 5 fresh puts).
 */
const benchToolPath = (rows: ReadonlyArray<Sale>, csvPath: string) =>
  Effect.gen(function* () {
    const store = yield* Data.makeStore
    const put = yield* medianMillis(store.put("sales", rows, { overwrite: true }))
    const firstTimes: Array<number> = []
    for (let run = 0; run < RUNS; run++) {
      yield* store.put("sales", rows, { overwrite: true })
      firstTimes.push(yield* millis(callSql(store, TOOL_GROUP_BY("sales"))))
    }
    const loaded = yield* medianMillis(callSql(store, TOOL_GROUP_BY("sales")))
    const putFile = yield* medianMillis(store.putFile("sales_csv", csvPath, { overwrite: true }))
    const csv = yield* medianMillis(callSql(store, TOOL_GROUP_BY("sales_csv")))
    yield* store.close
    return [
      { name: "session.put 1M records (snapshot, no database)", value: round(put), unit: "ms" },
      { name: "sql tool: first group-by after put (loads 1M records)", value: round(median(firstTimes)), unit: "ms" },
      { name: "sql tool: group-by over a loaded 1M-row put table", value: round(loaded), unit: "ms" },
      { name: "session.putFile 1M-row CSV (DuckDB snapshot)", value: round(putFile), unit: "ms" },
      { name: "sql tool: group-by over a 1M-row CSV handle", value: round(csv), unit: "ms" }
    ]
  })

const PUTS = 10_000

/** Wall time of `PUTS` puts into a fresh store, naming each with `name(i)`, in milliseconds. */
const timePuts = (name: (i: number) => string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const start = performance.now()
      for (let i = 0; i < PUTS; i++) yield* store.put(name(i), i)
      return performance.now() - start
    })
  )

/**
 * 10,000 puts of scalars into one store, the median of 5 fresh stores each: distinct names, and
 * one name taken over and over (each put finds the next free `h_<n>`). Both were quadratic before
 * the handle index (5.1 s and 10.7 s on the development machine); `put` is O(1) amortised now.
 */
const benchPuts = Effect.gen(function* () {
  const distinct: Array<number> = []
  const same: Array<number> = []
  for (let run = 0; run < RUNS; run++) {
    distinct.push(yield* timePuts((i) => `h${i}`))
    same.push(yield* timePuts(() => "h"))
  }
  return [
    { name: "session.put × 10,000, distinct names", value: round(median(distinct)), unit: "ms" },
    { name: "session.put × 10,000, one name (h, h_2, … h_10000)", value: round(median(same)), unit: "ms" }
  ]
})

/**
 * Measures, each as the median of 5 runs: `registerRows` of 1,000,000 records; a group-by over
 * that table; and `registerFile` + the same group-by over a 1,000,000-row CSV in the temp dir.
 * @since 0.1.0
 */
export const benchDuckdb = async (): Promise<ReadonlyArray<Measurement>> => {
  const rows = generateRows(ROWS)
  const dir = await Fs.mkdtemp(NodePath.join(Os.tmpdir(), "duckdb-bench-"))
  const csvPath = NodePath.join(dir, "sales.csv")
  await Fs.writeFile(csvPath, toCsv(rows))
  try {
    return await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const db = yield* DuckDB.open({ allowedPaths: [csvPath] })
          const register = yield* medianMillis(db.registerRows("t", rows))
          const groupBy = yield* medianMillis(db.query(GROUP_BY))
          const csv = yield* medianMillis(Effect.andThen(db.registerFile("t", csvPath), db.query(GROUP_BY)))
          const toolPath = yield* benchToolPath(rows, csvPath)
          const puts = yield* benchPuts
          return [
            ...toolPath,
            ...puts,
            { name: "duckdb registerRows 1M records", value: round(register), unit: "ms" },
            { name: "duckdb registerRows throughput", value: Math.round(ROWS / (register / 1000)), unit: "rows/s" },
            { name: "duckdb group-by over 1M registered rows", value: round(groupBy), unit: "ms" },
            { name: "duckdb registerFile + group-by over 1M-row CSV", value: round(csv), unit: "ms" }
          ]
        })
      )
    )
  } finally {
    await Fs.rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchDuckdb().then(
    (measurements) => console.table(measurements),
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
