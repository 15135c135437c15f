/**
 * The shape of one in-process DuckDB database, as the rest of the harness sees it. This module
 * holds types only: the implementation (`native/`) loads DuckDB's native binding, and is itself
 * loaded with a dynamic `import()` when the first database opens.
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { DataLoadError, SqlError } from "./errors.js"
import type { FileFormat } from "./fileFormats.js"

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
 * A result kept in a table by `selectInto`: its first rows, and `cut` when the query produced
 * more than the row bound and the table holds only the first `rowCount` rows.
 * @since 0.1.0
 */
export interface Selection extends QueryResult {
  readonly cut: boolean
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
 * A DuckDB database. Table names are always quoted, so any non-empty string is a valid name;
 * DuckDB compares names case-insensitively (`Sales` and `sales` are the same table).
 *
 * Values come back JSON-safe: BIGINT/HUGEINT as numbers when they are safe integers (strings
 * otherwise), DECIMAL as numbers, DATE as `YYYY-MM-DD`, TIMESTAMP as ISO-8601 in UTC, LIST/STRUCT
 * as arrays/objects, JSON parsed, BLOB as base64, NaN/Infinity as strings.
 *
 * Every operation holds the database's one-permit lock, so operations from concurrent fibers
 * never interleave; interrupting a fiber interrupts its running statement and waits for DuckDB to
 * stop before the next operation starts.
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
   * given. Globs (`data/*.csv`) are passed to DuckDB as they are. The database must have been
   * opened with the path (or its directory) allowed.
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
   * then describes it.
   */
  readonly createTableAs: (name: string, sql: string) => Effect.Effect<TableInfo, SqlError>
  /**
   * Runs one SELECT-form statement once, as `SELECT * FROM (sql)`, straight into a new table
   * `name` (DuckDB streams it there; nothing but the preview enters JS), keeping at most `maxRows`
   * rows. Returns the first `previewRows` rows, the kept row count, and whether rows were cut.
   */
  readonly selectInto: (
    name: string,
    sql: string,
    options: { readonly maxRows: number; readonly previewRows: number }
  ) => Effect.Effect<Selection, SqlError>
  /** Row count, columns and the first `sampleSize` rows (default 5) of a table or view. */
  readonly describe: (name: string, sampleSize?: number) => Effect.Effect<TableInfo, SqlError>
  /** All rows of a table or view as JS records (to hand a file-backed table to JS code). */
  readonly readAll: (name: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /** Drops table or view `name`; does nothing if there is none. */
  readonly drop: (name: string) => Effect.Effect<void>
  /** Renames table `from` to `to`, replacing any table or view already named `to`. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, SqlError>
  /**
   * Copies table `name` into `target` (another database from this module), replacing a table of
   * that name there: chunk by chunk through DuckDB's appender, never as JS values.
   */
  readonly copyTo: (name: string, target: Database) => Effect.Effect<void, SqlError>
}
