/**
 * The read-only check of model-written SQL: the second wall behind the locked-down database.
 *
 * A statement may run when DuckDB's own parser (`json_serialize_sql`) reads `SELECT * FROM
 * (<statement>)` (the form it runs in) as exactly one SELECT whose table references are all
 * handle-like names in the session database or a few built-in table functions that read no
 * files. Anything else is refused with a message that says what was refused and why.
 * @since 0.1.0
 */
import { Option, Schema } from "effect"
import { SqlError } from "./errors.js"

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

/** Statements that write data, change the catalog or the settings, or reach outside the database. */
const CHANGING = new Set(
  (
    "insert update delete create drop alter copy attach detach set reset install load pragma call checkpoint " +
    "force vacuum export import use begin start commit rollback abort truncate merge comment prepare execute " +
    "deallocate analyze"
  ).split(" ")
)

/**
 * Appended to every refusal.
 * @since 0.1.0
 */
export const READ_ONLY_HINT =
  "The sql tool runs one read-only query per call: SELECT (also WITH, FROM-first, VALUES, DESCRIBE, SUMMARIZE, " +
  "SHOW, and PIVOT with an IN list) over the session's handles. To keep a result as a new handle, pass save_as."

/**
 * A refused statement, with what was refused and why.
 * @since 0.1.0
 */
export const refused = (sql: string, message: string): SqlError =>
  new SqlError({ message: `${message}\n${READ_ONLY_HINT}`, sql })

const Parsed = Schema.Union([
  Schema.Struct({ error: Schema.Literal(false), statements: Schema.Array(Schema.Unknown) }),
  Schema.Struct({
    error: Schema.Literal(true),
    error_type: Schema.optional(Schema.String),
    error_message: Schema.optional(Schema.String),
    position: Schema.optional(Schema.String)
  })
])

/**
 * What `json_serialize_sql` said about a statement.
 * @since 0.1.0
 */
export type Parsed = typeof Parsed.Type

const decodeParsed = Schema.decodeUnknownOption(Schema.fromJsonString(Parsed))

/**
 * Reads the JSON text `json_serialize_sql` returned; `undefined` if it is not what DuckDB returns.
 * @since 0.1.0
 */
export const readParsed = (text: unknown): Parsed | undefined =>
  Option.getOrUndefined(decodeParsed(typeof text === "string" ? text : JSON.stringify(text)))

/** Why a table reference is not allowed, or `undefined` when it is. */
const referenceProblem = (record: Record<string, unknown>): string | undefined => {
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
  return undefined
}

/**
 * The first table reference in a parsed statement that is neither a handle-like table nor an
 * allowed function, as a message; it sees references in subqueries and CTEs too.
 * @since 0.1.0
 */
export const forbiddenReference = (node: unknown): string | undefined => {
  if (typeof node !== "object" || node === null) return undefined
  if (Array.isArray(node)) {
    for (const child of node) {
      const found = forbiddenReference(child)
      if (found !== undefined) return found
    }
    return undefined
  }
  const record = node as Record<string, unknown>
  const problem = referenceProblem(record)
  if (problem !== undefined) return problem
  for (const value of Object.values(record)) {
    const found = forbiddenReference(value)
    if (found !== undefined) return found
  }
  return undefined
}

/** `sql` with string literals, quoted identifiers and comments blanked out, keeping positions. */
const blankLiterals = (sql: string): string =>
  sql.replace(/'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/g, (match) => " ".repeat(match.length))

/**
 * The first word of each statement of `sql` (lower-cased): `SELECT 1; DROP TABLE t` → `select`,
 * `drop`.
 * @since 0.1.0
 */
export const statementKeywords = (sql: string): ReadonlyArray<string> =>
  blankLiterals(sql)
    .split(";")
    .map((statement) => /[A-Za-z_]+/.exec(statement)?.[0]?.toLowerCase())
    .filter((keyword): keyword is string => keyword !== undefined)

/**
 * Why a statement the parser would not serialise as a SELECT is refused: the first statement
 * that changes something, a PIVOT without an IN list, or another statement kind.
 * @since 0.1.0
 */
export const notSelectMessage = (sql: string): string => {
  const keywords = statementKeywords(sql)
  const changing = keywords.find((keyword) => CHANGING.has(keyword))
  if (changing !== undefined) {
    return (
      `${changing.toUpperCase()} statements are refused: this one would change the database or its settings ` +
      "(or reach outside it), and the sql tool only reads."
    )
  }
  if (/\bpivot(_wider)?\b/i.test(blankLiterals(sql))) {
    return (
      "PIVOT without an IN list is refused: DuckDB runs it as several statements (it first creates a type from " +
      "the pivoted column's values), which would change the database and cannot be checked as read-only. " +
      "List the values instead, e.g. PIVOT t ON region IN ('EU', 'US') USING sum(amount) " +
      "(find them with SELECT DISTINCT region FROM t)."
    )
  }
  const first = keywords.find((keyword) => !["select", "with", "from", "values"].includes(keyword)) ?? keywords[0]
  return `${(first ?? "this").toUpperCase()} statements are refused: the sql tool runs only read-only SELECT-form queries.`
}

/**
 * DuckDB's parser error for `sql`, with the line and a caret at `position` as DuckDB shows them.
 * @since 0.1.0
 */
export const parserErrorMessage = (sql: string, message: string, position: string | undefined): string => {
  const at = Number(position)
  if (!Number.isSafeInteger(at) || at < 0 || at > sql.length) return `SQL error: Parser Error: ${message}`
  const lineStart = sql.lastIndexOf("\n", at - 1) + 1
  const lineEnd = sql.indexOf("\n", at)
  const lineNumber = sql.slice(0, lineStart).split("\n").length
  const prefix = `LINE ${lineNumber}: `
  const line = sql.slice(lineStart, lineEnd === -1 ? undefined : lineEnd)
  return `SQL error: Parser Error: ${message}\n\n${prefix}${line}\n${" ".repeat(prefix.length + at - lineStart)}^`
}
