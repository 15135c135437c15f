/**
 * The errors of the DuckDB layer. Loaded without DuckDB's native binding, so every module may
 * name them.
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * DuckDB rejected a statement: bad SQL, a missing table, a failed cast, a refused read-only check
 * or a query stopped at its time limit. `message` is DuckDB's own message prefixed with what
 * failed; `sql` is the statement, when there was one.
 * @since 0.1.0
 */
export class SqlError extends Schema.TaggedError<SqlError>()("SqlError", {
  message: Schema.String,
  sql: Schema.optional(Schema.String)
}) {
  /** Never retryable: the same statement fails the same way. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Data could not be loaded into the database.
 *
 * - `FileNotFound`: the file (or glob) does not exist, is a directory, or cannot be opened.
 * - `UnsupportedFormat`: the format cannot be inferred from the extension; pass `format`.
 * - `ParseError`: DuckDB could not read the file as the format (its message is included).
 * - `InvalidValue`: a JS value or a table name cannot be stored (the row and column are named).
 * @since 0.1.0
 */
export class DataLoadError extends Schema.TaggedError<DataLoadError>()("DataLoadError", {
  reason: Schema.Literals(["FileNotFound", "UnsupportedFormat", "ParseError", "InvalidValue"]),
  message: Schema.String,
  path: Schema.optional(Schema.String)
}) {
  /** Never retryable: the data itself is the problem. */
  get isRetryable(): boolean {
    return false
  }
}
