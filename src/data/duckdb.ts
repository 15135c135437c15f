/**
 * One in-process DuckDB database per session, wrapped in Effect.
 *
 * `open(settings)` opens an in-memory DuckDB instance and one connection, locked down (extensions
 * neither installed nor loaded, no file or network access beyond the allowed paths, the
 * configuration locked, memory, threads and spill bounded), and closes both when its scope
 * closes. The `Database` it returns loads JS records and files, runs SQL, and hands results back
 * as JSON-safe JS values (see `duckdb/Database.ts`).
 *
 * Importing this module does not load DuckDB: its native binding (about 80 MB of resident memory)
 * is loaded with a dynamic `import()` when the first database opens.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as DuckDB from "./data/duckdb.js"
 *
 * const program = Effect.gen(function*() {
 *   const db = yield* DuckDB.open({ allowedPaths: ["/data/sales.csv"] })
 *   yield* db.registerFile("sales", "/data/sales.csv")
 *   return yield* db.query("SELECT region, sum(units * price) AS revenue FROM sales GROUP BY region")
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import type { Database } from "./duckdb/Database.js"
import { SqlError } from "./duckdb/errors.js"
import type { Settings } from "./duckdb/settings.js"

export type { Column, Database, QueryResult, Selection, TableInfo } from "./duckdb/Database.js"
export { DataLoadError, SqlError } from "./duckdb/errors.js"
export type { FileFormat } from "./duckdb/fileFormats.js"
export { openDatabases } from "./duckdb/openDatabases.js"
export type { Limits, Settings } from "./duckdb/settings.js"
export { quoteIdentifier, quoteString, stripTrailingSemicolons } from "./duckdb/sqlText.js"

type Native = typeof import("./duckdb/native/open.js")

let native: Promise<Native> | undefined

/** The implementation, loaded (with DuckDB's binding) on first use; a failed load is retried next time. */
const loadNative: Effect.Effect<Native, SqlError> = Effect.tryPromise({
  try: () => {
    native ??= import("./duckdb/native/open.js").catch((error: unknown) => {
      native = undefined
      throw error
    })
    return native
  },
  catch: (cause) =>
    new SqlError({
      message:
        `Could not load DuckDB's native binding (@duckdb/node-api): ${cause instanceof Error ? cause.message : String(cause)}. ` +
        "Check that @duckdb/node-api installed its binary for this platform (npm ci)."
    })
})

/**
 * Opens a locked-down in-memory database with `settings`; it closes when the scope closes.
 * @since 0.1.0
 */
export const open = (settings: Settings = {}): Effect.Effect<Database, SqlError, Scope.Scope> =>
  Effect.flatMap(loadNative, (module) => module.open(settings))

/**
 * A database with the default settings (no file access).
 * @since 0.1.0
 */
export const make: Effect.Effect<Database, SqlError, Scope.Scope> = open()
