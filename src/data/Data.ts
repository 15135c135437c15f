/**
 * Data handles: values put into a session under a name, and the small JSON snapshots of them
 * that the model sees instead of the data.
 *
 * A handle name is a valid identifier (usable in SQL and JavaScript): other characters become
 * `_`, and a name that is taken becomes `name_2`, `name_3`, … unless `overwrite` is set. Names
 * are compared case-insensitively everywhere (`Sales` and `sales` would be the same SQL table),
 * so `Sales` next to `sales` becomes `Sales_2`, and `get("SALES")` finds `sales`.
 *
 * What a store holds:
 * - **Values** (`put`): tables (arrays of records), arrays, plain objects and scalars. Tables get a
 *   snapshot with row count, columns with types (and descriptions, when given as `semantics`) and
 *   5 sample rows; arrays, objects and scalars get their own small snapshots. Values in snapshots
 *   are JSON as SQL and JavaScript see them (a bigint is a number when it is a safe integer, else
 *   its decimal string). `put` is cheap (O(1) amortised, however many handles there are): it never
 *   touches the database.
 * - **Files** (`putFile`): CSV/TSV, Parquet and JSON/JSONL by path (or a glob). DuckDB reads the
 *   file to build the snapshot (row count, columns with DuckDB types, 5 sample rows); the data
 *   stays in the file and SQL reads it directly.
 * - **Query results** (`select`, `saveQuery`): tables that live in the session database, made by
 *   the `sql` tool when a result is too big to show.
 *
 * **The session database.** Each store owns one in-process DuckDB database, opened on first need
 * (the first `query`, `select`, `saveQuery` or `read` of a file), in a data directory of the
 * store's own (a temp directory, DuckDB's spill space) made on first need. It is locked down:
 * extensions are never installed or loaded, SQL cannot read files or URLs other than the files put
 * with `putFile`, and the configuration is locked (`SET` fails); memory, threads and spill are
 * bounded by {@link DatabaseLimits}. Table handles are loaded into it lazily: a query loads the
 * table handles it mentions that are not loaded yet (or changed since), so `put` of a large table
 * costs nothing until SQL uses it.
 *
 * **Lifecycle.** {@link makeStore} is scoped: when its scope closes (on success, failure or
 * interruption) the database is closed and the data directory removed; nothing waits for garbage
 * collection. {@link openDatabases} counts the databases open in the process.
 *
 * **Lineage.** Every handle records how it was made ({@link LineageStep}): put by the user, a
 * file (its path and format), or the SQL statement (`select`, `saveQuery`, the `sql` tool) or
 * JavaScript code (the `javascript` tool's `save`) that made it, with the exact versions of the
 * handles it read (for SQL, the tables DuckDB's parser finds in the statement; CTE names are not
 * handles) and when (Effect's `Clock`). A handle carries its whole chain, fixed when it is made:
 * replacing or removing an ancestor later changes nothing in it, and `lineage(name)` marks that
 * ancestor's step `superseded`. `lineage(name)` returns the chain back to the sources;
 * `lineageOf(names)` the chains of several handles merged (what an answer came from).
 *
 * Values that cannot be stored (functions, symbols, cycles, class instances), a missing file, a
 * directory, a file of unknown format and a file DuckDB cannot parse are a `DataError` that names
 * the problem, and the store is unchanged.
 *
 * @example
 * ```ts
 * const handle = yield* session.put("sales", [{ region: "EU", revenue: 120 }])
 * // handle === "sales"; the model sees { kind: "table", rows: 1, columns: [...], sample: [...] }
 * const orders = yield* session.putFile("orders", "data/orders.parquet")
 * const result = yield* session.data.query("SELECT count(*) AS n FROM orders")
 * const { steps } = yield* session.data.lineage("orders") // [{ kind: "file", path: ".../orders.parquet", ... }]
 * ```
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import type { Store } from "./model.js"
import { makeStoreUnsafe as makeStoreUnsafeInternal } from "./store.js"

export type { QueryResult, Selection } from "./duckdb/Database.js"
export {
  /**
   * DuckDB rejected a statement (bad SQL, a missing table or column, a failed cast, a refused
   * statement, a time limit); `message` is DuckDB's own message.
   * @since 0.1.0
   */
  SqlError
} from "./duckdb/errors.js"
export type { FileFormat } from "./duckdb/fileFormats.js"
export { openDatabases } from "./duckdb/openDatabases.js"
export { DatabaseLimits, type Limits } from "./duckdb/settings.js"
export { HandleVersion, Lineage, LineageChain, LineageEntry, LineageStep } from "./lineage.js"
export type {
  Column,
  Handle,
  PutFileOptions,
  PutOptions,
  SelectOptions,
  SelectResult,
  Snapshot,
  Source,
  Store
} from "./model.js"
export { describe } from "./snapshots.js"

/**
 * An empty handle store with its own database (opened on first need, with the
 * {@link DatabaseLimits} of the context it opens in), released when the scope closes: the database
 * is closed and the store's data directory removed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "data-harness"
 * const total = yield* Effect.scoped(Effect.gen(function*() {
 *   const store = yield* Data.makeStore
 *   yield* store.put("t", [{ a: 1 }, { a: 2 }])
 *   return (yield* store.query("SELECT sum(a) AS total FROM t")).rows[0]
 * }))
 * ```
 * @since 0.1.0
 */
export const makeStore: Effect.Effect<Store, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => makeStoreUnsafeInternal()),
  (store) => store.close
)
