/**
 * Queries and tables: running SQL, keeping a result in a table, describing, reading, dropping,
 * renaming and copying tables.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { QueryResult, Selection, TableInfo } from "../Database.js"
import type { SqlError } from "../errors.js"
import { asSubquery, quoteIdentifier, stripTrailingSemicolons } from "../sqlText.js"
import { type Connection, sqlError } from "./connection.js"
import { columnsOf, readRows, typeName } from "./values.js"

const DEFAULT_MAX_ROWS = 10_000
const DEFAULT_SAMPLE_SIZE = 5

const wholeOr = (value: number | undefined, fallback: number): number =>
  value === undefined || Number.isNaN(value) ? fallback : Math.max(0, Math.floor(value))

/**
 * Runs SQL and returns its first `maxRows` rows; see `Database.query`.
 * @since 0.1.0
 */
export const query = (
  db: Connection,
  sql: string,
  options?: { readonly maxRows?: number | undefined }
): Effect.Effect<QueryResult, SqlError> => {
  const maxRows = wholeOr(options?.maxRows, DEFAULT_MAX_ROWS)
  return Effect.map(db.run(sql, sqlError("SQL error", sql)), (result) => ({
    columns: columnsOf(result),
    rows: readRows(result, maxRows),
    rowCount: result.rowCount,
    truncated: result.rowCount > maxRows
  }))
}

/**
 * Row count, columns and first rows of a table or view; see `Database.describe`.
 * @since 0.1.0
 */
export const describe = (db: Connection, name: string, sampleSize?: number): Effect.Effect<TableInfo, SqlError> => {
  const table = quoteIdentifier(name)
  const countSql = `SELECT count(*) FROM ${table}`
  const sampleSql = `SELECT * FROM ${table} LIMIT ${wholeOr(sampleSize, DEFAULT_SAMPLE_SIZE)}`
  return Effect.gen(function* () {
    const counted = yield* db.attempt(
      () => db.connection.runAndReadAll(countSql),
      sqlError(`Could not describe ${table}`, countSql)
    )
    const sample = yield* db.run(sampleSql, sqlError(`Could not describe ${table}`, sampleSql))
    const total = counted.getRowsJS()[0]?.[0]
    return {
      rowCount: typeof total === "bigint" ? Number(total) : 0,
      columns: columnsOf(sample),
      sample: readRows(sample, Number.POSITIVE_INFINITY)
    }
  })
}

/**
 * `CREATE OR REPLACE TABLE name AS sql`, then its description; see `Database.createTableAs`.
 * @since 0.1.0
 */
export const createTableAs = (db: Connection, name: string, sql: string): Effect.Effect<TableInfo, SqlError> => {
  const table = quoteIdentifier(name)
  const createSql = `CREATE OR REPLACE TABLE ${table} AS ${stripTrailingSemicolons(sql)}`
  const onError = sqlError(`Could not create table ${table}`, sql)
  return Effect.gen(function* () {
    if (name.length === 0) return yield* onError("the table name is empty")
    yield* db.transaction(Effect.andThen(db.dropIfKind(name, "VIEW", onError), db.run(createSql, onError)), onError)
    return yield* describe(db, name, DEFAULT_SAMPLE_SIZE)
  })
}

/**
 * Runs `SELECT * FROM (sql) LIMIT maxRows + 1` once into table `name`, drops the extra row that
 * shows the result was cut, and reads the preview; see `Database.selectInto`.
 * @since 0.1.0
 */
export const selectInto = (
  db: Connection,
  name: string,
  sql: string,
  options: { readonly maxRows: number; readonly previewRows: number }
): Effect.Effect<Selection, SqlError> => {
  const table = quoteIdentifier(name)
  const maxRows = wholeOr(options.maxRows, DEFAULT_MAX_ROWS)
  const createSql = `CREATE TABLE ${table} AS ${asSubquery(sql)}\nLIMIT ${maxRows + 1}`
  const onError = sqlError("SQL error", sql)
  return Effect.gen(function* () {
    // prepared, so the text must be exactly one statement: DuckDB refuses to prepare several
    const prepared = yield* db.attempt(() => db.connection.prepare(createSql), onError)
    const created = yield* Effect.ensuring(
      db.attempt(() => prepared.run(), onError),
      Effect.sync(() => prepared.destroySync())
    )
    // CREATE TABLE AS returns the number of rows it wrote
    const total = Number(Object.values(readRows(created, 1)[0] ?? {})[0] ?? 0)
    const cut = total > maxRows
    // rowid follows insertion order, so the last row is the one past the bound
    if (cut) yield* db.run(`DELETE FROM ${table} WHERE rowid = (SELECT max(rowid) FROM ${table})`, onError)
    const rowCount = Math.min(total, maxRows)
    const previewRows = wholeOr(options.previewRows, 0)
    const preview = yield* db.run(`SELECT * FROM ${table} LIMIT ${previewRows}`, onError)
    return {
      columns: columnsOf(preview),
      rows: readRows(preview, previewRows),
      rowCount,
      truncated: rowCount > previewRows,
      cut
    }
  }).pipe(Effect.onError(() => drop(db, name)))
}

/**
 * All rows of a table or view; see `Database.readAll`.
 * @since 0.1.0
 */
export const readAll = (
  db: Connection,
  name: string
): Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> => {
  const sql = `SELECT * FROM ${quoteIdentifier(name)}`
  return Effect.map(db.run(sql, sqlError(`Could not read ${quoteIdentifier(name)}`, sql)), (result) =>
    readRows(result, Number.POSITIVE_INFINITY)
  )
}

/**
 * Drops table or view `name` if there is one; see `Database.drop`.
 * @since 0.1.0
 */
export const drop = (db: Connection, name: string): Effect.Effect<void> => {
  const table = quoteIdentifier(name)
  // one statement in the common case (a table); a view is dropped as a view when DuckDB says so
  return Effect.ignore(
    db
      .run(`DROP TABLE IF EXISTS ${table}`, (message) => message)
      .pipe(
        Effect.catch((message) =>
          /type View/i.test(message) ? db.run(`DROP VIEW IF EXISTS ${table}`, (m) => m) : Effect.fail(message)
        )
      )
  )
}

/**
 * Renames table `from` to `to`, replacing what is named `to`; see `Database.rename`.
 * @since 0.1.0
 */
export const rename = (db: Connection, from: string, to: string): Effect.Effect<void, SqlError> => {
  const sql = `ALTER TABLE ${quoteIdentifier(from)} RENAME TO ${quoteIdentifier(to)}`
  const onError = sqlError(`Could not rename ${quoteIdentifier(from)}`, sql)
  return db.transaction(
    Effect.gen(function* () {
      if (from.toLowerCase() !== to.toLowerCase()) {
        const existing = yield* db.kindOf(to, onError)
        if (existing !== undefined) yield* db.run(`DROP ${existing} ${quoteIdentifier(to)}`, onError)
      }
      yield* db.run(sql, onError)
    }),
    onError
  )
}

/**
 * Copies table `name` from `source` into `target`, chunk by chunk through `target`'s appender;
 * see `Database.copyTo`. The caller holds both databases' locks.
 * @since 0.1.0
 */
export const copyTable = (source: Connection, target: Connection, name: string): Effect.Effect<void, SqlError> => {
  const table = quoteIdentifier(name)
  const sql = `SELECT * FROM ${table}`
  const onError = sqlError(`Could not copy ${table} into the new session database`, sql)
  return Effect.gen(function* () {
    const result = yield* source.attempt(() => source.connection.stream(sql), onError)
    const names = result.columnNames()
    const types = result.columnTypes()
    const columns = names.map((column, i) => `${quoteIdentifier(column)} ${typeName(types[i]!)}`)
    yield* target.run(`CREATE OR REPLACE TABLE ${table} (${columns.join(", ")})`, onError)
    yield* Effect.acquireUseRelease(
      target.attempt(() => target.connection.createAppender(name), onError),
      (appender) =>
        Effect.gen(function* () {
          for (;;) {
            const chunk = yield* source.attempt(() => result.fetchChunk(), onError)
            if (chunk === null || chunk.rowCount === 0) break
            yield* Effect.try({ try: () => appender.appendDataChunk(chunk), catch: (cause) => onError(String(cause)) })
          }
          yield* Effect.try({ try: () => appender.flushSync(), catch: (cause) => onError(String(cause)) })
        }),
      (appender) =>
        Effect.sync(() => {
          try {
            appender.closeSync()
          } catch {
            // a failed append already failed the copy
          }
        })
    )
  }).pipe(Effect.onError(() => drop(target, name)))
}
