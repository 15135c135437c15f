/**
 * Loading JS records into a table through DuckDB's appender: the column types inferred from the
 * values, and each 2048-row chunk filled column by column.
 * @since 0.1.0
 */
import type { DuckDBAppender, DuckDBType, DuckDBValue } from "@duckdb/node-api"
import {
  BIGINT,
  BLOB,
  BOOLEAN,
  blobValue,
  DOUBLE,
  DuckDBDataChunk,
  HUGEINT,
  TIMESTAMP,
  timestampValue,
  VARCHAR
} from "@duckdb/node-api"
import { Effect } from "effect"
import { jsonReplacer } from "../../../core/jsonValue.js"
import { DataLoadError } from "../errors.js"
import { quoteIdentifier } from "../sqlText.js"
import { type Connection, errorMessage } from "./connection.js"

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048
/** Chunks appended between two yields to the scheduler while loading records. */
const CHUNKS_PER_YIELD = 32

/** What a column holds, widened over all its values. */
type Kind = "null" | "boolean" | "integer" | "hugeint" | "double" | "varchar" | "timestamp" | "blob" | "json"

const sqlTypeOf: Record<Kind, string> = {
  null: "VARCHAR",
  boolean: "BOOLEAN",
  integer: "BIGINT",
  hugeint: "HUGEINT",
  double: "DOUBLE",
  varchar: "VARCHAR",
  timestamp: "TIMESTAMP",
  blob: "BLOB",
  json: "JSON"
}

const chunkTypeOf = (kind: Kind): DuckDBType => {
  switch (kind) {
    case "boolean":
      return BOOLEAN
    case "integer":
      return BIGINT
    case "hugeint":
      return HUGEINT
    case "double":
      return DOUBLE
    case "timestamp":
      return TIMESTAMP
    case "blob":
      return BLOB
    default:
      return VARCHAR
  }
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const INT128_MIN = -(2n ** 127n)
const INT128_MAX = 2n ** 127n - 1n

/** A value that cannot be stored, at `row` (0-based) of column `column`. */
class BadValue extends Error {
  constructor(
    readonly row: number,
    readonly column: string,
    readonly problem: string
  ) {
    super(problem)
  }
}

const kindOfValue = (value: unknown, row: number, column: string): Kind => {
  switch (typeof value) {
    case "undefined":
      return "null"
    case "boolean":
      return "boolean"
    case "string":
      return "varchar"
    case "number":
      return Number.isSafeInteger(value) ? "integer" : "double"
    case "bigint":
      if (value >= INT64_MIN && value <= INT64_MAX) return "integer"
      if (value >= INT128_MIN && value <= INT128_MAX) return "hugeint"
      throw new BadValue(row, column, `the bigint ${value} does not fit in 128 bits`)
    case "object":
      if (value === null) return "null"
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new BadValue(row, column, "the Date is invalid")
        return "timestamp"
      }
      if (value instanceof Uint8Array) return "blob"
      return "json"
    default:
      throw new BadValue(row, column, `a ${typeof value} cannot be stored`)
  }
}

const widen = (a: Kind, b: Kind): Kind => {
  if (a === b || b === "null") return a
  if (a === "null") return b
  if (a === "json" || b === "json") return "json"
  const numeric = (k: Kind) => k === "integer" || k === "hugeint" || k === "double"
  if (numeric(a) && numeric(b)) return a === "double" || b === "double" ? "double" : "hugeint"
  return "varchar"
}

/** Converts one JS value to what the chunk vector of `kind` expects. */
const toDuckDBValue = (kind: Kind, value: unknown): DuckDBValue => {
  if (value === null || value === undefined) return null
  switch (kind) {
    case "null":
      return null
    case "boolean":
      return value as boolean
    case "integer":
    case "hugeint":
      return BigInt(value as number | bigint)
    case "double":
      return Number(value)
    case "timestamp":
      return timestampValue(BigInt((value as Date).getTime()) * 1000n)
    case "blob":
      return blobValue(value as Uint8Array)
    case "json":
      return JSON.stringify(value, jsonReplacer)
    case "varchar":
      if (typeof value === "string") return value
      if (value instanceof Date) return value.toISOString()
      if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
      return String(value)
  }
}

interface ColumnPlan {
  readonly name: string
  readonly kind: Kind
}

/** The columns of `rows`: every key in first-seen order, with the kind widened over all values. */
const planColumns = (rows: ReadonlyArray<Readonly<Record<string, unknown>>>): ReadonlyArray<ColumnPlan> => {
  const names: Array<string> = []
  const seen = new Set<string>()
  for (const row of rows) {
    for (const key in row) {
      if (!seen.has(key) && Object.hasOwn(row, key)) {
        seen.add(key)
        names.push(key)
      }
    }
  }
  return names.map((name) => {
    let kind: Kind = "null"
    for (let r = 0; r < rows.length; r++) {
      const value = rows[r]![name]
      if (value === null || value === undefined) continue
      kind = widen(kind, kindOfValue(value, r, name))
    }
    return { name, kind }
  })
}

/** Fills one data chunk with rows `[offset, offset + count)`. */
const fillChunk = (
  columns: ReadonlyArray<ColumnPlan>,
  types: ReadonlyArray<DuckDBType>,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  offset: number,
  count: number
): DuckDBDataChunk => {
  const chunk = DuckDBDataChunk.create(types, count)
  for (let c = 0; c < columns.length; c++) {
    const { kind, name } = columns[c]!
    const values = new Array<DuckDBValue>(count)
    let r = 0
    try {
      for (; r < count; r++) values[r] = toDuckDBValue(kind, rows[offset + r]![name])
      chunk.setColumnValues(c, values)
    } catch (cause) {
      throw cause instanceof BadValue ? cause : new BadValue(offset + Math.min(r, count - 1), name, errorMessage(cause))
    }
  }
  return chunk
}

const invalid = (message: string) => new DataLoadError({ reason: "InvalidValue", message })

const badValueError = (table: string, cause: BadValue, hint: string) =>
  invalid(`Cannot store row ${cause.row}, column "${cause.column}" of table ${table}: ${cause.problem}.${hint}`)

/** Appends every row through `appender`, yielding to the scheduler every few chunks. */
const appendAll = (
  appender: DuckDBAppender,
  table: string,
  columns: ReadonlyArray<ColumnPlan>,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  onError: (message: string) => DataLoadError
) =>
  Effect.gen(function* () {
    const types = columns.map((c) => chunkTypeOf(c.kind))
    let chunks = 0
    for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, rows.length - offset)
      yield* Effect.try({
        try: () => appender.appendDataChunk(fillChunk(columns, types, rows, offset, count)),
        catch: (cause) => (cause instanceof BadValue ? badValueError(table, cause, "") : onError(errorMessage(cause)))
      })
      if (++chunks % CHUNKS_PER_YIELD === 0) yield* Effect.yieldNow
    }
    yield* Effect.try({ try: () => appender.flushSync(), catch: (cause) => onError(errorMessage(cause)) })
  })

const closeAppender = (appender: DuckDBAppender) =>
  Effect.sync(() => {
    try {
      appender.closeSync()
    } catch {
      // already flushed or failed: the transaction decides what is kept
    }
  })

/**
 * Creates (or replaces) table `name` from records; see `Database.registerRows`.
 * @since 0.1.0
 */
export const registerRows = (
  db: Connection,
  name: string,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>
): Effect.Effect<void, DataLoadError> =>
  Effect.gen(function* () {
    const table = quoteIdentifier(name)
    if (name.length === 0) return yield* invalid("registerRows needs a non-empty table name.")
    const columns = yield* Effect.try({
      try: () => planColumns(rows),
      catch: (cause) =>
        cause instanceof BadValue
          ? badValueError(
              table,
              cause,
              " Convert it to a number, string, boolean, Date, Uint8Array, plain object or array first."
            )
          : invalid(`Cannot load records into ${table}: ${errorMessage(cause)}`)
    })
    if (columns.length === 0) {
      return yield* invalid(
        `Cannot create table ${table} from ${rows.length} record(s) without any field: ` +
          "pass at least one record with at least one field."
      )
    }
    const onError = (message: string) => invalid(`Could not load records into table ${table}: ${message}`)
    const createSql = `CREATE OR REPLACE TABLE ${table} (${columns
      .map((c) => `${quoteIdentifier(c.name)} ${sqlTypeOf[c.kind]}`)
      .join(", ")})`
    yield* db.transaction(
      Effect.gen(function* () {
        yield* db.dropIfKind(name, "VIEW", onError)
        yield* db.run(createSql, onError)
        yield* Effect.acquireUseRelease(
          db.attempt(() => db.connection.createAppender(name), onError),
          (appender) => appendAll(appender, table, columns, rows, onError),
          closeAppender
        )
      }),
      onError
    )
  })
