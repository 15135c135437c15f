/**
 * The types of the handle store, re-exported by the public `Data` module.
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { DataError } from "../core/HarnessError.js"
import type { QueryResult, Selection } from "./duckdb/Database.js"
import type { SqlError } from "./duckdb/errors.js"
import type { FileFormat } from "./duckdb/fileFormats.js"
import type { Lineage, LineageChain } from "./lineage.js"

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
 * The file that holds a handle's rows when its value is not in memory: a handle restored from a
 * session store, or a saved result whose rows were stored.
 * @since 0.2.0
 */
export interface BackingFile {
  readonly path: string
  readonly format: FileFormat
}

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
  /**
   * How this version was made and everything it was made from: its own step first, then each
   * ancestor's step once (see `LineageChain`). Set on every handle a store holds; fixed when the
   * handle is made, so replacing an ancestor later does not change it.
   */
  readonly lineage?: LineageChain | undefined
}

/**
 * What made a value put with `put` or `putHandle`, for its lineage: by default, the user put it
 * (`kind: "put"`). A tool that computes a value from handles says so, and the value's lineage
 * reaches back through those handles.
 *
 * @example
 * ```ts
 * const sales = yield* store.get("sales")
 * yield* store.put("forecast", forecast(sales), {
 *   source: { kind: "forecast", code: "holt-winters, 12 months", inputs: [sales!] }
 * })
 * ```
 * @since 0.2.0
 */
export interface Source {
  /** What made it: `"javascript"`, or your tool's name (`"put"`, `"file"` and `"sql"` are the store's own). */
  readonly kind: string
  /** The code or parameters that made it. */
  readonly code?: string | undefined
  /**
   * The handles it was computed from: the `Handle`s read (the exact versions, even if they have
   * been replaced since), or names (the version there now). An unknown name is a `NotFound`.
   */
  readonly inputs?: ReadonlyArray<Handle | string> | undefined
  /** The `tool_use` that made it, when a tool did. */
  readonly toolUseId?: string | undefined
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
  /**
   * For `put` and `putHandle`: what made the value, recorded in its lineage (default: put by the
   * user). `putFile` and `saveQuery` record their own (the file; the statement and the handles it
   * read). A handle given to `putHandle` with a `lineage` and no `source` keeps its lineage.
   */
  readonly source?: Source | undefined
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
  /** The `tool_use` that ran the statement, recorded in a kept result's lineage. */
  readonly toolUseId?: string | undefined
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
   * How the handle of that name (compared ignoring case) was made, back to its sources: every step
   * (put, file, SQL statement, JavaScript code) with the versions it read and when, newest first.
   * Steps whose handle was replaced or removed since are still there, marked `superseded`. Fails
   * with a `DataError` `NotFound` for an unknown name.
   *
   * @example
   * ```ts
   * const { steps } = yield* store.lineage("revenue_by_region")
   * steps.map((step) => `${step.name} <- ${step.kind}`) // ["revenue_by_region <- sql", "sales <- put"]
   * ```
   */
  readonly lineage: (name: string) => Effect.Effect<Lineage, DataError>
  /**
   * The lineage of several handles at once, each step once: what an answer computed from those
   * handles came from. Fails with a `DataError` `NotFound` naming the first unknown name.
   */
  readonly lineageOf: (names: ReadonlyArray<string>) => Effect.Effect<Lineage, DataError>
  /**
   * Releases the session database and removes its data directory. Put values and files stay
   * (they are reloaded on next use, which opens a new database); saved query results, which lived
   * only in the database, are removed. The store stays usable.
   */
  readonly close: Effect.Effect<void>
}
