/**
 * The `sql` tool: read-only SQL over the session's table handles, on the session's DuckDB
 * database.
 *
 * Every table handle (a put table, a file, a saved result) is a table of the same name; files are
 * read by DuckDB directly. Each query runs once, straight into a table in the session database
 * (DuckDB streams the rows there; only the first rows are read back): a small result comes back
 * inline, and a large one is kept as a new table handle (`query_1`, `query_2`, … or the `save_as`
 * name), of at most `maxResultRows` rows, and the model is told its name and snapshot, so the
 * transcript stays small however large the result. SQL errors come back as `is_error` results
 * carrying DuckDB's message.
 *
 * Two walls keep the model's SQL read-only. The database itself is locked down (extensions are
 * never installed or loaded, SQL cannot read files or URLs other than the put files, the
 * configuration is locked). And each call is checked with DuckDB's own parser: one SELECT-form
 * statement (`SELECT`, `WITH`, `FROM` first, `VALUES`, `DESCRIBE`, `SUMMARIZE`, `SHOW`, `PIVOT … IN
 * (…)`) whose table references are the session's handles or a few built-in table functions
 * (`range`, `generate_series`, `unnest`, `json_each`, the `duckdb_*` catalog). A refusal says what
 * was refused and why.
 *
 * A kept result's lineage (`Data.Store.lineage`) is the statement, the handles it read (the
 * versions the database held) and the `tool_use` id of the call. Each query has a time limit (default 30 s; loading the handles it names
 * does not count): past it DuckDB is interrupted and the model is told the limit.
 *
 * @example
 * ```ts
 * import { Agent, DataTools, Sql } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: [Sql.sql] })
 * const strict = yield* Agent.make({ dataTools: DataTools.make({ sql: { timeoutMs: 5_000, maxResultRows: 100_000 } }) })
 * ```
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import * as Data from "../data/Data.js"
import * as ReadOnly from "../data/duckdb/readOnly.js"
import { asSubquery, quoteString } from "../data/duckdb/sqlText.js"
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
  /**
   * Time limit of one call, in milliseconds (default 30,000), on Effect's `Clock`: past it DuckDB
   * is interrupted and the model gets an error result naming the limit.
   */
  readonly timeoutMs?: number | undefined
  /**
   * Most rows one result keeps (default 1,000,000): a larger result is cut to its first rows and
   * the model is told. Bytes are bounded by the database's memory limit and spill limit
   * (`Data.DatabaseLimits`).
   */
  readonly maxResultRows?: number | undefined
}

const DEFAULTS = { inlineRows: 50, inlineChars: 8_000, timeoutMs: 30_000, maxResultRows: 1_000_000 } as const

/** The options with defaults, or the first invalid one. */
const resolve = (options: Options): Required<{ [K in keyof Options]: number }> | InvalidOptions => {
  const out = { ...DEFAULTS } as { -readonly [K in keyof typeof DEFAULTS]: number }
  for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value: unknown = options[key]
    if (value === undefined) continue
    const min = key === "inlineRows" || key === "inlineChars" ? 0 : 1
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      return new InvalidOptions({
        option: `sql.${key}`,
        message: `sql.${key} is ${typeof value === "string" ? `"${value}"` : String(value)}; expected a number of at least ${min}.`
      })
    }
    out[key] = Math.floor(value)
  }
  return out
}

// the read-only check

/** What DuckDB's parser says about `sql` (run through the store's database, which only parses it). */
const parse = (store: Data.Store, sql: string) =>
  Effect.map(store.query(`SELECT json_serialize_sql(${quoteString(sql)}) AS ast`), (result) =>
    ReadOnly.readParsed(result.rows[0]?.ast)
  )

/**
 * Checks with DuckDB's parser that `sql`, in the subquery form it runs in, is one read-only
 * statement over handles; otherwise fails with what was refused and why.
 */
const checkReadOnly = (store: Data.Store, sql: string): Effect.Effect<void, Data.SqlError> =>
  Effect.gen(function* () {
    const wrapped = yield* parse(store, asSubquery(sql))
    if (wrapped !== undefined && !wrapped.error && wrapped.statements.length === 1) {
      const problem = ReadOnly.forbiddenReference(wrapped.statements)
      if (problem !== undefined) return yield* ReadOnly.refused(sql, problem)
      return
    }
    // it does not run as one subquery: say why, from what the parser makes of the statement itself
    const parsed = yield* parse(store, sql)
    if (parsed === undefined) return yield* ReadOnly.refused(sql, "DuckDB's parser could not read this statement.")
    if (!parsed.error) {
      return yield* ReadOnly.refused(
        sql,
        parsed.statements.length === 1
          ? "This statement cannot run as a subquery (SELECT * FROM (…)); write it as one plain SELECT."
          : `Send one statement per call (this has ${parsed.statements.length}).`
      )
    }
    if (parsed.error_type === "parser") {
      return yield* new Data.SqlError({
        message: ReadOnly.parserErrorMessage(sql, parsed.error_message ?? "syntax error", parsed.position),
        sql
      })
    }
    return yield* ReadOnly.refused(sql, ReadOnly.notSelectMessage(sql))
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

/** Why a kept result was not shown inline. */
const whyKept = (
  result: Data.SelectResult,
  shown: string | undefined,
  limits: { inlineRows: number; inlineChars: number; maxResultRows: number }
) => {
  if (result.cut) {
    return `The result has more than ${limits.maxResultRows} rows (the most the sql tool keeps), so its first ${result.rowCount} rows were saved`
  }
  if (result.rowCount > limits.inlineRows) {
    return `The result has ${result.rowCount} rows, more than ${limits.inlineRows} to show here, so it was saved`
  }
  return `The result has ${shown?.length ?? 0} characters of JSON, more than ${limits.inlineChars} to show here, so it was saved`
}

// constructors

/**
 * Builds the `sql` tool with other limits. An invalid option (a negative or non-numeric limit) is
 * recorded on the tool: `Tool.validate` reports it as `InvalidOptions`, and a call answers with it.
 * @since 0.1.0
 */
export const make = (options: Options = {}): Tool.Tool => {
  const resolved = resolve(options)
  const limits = resolved instanceof InvalidOptions ? DEFAULTS : resolved
  const timeout = Duration.millis(limits.timeoutMs)
  const tool = Tool.make("sql", {
    description:
      "Run one read-only SQL query (DuckDB dialect) over the session's data handles: every table handle " +
      "is a table of the same name (see list_variables). Results of up to " +
      `${limits.inlineRows} rows come back as JSON {rowCount, columns, types, rows}; larger results are saved as a ` +
      "new table handle (query_1, query_2, … or save_as) and you get its name and a snapshot: query it " +
      "further with SQL, or use it in JavaScript. Pass save_as to keep any result as a handle. " +
      "DuckDB extras: GROUP BY ALL, SUMMARIZE table, DESCRIBE table, QUALIFY, " +
      "PIVOT t ON col IN ('a', 'b') USING sum(x) (list the IN values). " +
      `Each query may run ${Duration.format(timeout)}; results keep at most ${limits.maxResultRows} rows.`,
    parameters: Schema.Struct({
      query: Schema.String.annotate({ description: "One SELECT statement (DuckDB SQL)." }),
      save_as: Schema.optional(
        Schema.String.annotate({ description: "Save the full result as a table handle with this name." })
      )
    }),
    handler: ({ query, save_as }, context) =>
      // the check also loads the handles the query names: that work is the user's data, not the
      // model's query, so it does not count against the limit (a large table would otherwise
      // never finish loading)
      Effect.andThen(
        checkReadOnly(context.data, query),
        limited(run(context.data, query, save_as, limits, context.toolUseId), timeout, query)
      )
  })
  return resolved instanceof InvalidOptions ? Tool.withInvalidOptions(tool, resolved) : tool
}

/** `effect` stopped at `timeout`: interrupting it interrupts DuckDB, and the model is told the limit. */
const limited = <A, E>(effect: Effect.Effect<A, E>, timeout: Duration.Duration, sql: string) =>
  effect.pipe(
    Effect.timeoutOption(timeout),
    Effect.flatMap(
      Option.match({
        onSome: (value) => Effect.succeed(value),
        onNone: () =>
          Effect.fail(
            new Data.SqlError({
              message:
                `The query ran longer than the sql tool's time limit of ${Duration.format(timeout)} and was ` +
                "stopped (DuckDB was interrupted). Make it cheaper (filter or aggregate first, add LIMIT), " +
                "or ask the user to raise the limit (DataTools.make({ sql: { timeoutMs } })).",
              sql
            })
          )
      })
    )
  )

/** One call after the check: the query run once into a table that is kept as a handle or dropped. */
const run = (
  store: Data.Store,
  query: string,
  saveAs: string | undefined,
  limits: { inlineRows: number; inlineChars: number; maxResultRows: number },
  toolUseId: string
) =>
  Effect.gen(function* () {
    const resultName = nextResultName(yield* store.list)
    let shown: string | undefined
    const result = yield* store.select(query, {
      previewRows: limits.inlineRows,
      maxRows: limits.maxResultRows,
      toolUseId,
      keepAs: (preview) => {
        shown = preview.rowCount <= limits.inlineRows && !preview.cut ? inline(preview) : undefined
        const fits = shown !== undefined && shown.length <= limits.inlineChars
        return fits && saveAs === undefined ? undefined : (saveAs ?? resultName)
      }
    })
    if (result.handle === undefined) return shown!
    const handle = yield* store.get(result.handle)
    const snapshot = JSON.stringify(handle === undefined ? { name: result.handle } : Data.describe(handle))
    if (shown !== undefined && shown.length <= limits.inlineChars) {
      return `${shown}\nSaved as table handle "${result.handle}".`
    }
    return (
      `${whyKept(result, shown, limits)} as table handle "${result.handle}". Query it with SQL ` +
      `(FROM ${result.handle}) or use it in JavaScript (an array of records). Snapshot:\n${snapshot}`
    )
  })

/**
 * The `sql` tool with the default limits (50 rows or 8,000 characters inline, 30 s per call,
 * 1,000,000 rows per result).
 * @since 0.1.0
 */
export const sql: Tool.Tool = make()
