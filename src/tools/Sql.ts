/**
 * The `sql` tool: read-only SQL over the session's table handles, on the session's DuckDB
 * database.
 *
 * Every table handle (a put table, a file, a saved result) is a table of the same name; files are
 * read by DuckDB directly. A small result comes back inline; a large one is saved as a new table
 * handle (`query_1`, `query_2`, … or the `save_as` name) and the model is told its name and
 * snapshot, so the transcript stays small however large the result. SQL errors come back as
 * `is_error` results carrying DuckDB's message.
 *
 * Only one read-only statement runs per call: `SELECT` in any of DuckDB's forms (`WITH`, `FROM`
 * first, `VALUES`, `PIVOT`, `DESCRIBE`, `SUMMARIZE`, `SHOW`). The query may read the session's
 * handles and a few built-in table functions (`range`, `generate_series`, `unnest`, `json_each`,
 * the `duckdb_*` catalog); it cannot read files by path, reach the network, or change the
 * database. The check uses DuckDB's own parser (`json_serialize_sql`), so it sees every table
 * reference, including those in subqueries and CTEs.
 *
 * @example
 * ```ts
 * import { Agent, Sql } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: [Sql.sql] })
 * ```
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as Data from "../data/Data.js"
import { quoteString, SqlError } from "../data/duckdb.js"
import * as Tool from "./Tool.js"

// options

/**
 * Options of {@link make}.
 * @since 0.1.0
 */
export interface Options {
  /** Most rows returned inline (default 50); a larger result becomes a handle. */
  readonly inlineRows?: number | undefined
  /** Most characters of inline JSON (default 8,000); a larger result becomes a handle. */
  readonly inlineChars?: number | undefined
}

const DEFAULT_INLINE_ROWS = 50
const DEFAULT_INLINE_CHARS = 8_000

// the read-only check

/** Table functions a query may call: generators and the catalog, none of which reads files. */
const ALLOWED_TABLE_FUNCTIONS = new Set([
  "range",
  "generate_series",
  "unnest",
  "json_each",
  "json_tree",
  "duckdb_tables",
  "duckdb_columns",
  "duckdb_views",
  "duckdb_types",
  "duckdb_functions",
  "duckdb_constraints",
  "duckdb_schemas",
  "pragma_table_info"
])
const ALLOWED_SCHEMAS = new Set(["", "main", "information_schema", "pg_catalog"])
const ALLOWED_CATALOGS = new Set(["", "memory", "system", "temp"])
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/

const READ_ONLY_HINT =
  "The sql tool runs one read-only query per call: SELECT (also WITH, FROM-first, VALUES, PIVOT, " +
  "DESCRIBE, SUMMARIZE, SHOW) over the session's handles. To keep a result as a new handle, pass save_as."

const rejected = (sql: string, message: string) => new SqlError({ message: `${message}\n${READ_ONLY_HINT}`, sql })

/** Finds the first table reference that is neither a handle-like table nor an allowed function. */
const forbiddenReference = (node: unknown): string | undefined => {
  if (Array.isArray(node)) {
    for (const child of node) {
      const found = forbiddenReference(child)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (typeof node !== "object" || node === null) return undefined
  const record = node as Record<string, unknown>
  if (record.type === "BASE_TABLE") {
    const name = String(record.table_name ?? "")
    const schema = String(record.schema_name ?? "").toLowerCase()
    const catalog = String(record.catalog_name ?? "").toLowerCase()
    if (!IDENTIFIER.test(name)) {
      return `"${name}" is not a handle name: the sql tool reads the session's handles, not files or URLs. Ask the user to put the file into the session.`
    }
    if (!ALLOWED_SCHEMAS.has(schema) || !ALLOWED_CATALOGS.has(catalog)) {
      return `${[catalog, schema, name].filter((part) => part !== "").join(".")} is outside the session database.`
    }
  } else if (record.type === "TABLE_FUNCTION") {
    const fn = record.function as Record<string, unknown> | undefined
    const name = String(fn?.function_name ?? "").toLowerCase()
    if (!ALLOWED_TABLE_FUNCTIONS.has(name)) {
      return `The table function ${name}() is not available: the sql tool reads the session's handles (files are read through their handles), and may call ${[...ALLOWED_TABLE_FUNCTIONS].join(", ")}.`
    }
  }
  for (const value of Object.values(record)) {
    if (typeof value === "object" && value !== null) {
      const found = forbiddenReference(value)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const Parsed = Schema.Union([
  Schema.Struct({ error: Schema.Literal(false), statements: Schema.Array(Schema.Unknown) }),
  Schema.Struct({
    error: Schema.Literal(true),
    error_type: Schema.optional(Schema.String),
    error_message: Schema.optional(Schema.String)
  })
])
const decodeParsed = Schema.decodeUnknownOption(Schema.fromJsonString(Parsed))

/**
 * Checks with DuckDB's parser that `sql` is one read-only statement over handles. Statements the
 * parser rejects are left for DuckDB to report with its own message when they run.
 */
const checkReadOnly = (store: Data.Store, sql: string): Effect.Effect<void, SqlError> =>
  Effect.gen(function* () {
    const result = yield* store.query(`SELECT json_serialize_sql(${quoteString(sql)}) AS ast`)
    const text = result.rows[0]?.ast
    const parsed = decodeParsed(typeof text === "string" ? text : JSON.stringify(text))
    if (parsed._tag === "None") return
    const ast = parsed.value
    if (ast.error) {
      if (ast.error_type === "parser") return
      return yield* rejected(
        sql,
        "Only read-only queries can run here; this statement would change the database or its settings."
      )
    }
    if (ast.statements.length !== 1) {
      return yield* rejected(sql, `Send one statement per call (this has ${ast.statements.length}).`)
    }
    const problem = forbiddenReference(ast.statements)
    if (problem !== undefined) return yield* rejected(sql, problem)
  })

// formatting

/**
 * A result as the model reads it: one JSON document with the column names and DuckDB types once,
 * and rows as arrays in column order (about half the tokens of records, which repeat every key).
 */
const inline = (result: Data.QueryResult) =>
  JSON.stringify({
    rowCount: result.rowCount,
    columns: result.columns.map((column) => column.name),
    types: result.columns.map((column) => column.type),
    rows: result.rows.map((row) => result.columns.map((column) => row[column.name] ?? null))
  })

const nextResultName = (handles: ReadonlyArray<Data.Handle>): string => {
  let max = 0
  for (const handle of handles) {
    const match = /^query_(\d+)$/i.exec(handle.name)
    if (match !== null) max = Math.max(max, Number(match[1]))
  }
  return `query_${max + 1}`
}

// constructors

/**
 * Builds the `sql` tool with other inline limits.
 * @since 0.1.0
 */
export const make = (options: Options = {}): Tool.Tool => {
  const inlineRows = Math.max(0, Math.floor(options.inlineRows ?? DEFAULT_INLINE_ROWS))
  const inlineChars = Math.max(0, Math.floor(options.inlineChars ?? DEFAULT_INLINE_CHARS))
  return Tool.make("sql", {
    description:
      "Run one read-only SQL query (DuckDB dialect) over the session's data handles: every table handle " +
      "is a table of the same name (see list_variables). Results of up to " +
      `${inlineRows} rows come back as JSON {rowCount, columns, types, rows}; larger results are saved as a ` +
      "new table handle (query_1, query_2, … or save_as) and you get its name and a snapshot: query it " +
      "further with SQL, or use it in JavaScript. Pass save_as to keep any result as a handle. " +
      "DuckDB extras: GROUP BY ALL, SUMMARIZE table, DESCRIBE table, QUALIFY, PIVOT.",
    parameters: Schema.Struct({
      query: Schema.String.annotate({ description: "One SELECT statement (DuckDB SQL)." }),
      save_as: Schema.optional(
        Schema.String.annotate({ description: "Save the full result as a table handle with this name." })
      )
    }),
    handler: ({ query, save_as }, context) =>
      Effect.gen(function* () {
        const store = context.data
        yield* checkReadOnly(store, query)
        const result = yield* store.query(query, { maxRows: inlineRows })
        const shown = result.rowCount <= inlineRows ? inline(result) : undefined
        const fits = shown !== undefined && shown.length <= inlineChars
        if (fits && save_as === undefined) return shown
        const name = yield* store.saveQuery(save_as ?? nextResultName(yield* store.list), query)
        const handle = yield* store.get(name)
        const snapshot = JSON.stringify(handle === undefined ? { name } : Data.describe(handle))
        if (fits) return `${shown}\nSaved as table handle "${name}".`
        const why =
          result.rowCount > inlineRows
            ? `${result.rowCount} rows, more than ${inlineRows} to show here`
            : `${shown!.length} characters of JSON, more than ${inlineChars} to show here`
        return (
          `The result has ${why}, so it was saved as table handle "${name}". Query it with SQL ` +
          `(FROM ${name}) or use it in JavaScript (an array of records). Snapshot:\n${snapshot}`
        )
      })
  })
}

/**
 * The `sql` tool with the default limits (50 rows or 8,000 characters inline).
 * @since 0.1.0
 */
export const sql: Tool.Tool = make()
