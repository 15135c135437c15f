/**
 * One in-process DuckDB database per session, wrapped in Effect.
 *
 * `make` opens an in-memory DuckDB instance and one connection, and closes both when its scope
 * closes. The `Database` it returns loads JS records (`registerRows`, through the appender) and
 * files (`registerFile`, as views DuckDB reads directly), runs SQL, and hands results back as
 * JSON-safe JS values. Every operation on the connection holds a one-permit semaphore, so
 * operations from concurrent fibers never interleave; interrupting a fiber interrupts its running
 * DuckDB statement and waits for DuckDB to stop before the next operation starts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as DuckDB from "./internal/duckdb.js"
 *
 * const program = Effect.gen(function*() {
 *   const db = yield* DuckDB.make
 *   yield* db.registerFile("sales", "data/sales.csv")
 *   return yield* db.query("SELECT region, sum(units * price) AS revenue FROM sales GROUP BY region")
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.1.0
 */

import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import type {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBMaterializedResult,
  DuckDBType,
  DuckDBValue,
  DuckDBValueConverter
} from "@duckdb/node-api"
import {
  arrayFromArrayValue,
  arrayFromListValue,
  BIGINT,
  BLOB,
  BOOLEAN,
  blobValue,
  DOUBLE,
  DuckDBBlobValue,
  DuckDBDataChunk,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  fromVariantValue,
  HUGEINT,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue,
  TIMESTAMP,
  timestampValue,
  VARCHAR
} from "@duckdb/node-api"
import type { Scope } from "effect"
import { Effect, Exit, Schema, Semaphore } from "effect"

// errors

/**
 * DuckDB rejected a statement: bad SQL, a missing table, a failed cast. `message` is DuckDB's own
 * message prefixed with what failed; `sql` is the statement, when there was one.
 * @since 0.1.0
 */
export class SqlError extends Schema.TaggedError<SqlError>()("SqlError", {
  message: Schema.String,
  sql: Schema.optional(Schema.String)
}) {}

/**
 * Data could not be loaded into the database.
 *
 * - `FileNotFound`: the file (or glob) does not exist or cannot be opened.
 * - `UnsupportedFormat`: the format cannot be inferred from the extension; pass `format`.
 * - `ParseError`: DuckDB could not read the file as the format (its message is included).
 * - `InvalidValue`: a JS value or a table name cannot be stored (the row and column are named).
 * @since 0.1.0
 */
export class DataLoadError extends Schema.TaggedError<DataLoadError>()("DataLoadError", {
  reason: Schema.Literals(["FileNotFound", "UnsupportedFormat", "ParseError", "InvalidValue"]),
  message: Schema.String,
  path: Schema.optional(Schema.String)
}) {}

// models

/**
 * A result or table column: its name and DuckDB type name (`BIGINT`, `DOUBLE`, `VARCHAR`, `DATE`,
 * `TIMESTAMP`, `JSON`, `DECIMAL(18,3)`, `INTEGER[]`, ...).
 * @since 0.1.0
 */
export interface Column {
  readonly name: string
  readonly type: string
}

/**
 * The first rows of a query result, with the total row count. `truncated` is true when `rowCount`
 * is larger than `rows.length`.
 * @since 0.1.0
 */
export interface QueryResult {
  readonly columns: ReadonlyArray<Column>
  readonly rows: ReadonlyArray<Record<string, unknown>>
  readonly rowCount: number
  readonly truncated: boolean
}

/**
 * The shape of a table or view: row count, columns, and its first rows.
 * @since 0.1.0
 */
export interface TableInfo {
  readonly rowCount: number
  readonly columns: ReadonlyArray<Column>
  readonly sample: ReadonlyArray<Record<string, unknown>>
}

/**
 * A file format `registerFile` reads.
 * @since 0.1.0
 */
export type FileFormat = "csv" | "parquet" | "json"

/**
 * A session's DuckDB database. Table names are always quoted, so any non-empty string is a valid
 * name; DuckDB compares names case-insensitively (`Sales` and `sales` are the same table).
 *
 * Values come back JSON-safe: BIGINT/HUGEINT as numbers when they are safe integers (strings
 * otherwise), DECIMAL as numbers, DATE as `YYYY-MM-DD`, TIMESTAMP as ISO-8601 in UTC, LIST/STRUCT
 * as arrays/objects, JSON parsed, BLOB as base64, NaN/Infinity as strings.
 * @since 0.1.0
 */
export interface Database {
  /**
   * Creates (or replaces) table `name` from records, through DuckDB's appender in 2048-row chunks.
   * Column types are inferred from all values: integers → BIGINT (HUGEINT past int64), other
   * numbers → DOUBLE, strings → VARCHAR, booleans → BOOLEAN, `Date` → TIMESTAMP, `Uint8Array` →
   * BLOB, objects/arrays → JSON, null/undefined → NULL. A column mixing kinds widens: integer +
   * double → DOUBLE, anything + object → JSON, other mixes → VARCHAR. Atomic: on failure the
   * previous table of that name is kept.
   */
  readonly registerRows: (
    name: string,
    rows: ReadonlyArray<Readonly<Record<string, unknown>>>
  ) => Effect.Effect<void, DataLoadError>
  /**
   * Makes file `path` queryable as `name`: a view over `read_csv_auto` / `read_parquet` /
   * `read_json_auto`, so DuckDB reads the file on each query. The format comes from the extension
   * (`.csv`, `.tsv`, `.parquet`, `.json`, `.jsonl`, `.ndjson`, optionally `.gz`/`.zst`) unless
   * given. Globs (`data/*.csv`) are passed to DuckDB as they are.
   */
  readonly registerFile: (
    name: string,
    path: string,
    format?: FileFormat | undefined
  ) => Effect.Effect<void, DataLoadError>
  /**
   * Runs SQL (several statements allowed; the last one's result is returned). Returns at most
   * `maxRows` rows (default 10,000) with the total `rowCount` and `truncated`.
   */
  readonly query: (
    sql: string,
    options?: { readonly maxRows?: number | undefined }
  ) => Effect.Effect<QueryResult, SqlError>
  /**
   * Materialises the full result of `sql` as table `name` (`CREATE OR REPLACE TABLE name AS sql`),
   * then describes it. Use it when a result is too big to inline.
   */
  readonly createTableAs: (name: string, sql: string) => Effect.Effect<TableInfo, SqlError>
  /** Row count, columns and the first `sampleSize` rows (default 5) of a table or view. */
  readonly describe: (name: string, sampleSize?: number) => Effect.Effect<TableInfo, SqlError>
  /** All rows of a table or view as JS records (to hand a file-backed table to JS code). */
  readonly readAll: (name: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /** Drops table or view `name`; does nothing if there is none. */
  readonly drop: (name: string) => Effect.Effect<void>
  /** Renames table `from` to `to`, replacing any table or view already named `to`. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, SqlError>
}

// sql text

/**
 * Quotes an identifier for DuckDB SQL: `my "odd" name` → `"my ""odd"" name"`.
 * @since 0.1.0
 */
export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * Quotes a string literal for DuckDB SQL: `it's` → `'it''s'`.
 * @since 0.1.0
 */
export const quoteString = (value: string): string => `'${value.replaceAll("'", "''")}'`

const DEFAULT_MAX_ROWS = 10_000
const DEFAULT_SAMPLE_SIZE = 5
/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048
/** Chunks appended between two yields to the scheduler while loading records. */
const CHUNKS_PER_YIELD = 32

const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const stripTrailingSemicolons = (sql: string): string => sql.trim().replace(/[;\s]+$/, "")

// reading values

const MIN_DATE_MILLIS = -8_640_000_000_000_000n
const MAX_DATE_MILLIS = 8_640_000_000_000_000n

/** A whole bigint as a number when that is exact, else its decimal string. */
const jsonInteger = (value: bigint): number | string =>
  value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString()

/** A float as a number, or "NaN" / "Infinity" / "-Infinity", which JSON cannot carry. */
const jsonFloat = (value: number): number | string => (Number.isFinite(value) ? value : String(value))

/**
 * An instant as ISO-8601 in UTC, keeping sub-millisecond digits: `ticks` counts `1 / perMilli`
 * milliseconds since the epoch. Instants a JS `Date` cannot hold (and ±infinity) fall back to
 * DuckDB's own text.
 */
const isoInstant = (ticks: bigint, perMilli: bigint, fallback: () => string): string => {
  let millis = ticks / perMilli
  let rest = ticks % perMilli
  if (rest < 0n) {
    millis -= 1n
    rest += perMilli
  }
  if (millis < MIN_DATE_MILLIS || millis > MAX_DATE_MILLIS) return fallback()
  const iso = new Date(Number(millis)).toISOString()
  if (rest === 0n) return iso
  const digits = perMilli.toString().length - 1
  return `${iso.slice(0, -1)}${rest.toString().padStart(digits, "0")}Z`
}

/**
 * Converts DuckDB values to JSON-safe JS values; nested types recurse through it.
 */
const toJsonSafe: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value === null) return null
  if (type.alias === "JSON" && typeof value === "string") return parseJson(value)
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
      return value
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return typeof value === "number" ? jsonFloat(value) : String(value)
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return typeof value === "bigint" ? jsonInteger(value) : String(value)
    case DuckDBTypeId.DECIMAL:
      return value instanceof DuckDBDecimalValue ? jsonFloat(value.toDouble()) : String(value)
    case DuckDBTypeId.DATE:
      if (value instanceof DuckDBDateValue && !value.isFinite) return value.days > 0 ? "infinity" : "-infinity"
      return String(value)
    case DuckDBTypeId.TIMESTAMP:
      return value instanceof DuckDBTimestampValue
        ? isoInstant(value.micros, 1000n, () => value.toString())
        : String(value)
    case DuckDBTypeId.TIMESTAMP_TZ:
      return value instanceof DuckDBTimestampTZValue
        ? isoInstant(value.micros, 1000n, () => value.toString())
        : String(value)
    case DuckDBTypeId.TIMESTAMP_S:
      return value instanceof DuckDBTimestampSecondsValue
        ? isoInstant(value.seconds * 1000n, 1n, () => value.toString())
        : String(value)
    case DuckDBTypeId.TIMESTAMP_MS:
      return value instanceof DuckDBTimestampMillisecondsValue
        ? isoInstant(value.millis, 1n, () => value.toString())
        : String(value)
    case DuckDBTypeId.TIMESTAMP_NS:
      return value instanceof DuckDBTimestampNanosecondsValue
        ? isoInstant(value.nanos, 1_000_000n, () => value.toString())
        : String(value)
    case DuckDBTypeId.BLOB:
      return value instanceof DuckDBBlobValue ? Buffer.from(value.bytes).toString("base64") : String(value)
    case DuckDBTypeId.LIST:
      return arrayFromListValue(value, type, converter)
    case DuckDBTypeId.ARRAY:
      return arrayFromArrayValue(value, type, converter)
    case DuckDBTypeId.STRUCT:
      return objectFromStructValue(value, type, converter)
    case DuckDBTypeId.MAP:
      return objectArrayFromMapValue(value, type, converter)
    case DuckDBTypeId.UNION:
      return objectFromUnionValue(value, type, converter)
    case DuckDBTypeId.VARIANT:
      return fromVariantValue(value, type, converter)
    case DuckDBTypeId.SQLNULL:
      return null
    // TIME, TIME_TZ, INTERVAL, UUID, BIT, GEOMETRY: DuckDB's own text.
    default:
      return String(value)
  }
}

/** JSON text as a JS value; text that does not parse is kept as it is. */
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A DuckDB type as its SQL name; the JSON alias is kept (`JSON`, not `VARCHAR`). */
const typeName = (type: DuckDBType): string => type.alias ?? type.toString()

const columnsOf = (result: DuckDBMaterializedResult): ReadonlyArray<Column> => {
  const names = result.deduplicatedColumnNames()
  const types = result.columnTypes()
  return names.map((name, i) => ({ name, type: typeName(types[i]!) }))
}

/** Builds one record; a column named `__proto__` becomes an own property, not the prototype. */
const toRecord = (names: ReadonlyArray<string>, values: ReadonlyArray<unknown>): Record<string, unknown> => {
  const record: Record<string, unknown> = {}
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    if (name === "__proto__") {
      Object.defineProperty(record, name, { value: values[i], enumerable: true, writable: true, configurable: true })
    } else {
      record[name] = values[i]
    }
  }
  return record
}

/** The first `limit` rows of a materialised result, converted to JSON-safe records. */
const readRows = (result: DuckDBMaterializedResult, limit: number): Array<Record<string, unknown>> => {
  const names = result.deduplicatedColumnNames()
  // Data chunks do not carry type aliases, so JSON columns are found on the result and parsed here.
  const jsonColumns = result.columnTypes().flatMap((type, i) => (type.alias === "JSON" ? [i] : []))
  const rows: Array<Record<string, unknown>> = []
  const chunkCount = result.chunkCount
  for (let c = 0; c < chunkCount && rows.length < limit; c++) {
    const chunk = result.getChunk(c)
    const take = Math.min(chunk.rowCount, limit - rows.length)
    const converted =
      take === chunk.rowCount
        ? chunk.convertRows(toJsonSafe)
        : Array.from({ length: take }, (_, r) => chunk.convertRowValues(r, toJsonSafe))
    for (const values of converted) {
      for (const i of jsonColumns) {
        const value = values[i]
        if (typeof value === "string") values[i] = parseJson(value)
      }
      rows.push(toRecord(names, values))
    }
  }
  return rows
}

// writing values

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

const chunkTypeOf: Record<Kind, DuckDBType> = {
  null: VARCHAR,
  boolean: BOOLEAN,
  integer: BIGINT,
  hugeint: HUGEINT,
  double: DOUBLE,
  varchar: VARCHAR,
  timestamp: TIMESTAMP,
  blob: BLOB,
  json: VARCHAR
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

/** JSON text for a value; bigints become numbers when safe, else strings. */
const jsonText = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? jsonInteger(v) : v))

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
      return jsonText(value)
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

// files

const formatLabel = (format: FileFormat): string => (format === "csv" ? "CSV" : format === "json" ? "JSON" : "Parquet")

/** The format a file name implies, ignoring a trailing compression suffix. */
const formatOfPath = (path: string): { readonly format: FileFormat; readonly tsv: boolean } | undefined => {
  const base = NodePath.basename(path)
    .toLowerCase()
    .replace(/\.(gz|gzip|zst|zstd)$/, "")
  const ext = NodePath.extname(base)
  switch (ext) {
    case ".csv":
      return { format: "csv", tsv: false }
    case ".tsv":
    case ".tab":
      return { format: "csv", tsv: true }
    case ".parquet":
    case ".pq":
      return { format: "parquet", tsv: false }
    case ".json":
    case ".jsonl":
    case ".ndjson":
      return { format: "json", tsv: false }
    default:
      return undefined
  }
}

const isGlob = (path: string): boolean => /[*?[]/.test(path)

/** The table function call that reads `path` as `format`. */
const sourceSql = (format: FileFormat, path: string, delimiter: string | undefined): string => {
  const file = quoteString(path)
  switch (format) {
    case "csv":
      return delimiter === undefined
        ? `read_csv_auto(${file})`
        : `read_csv_auto(${file}, delim = ${quoteString(delimiter)})`
    case "parquet":
      return `read_parquet(${file})`
    case "json":
      return `read_json_auto(${file})`
  }
}

/**
 * When DuckDB's CSV sniffer finds no consistent dialect it silently reads each line as one
 * VARCHAR column named after the whole header line. Returns the delimiter that header suggests.
 */
const collapsedCsvDelimiter = (columnNames: ReadonlyArray<string>): string | undefined => {
  if (columnNames.length !== 1) return undefined
  const header = columnNames[0]!
  let best: string | undefined
  let bestCount = 0
  for (const candidate of [",", ";", "\t", "|"]) {
    const count = header.split(candidate).length - 1
    if (count > bestCount) {
      best = candidate
      bestCount = count
    }
  }
  return best
}

// constructors

/**
 * Opens an in-memory DuckDB instance and one connection, and closes both when the scope closes
 * (after any running operation finishes).
 *
 * @example
 * ```ts
 * const rows = yield* Effect.scoped(Effect.gen(function*() {
 *   const db = yield* DuckDB.make
 *   yield* db.registerRows("t", [{ a: 1 }, { a: 2 }])
 *   return (yield* db.query("SELECT sum(a) AS total FROM t")).rows
 * }))
 * ```
 * @since 0.1.0
 */
export const make: Effect.Effect<Database, SqlError, Scope.Scope> = Effect.gen(function* () {
  const lock = yield* Semaphore.make(1)
  const openError = (cause: unknown) => new SqlError({ message: `Could not open DuckDB: ${errorMessage(cause)}` })
  const instance = yield* Effect.acquireRelease(
    Effect.tryPromise({ try: () => DuckDBInstance.create(":memory:"), catch: openError }),
    (instance) => lock.withPermit(Effect.sync(() => instance.closeSync()))
  )
  const connection = yield* Effect.acquireRelease(
    Effect.tryPromise({ try: () => instance.connect(), catch: openError }),
    (connection) => lock.withPermit(Effect.sync(() => connection.closeSync()))
  )
  return makeDatabase(connection, lock)
})

const makeDatabase = (connection: DuckDBConnection, lock: Semaphore.Semaphore): Database => {
  // connection primitives (callers hold the lock)

  /**
   * Runs one DuckDB call. On interruption it interrupts the connection and waits for the call to
   * settle, so the next operation never starts while DuckDB is still busy.
   */
  const attempt = <A, E>(call: () => Promise<A>, onError: (message: string) => E): Effect.Effect<A, E> =>
    Effect.callback<A, E>((resume) => {
      let promise: Promise<A>
      try {
        promise = call()
      } catch (cause) {
        resume(Effect.fail(onError(errorMessage(cause))))
        return
      }
      promise.then(
        (value) => resume(Effect.succeed(value)),
        (cause: unknown) => resume(Effect.fail(onError(errorMessage(cause))))
      )
      return Effect.promise(() => {
        connection.interrupt()
        return promise.then(
          () => undefined,
          () => undefined
        )
      })
    })

  const run = <E>(sql: string, onError: (message: string) => E) => attempt(() => connection.run(sql), onError)

  const sqlError = (prefix: string, sql: string) => (message: string) =>
    new SqlError({ message: `${prefix}: ${message}`, sql })

  /** Runs `body` in a transaction: committed on success, rolled back on failure or interruption. */
  const transaction = <A, E, E2>(body: Effect.Effect<A, E>, onError: (message: string) => E2) =>
    Effect.acquireUseRelease(
      run("BEGIN TRANSACTION", onError),
      () => Effect.flatMap(body, (a) => Effect.as(run("COMMIT", onError), a)),
      (_, exit) => (Exit.isFailure(exit) ? Effect.ignore(run("ROLLBACK", (m) => m)) : Effect.void)
    )

  /** Whether `name` is a table or a view (DuckDB names are case-insensitive), if it exists. */
  const kindOf = <E>(name: string, onError: (message: string) => E) =>
    Effect.map(
      attempt(
        () =>
          connection.runAndReadAll(
            "SELECT table_type FROM information_schema.tables " +
              "WHERE table_catalog = current_database() AND table_schema = current_schema() " +
              "AND lower(table_name) = lower($1)",
            [name]
          ),
        onError
      ),
      (reader): "TABLE" | "VIEW" | undefined => {
        const type = reader.getRowsJS()[0]?.[0]
        return type === "VIEW" ? "VIEW" : type === undefined ? undefined : "TABLE"
      }
    )

  /** Drops `name` if it exists as the given kind (so it can be replaced by the other kind). */
  const dropIfKind = <E>(name: string, kind: "TABLE" | "VIEW", onError: (message: string) => E) =>
    Effect.flatMap(kindOf(name, onError), (existing) =>
      existing === kind ? Effect.asVoid(run(`DROP ${kind} IF EXISTS ${quoteIdentifier(name)}`, onError)) : Effect.void
    )

  const describeUnlocked = (name: string, sampleSize: number): Effect.Effect<TableInfo, SqlError> => {
    const table = quoteIdentifier(name)
    const countSql = `SELECT count(*) FROM ${table}`
    const limit = Number.isFinite(sampleSize) ? Math.max(0, Math.floor(sampleSize)) : DEFAULT_SAMPLE_SIZE
    const sampleSql = `SELECT * FROM ${table} LIMIT ${limit}`
    return Effect.gen(function* () {
      const counted = yield* attempt(
        () => connection.runAndReadAll(countSql),
        sqlError(`Could not describe ${table}`, countSql)
      )
      const sample = yield* run(sampleSql, sqlError(`Could not describe ${table}`, sampleSql))
      const total = counted.getRowsJS()[0]?.[0]
      return {
        rowCount: typeof total === "bigint" ? Number(total) : 0,
        columns: columnsOf(sample),
        sample: readRows(sample, Number.POSITIVE_INFINITY)
      }
    })
  }

  // operations

  const registerRows = (
    name: string,
    rows: ReadonlyArray<Readonly<Record<string, unknown>>>
  ): Effect.Effect<void, DataLoadError> =>
    Effect.gen(function* () {
      const invalid = (message: string) => new DataLoadError({ reason: "InvalidValue", message })
      const table = quoteIdentifier(name)
      if (name.length === 0) {
        return yield* invalid("registerRows needs a non-empty table name.")
      }
      const columns = yield* Effect.try({
        try: () => planColumns(rows),
        catch: (cause) =>
          cause instanceof BadValue
            ? invalid(
                `Cannot store row ${cause.row}, column "${cause.column}" of table ${table}: ${cause.problem}. ` +
                  "Convert it to a number, string, boolean, Date, Uint8Array, plain object or array first."
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
      const types = columns.map((c) => chunkTypeOf[c.kind])

      const append = (appender: DuckDBAppender) =>
        Effect.gen(function* () {
          let chunks = 0
          for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
            const count = Math.min(CHUNK_ROWS, rows.length - offset)
            yield* Effect.try({
              try: () => appender.appendDataChunk(fillChunk(columns, types, rows, offset, count)),
              catch: (cause) =>
                cause instanceof BadValue
                  ? invalid(
                      `Cannot store row ${cause.row}, column "${cause.column}" of table ${table}: ${cause.problem}.`
                    )
                  : onError(errorMessage(cause))
            })
            if (++chunks % CHUNKS_PER_YIELD === 0) yield* Effect.yieldNow
          }
          yield* Effect.try({ try: () => appender.flushSync(), catch: (cause) => onError(errorMessage(cause)) })
        })

      yield* transaction(
        Effect.gen(function* () {
          yield* dropIfKind(name, "VIEW", onError)
          yield* run(createSql, onError)
          yield* Effect.acquireUseRelease(
            attempt(() => connection.createAppender(name), onError),
            append,
            (appender) =>
              Effect.sync(() => {
                try {
                  appender.closeSync()
                } catch {
                  // already flushed or failed: the transaction decides what is kept
                }
              })
          )
        }),
        onError
      )
    }).pipe(lock.withPermit)

  const registerFile = (
    name: string,
    path: string,
    format?: FileFormat | undefined
  ): Effect.Effect<void, DataLoadError> =>
    Effect.gen(function* () {
      const table = quoteIdentifier(name)
      const absolute = NodePath.resolve(path)
      const fail = (reason: DataLoadError["reason"], message: string) =>
        new DataLoadError({ reason, message, path: absolute })
      if (name.length === 0) {
        return yield* fail("InvalidValue", `registerFile("${path}") needs a non-empty table name.`)
      }
      const inferred = formatOfPath(absolute)
      const resolved = format ?? inferred?.format
      if (resolved === undefined) {
        return yield* fail(
          "UnsupportedFormat",
          `Cannot tell the format of ${absolute} (for table ${table}) from its extension: ` +
            'pass format "csv", "parquet" or "json", or use a .csv, .tsv, .parquet, .json, .jsonl or ' +
            ".ndjson file."
        )
      }
      if (!isGlob(path)) {
        const stat = yield* Effect.tryPromise({
          try: () => Fs.stat(absolute),
          catch: (cause) =>
            fail(
              "FileNotFound",
              `File not found: ${absolute} (for table ${table}). Check the path; relative paths resolve ` +
                `against ${process.cwd()}. (${errorMessage(cause)})`
            )
        })
        if (!stat.isFile()) {
          return yield* fail(
            "FileNotFound",
            `${absolute} (for table ${table}) is not a file: pass a file, or a glob such as dir/*.csv.`
          )
        }
      }
      const readError = (message: string) =>
        /No files found that match the pattern|Cannot open file|No such file/i.test(message)
          ? fail(
              "FileNotFound",
              `Cannot open ${absolute} (for table ${table}): check that it exists and is readable. DuckDB said: ${message}`
            )
          : fail(
              "ParseError",
              `Cannot read ${absolute} as ${formatLabel(resolved)} (for table ${table}): fix the file, or pass ` +
                `the right format if it is not ${formatLabel(resolved)}. DuckDB said: ${message}`
            )
      const probe = (source: string) =>
        Effect.map(run(`SELECT * FROM ${source} LIMIT 0`, readError), (result) => result.columnNames())

      const tsvDelimiter =
        format === undefined || format === inferred?.format ? (inferred?.tsv === true ? "\t" : undefined) : undefined
      let source = sourceSql(resolved, absolute, tsvDelimiter)
      const columnNames = yield* probe(source)
      if (resolved === "csv" && tsvDelimiter === undefined) {
        // The sniffer fell back to one column per line: ask again with the delimiter the header
        // shows, which makes DuckDB report what is wrong (e.g. rows with more fields).
        const delimiter = collapsedCsvDelimiter(columnNames)
        if (delimiter !== undefined) {
          source = sourceSql(resolved, absolute, delimiter)
          yield* probe(source)
        }
      }
      const onError = (message: string) =>
        fail("InvalidValue", `Could not create view ${table} over ${absolute}: ${message}`)
      yield* transaction(
        Effect.gen(function* () {
          yield* dropIfKind(name, "TABLE", onError)
          yield* run(`CREATE OR REPLACE VIEW ${table} AS SELECT * FROM ${source}`, onError)
        }),
        onError
      )
    }).pipe(lock.withPermit)

  const query = (
    sql: string,
    options?: { readonly maxRows?: number | undefined }
  ): Effect.Effect<QueryResult, SqlError> => {
    const requested = options?.maxRows
    const maxRows =
      requested === undefined || Number.isNaN(requested) ? DEFAULT_MAX_ROWS : Math.max(0, Math.floor(requested))
    return Effect.map(run(sql, sqlError("SQL error", sql)), (result): QueryResult => {
      const rowCount = result.rowCount
      return {
        columns: columnsOf(result),
        rows: readRows(result, maxRows),
        rowCount,
        truncated: rowCount > maxRows
      }
    }).pipe(lock.withPermit)
  }

  const createTableAs = (name: string, sql: string): Effect.Effect<TableInfo, SqlError> => {
    const table = quoteIdentifier(name)
    const createSql = `CREATE OR REPLACE TABLE ${table} AS ${stripTrailingSemicolons(sql)}`
    const onError = sqlError(`Could not create table ${table}`, sql)
    return Effect.gen(function* () {
      if (name.length === 0) return yield* onError("the table name is empty")
      yield* transaction(Effect.andThen(dropIfKind(name, "VIEW", onError), run(createSql, onError)), onError)
      return yield* describeUnlocked(name, DEFAULT_SAMPLE_SIZE)
    }).pipe(lock.withPermit)
  }

  const describe = (name: string, sampleSize?: number): Effect.Effect<TableInfo, SqlError> =>
    describeUnlocked(name, sampleSize ?? DEFAULT_SAMPLE_SIZE).pipe(lock.withPermit)

  const readAll = (name: string): Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> => {
    const sql = `SELECT * FROM ${quoteIdentifier(name)}`
    return Effect.map(run(sql, sqlError(`Could not read ${quoteIdentifier(name)}`, sql)), (result) =>
      readRows(result, Number.POSITIVE_INFINITY)
    ).pipe(lock.withPermit)
  }

  const drop = (name: string): Effect.Effect<void> =>
    Effect.ignore(
      Effect.flatMap(
        kindOf(name, (message) => message),
        (kind) =>
          kind === undefined
            ? Effect.void
            : run(`DROP ${kind} IF EXISTS ${quoteIdentifier(name)}`, (message) => message)
      )
    ).pipe(lock.withPermit)

  const rename = (from: string, to: string): Effect.Effect<void, SqlError> => {
    const sql = `ALTER TABLE ${quoteIdentifier(from)} RENAME TO ${quoteIdentifier(to)}`
    const onError = sqlError(`Could not rename ${quoteIdentifier(from)}`, sql)
    return transaction(
      Effect.gen(function* () {
        if (from.toLowerCase() !== to.toLowerCase()) {
          const existing = yield* kindOf(to, onError)
          if (existing !== undefined) yield* run(`DROP ${existing} ${quoteIdentifier(to)}`, onError)
        }
        yield* run(sql, onError)
      }),
      onError
    ).pipe(lock.withPermit)
  }

  return { registerRows, registerFile, query, createTableAs, describe, readAll, drop, rename }
}
