/**
 * The types of the handle store, re-exported by the public `Data` module.
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { DataError } from "../core/HarnessError.js"
import type { QueryResult, Selection } from "./duckdb/Database.js"
import type { SqlError } from "./duckdb/errors.js"
import type { FileFormat } from "./duckdb/fileFormats.js"

/**
 * A column of a table snapshot.
 * @since 0.1.0
 */
export interface Column {
  readonly name: string
  readonly type: string
  readonly description?: string | undefined
}

/**
 * What the model sees of a handle.
 * @since 0.1.0
 */
export type Snapshot =
  | {
      readonly kind: "table"
      readonly rows: number
      readonly columns: ReadonlyArray<Column>
      readonly sample: ReadonlyArray<Readonly<Record<string, unknown>>>
    }
  | { readonly kind: "array"; readonly length: number; readonly sample: ReadonlyArray<unknown> }
  | { readonly kind: "object"; readonly keys: ReadonlyArray<string>; readonly preview: unknown }
  | { readonly kind: "scalar"; readonly type: string; readonly value: unknown }

/**
 * A stored value.
 *
 * For a value put with `put`, `value` holds it. For a file, `value` is `undefined` and `path` is
 * the file's absolute path; for a saved query result, `value` is `undefined` and `query` is the
 * SQL that made it (its rows live in the session database). {@link Store.read} gives the data of
 * any handle.
 * @since 0.1.0
 */
export interface Handle {
  readonly name: string
  readonly value: unknown
  readonly snapshot: Snapshot
  readonly description?: string | undefined
  /** Where the value came from, when it is a file (an absolute path, or a glob). */
  readonly path?: string | undefined
  /** The file's format, when it was given rather than inferred from the extension. */
  readonly format?: FileFormat | undefined
  /** The SQL that produced it, when it is a saved query result. */
  readonly query?: string | undefined
}

/**
 * Options of `put`.
 * @since 0.1.0
 */
export interface PutOptions {
  /** Replace an existing handle of that name instead of choosing `name_2`. */
  readonly overwrite?: boolean | undefined
  /** What the value is, shown to the model. */
  readonly description?: string | undefined
  /** What each column means, shown to the model in the table snapshot. */
  readonly semantics?: Readonly<Record<string, string>> | undefined
}

/**
 * Options of `putFile`.
 * @since 0.1.0
 */
export interface PutFileOptions extends PutOptions {
  /** The file's format, when its extension does not say (`.csv`, `.tsv`, `.parquet`, `.json`, `.jsonl`, `.ndjson`). */
  readonly format?: FileFormat | undefined
}

/**
 * Options of {@link Store.select}.
 * @since 0.1.0
 */
export interface SelectOptions {
  /** Rows read back into JS for the preview (default 50). */
  readonly previewRows?: number | undefined
  /** Most rows one result keeps (default 1,000,000); a larger result is cut to its first rows. */
  readonly maxRows?: number | undefined
  /**
   * Whether to keep the result as a table handle, decided from its preview: the name to keep it
   * under (a free name is chosen like `put`), or `undefined` to drop it. Default: drop.
   */
  readonly keepAs?: ((preview: Selection) => string | undefined) | undefined
  /** What each column means, for the snapshot of a kept result. */
  readonly semantics?: Readonly<Record<string, string>> | undefined
}

/**
 * What {@link Store.select} returns: the preview, and the handle name when the result was kept.
 * @since 0.1.0
 */
export interface SelectResult extends Selection {
  readonly handle?: string | undefined
}

/**
 * The handles of one session, and the session's SQL database over them.
 * @since 0.1.0
 */
export interface Store {
  /** Stores a value; returns the handle name it got. */
  readonly put: (name: string, value: unknown, options?: PutOptions) => Effect.Effect<string, DataError>
  /** Stores a handle built elsewhere, choosing a free name like `put`; returns the name it got. */
  readonly putHandle: (handle: Handle, options?: PutOptions) => Effect.Effect<string, DataError>
  /**
   * Stores a file (CSV/TSV, Parquet, JSON/JSONL) by path; returns the handle name it got. DuckDB
   * reads the file once for the snapshot; the data stays in the file. Fails with a `DataError`
   * (`FileNotFound`, `UnsupportedFormat`, `ParseError`) naming the problem.
   */
  readonly putFile: (name: string, path: string, options?: PutFileOptions) => Effect.Effect<string, DataError>
  /** The handle of that name, compared ignoring case (as SQL does). */
  readonly get: (name: string) => Effect.Effect<Handle | undefined>
  /** Every handle, in the order they were put. */
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
  /** Removes the handle of that name, compared ignoring case; does nothing if there is none. */
  readonly remove: (name: string) => Effect.Effect<void>
  /**
   * Runs SQL on the session database, where every table handle (put tables, files, saved
   * results) is a table of the same name. Returns at most `maxRows` rows (default 10,000).
   * This is for trusted code: any statement runs. Model-written SQL goes through the `sql` tool,
   * which allows only read-only queries over handles.
   */
  readonly query: (
    sql: string,
    options?: { readonly maxRows?: number | undefined }
  ) => Effect.Effect<QueryResult, SqlError>
  /**
   * Runs one SELECT-form statement once, straight into a table in the session database (as
   * `SELECT * FROM (sql)`, so anything else is refused by DuckDB's parser), keeping at most
   * `maxRows` rows: only the preview is read into JS. `keepAs` decides, from the preview, whether
   * the result becomes a table handle or is dropped. This is what the `sql` tool runs.
   */
  readonly select: (sql: string, options?: SelectOptions) => Effect.Effect<SelectResult, SqlError | DataError>
  /**
   * Materialises the full result of a `SELECT` as a new table handle in the session database (a
   * free name like `put`, or replacing with `overwrite`); returns the handle name it got.
   */
  readonly saveQuery: (name: string, sql: string, options?: PutOptions) => Effect.Effect<string, SqlError | DataError>
  /**
   * The data of a handle as plain JS values: `value` for put values; all rows (JSON-safe records)
   * for files and saved results, read by DuckDB.
   */
  readonly read: (handle: Handle) => Effect.Effect<unknown, SqlError>
  /**
   * Releases the session database and removes its data directory. Put values and files stay
   * (they are reloaded on next use, which opens a new database); saved query results, which lived
   * only in the database, are removed. The store stays usable.
   */
  readonly close: Effect.Effect<void>
}
