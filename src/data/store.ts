/**
 * The handle store: a session's handles by name, and its session database over them. Internal:
 * users make a store with `Data.makeStore` (scoped); the agent makes one per session.
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { Effect, Exit } from "effect"
import { DataError } from "../core/HarnessError.js"
import type { Limits } from "./duckdb/settings.js"
import * as DuckDB from "./duckdb.js"
import type { Handle, PutOptions, SelectOptions, Store } from "./model.js"
import { HandleIndex, normalizeName } from "./names.js"
import { findProblem } from "./plainData.js"
import { SessionDatabase } from "./sessionDatabase.js"
import { snapshotOf, tableSnapshot } from "./snapshots.js"

const DEFAULT_PREVIEW_ROWS = 50
const DEFAULT_MAX_RESULT_ROWS = 1_000_000

const unsupported = (name: string, message: string) =>
  new DataError({ reason: "UnsupportedValue", name, message: `Cannot put "${name}": ${message}` })

/** The `DataError` of a file that could not be put, with DuckDB's internal table name replaced. */
const fileError =
  (name: string, path: string, temp: string) =>
  (error: DuckDB.DataLoadError | DuckDB.SqlError): DataError => {
    const message = error.message
      .replaceAll(` (for table ${DuckDB.quoteIdentifier(temp)})`, "")
      .replaceAll(DuckDB.quoteIdentifier(temp), `"${name}"`)
    const reason =
      error._tag === "DataLoadError" && error.reason !== "InvalidValue" ? error.reason : ("ParseError" as const)
    return new DataError({
      reason,
      name,
      path,
      message:
        error._tag === "SqlError"
          ? `Cannot put "${name}": DuckDB could not read ${path}: ${message}. Fix the file or pass the right format.`
          : `Cannot put "${name}": ${message}`
    })
  }

/** A temp table's name in a DuckDB error, replaced by the name the user asked for. */
const renamed = (error: DuckDB.SqlError, temp: string, name: string) =>
  new DuckDB.SqlError({
    ...error,
    message: error.message.replaceAll(DuckDB.quoteIdentifier(temp), DuckDB.quoteIdentifier(name))
  })

/**
 * A store: the handle index and the session database, each operation a small function over them.
 * Operations are fields (not prototype methods), so `const { put } = store` works.
 */
class HandleStore implements Store {
  private readonly handles = new HandleIndex()
  private readonly database: SessionDatabase
  private temporary = 0

  constructor(limits: Limits | undefined) {
    this.database = new SessionDatabase(this.handles, limits)
  }

  /** Adds a handle under `base` or the first free `base_2`, … (or replacing, with `overwrite`). */
  private add(base: string, handle: Handle, options: PutOptions | undefined): string {
    const name = options?.overwrite ? base : this.handles.freeName(base)
    const description = options?.description ?? handle.description
    this.handles.set({ ...handle, name, ...(description !== undefined ? { description } : {}) })
    return name
  }

  private tempName(kind: "result" | "file"): string {
    return `__data_harness_${kind}_${++this.temporary}`
  }

  readonly putHandle: Store["putHandle"] = (handle, options) =>
    Effect.flatMap(normalizeName(handle.name), (base) => Effect.sync(() => this.add(base, handle, options)))

  readonly put: Store["put"] = (name, value, options) =>
    Effect.suspend(() => {
      const problem = findProblem(value)
      if (problem !== undefined) return Effect.fail(unsupported(name, problem))
      return this.putHandle({ name, value, snapshot: snapshotOf(value, options?.semantics) }, options)
    })

  readonly putFile: Store["putFile"] = (name, path, options) =>
    Effect.gen({ self: this }, function* () {
      yield* normalizeName(name)
      const absolute = NodePath.resolve(path)
      const temp = this.tempName("file")
      const info = yield* this.database
        .probe(absolute, (db) => Effect.andThen(db.registerFile(temp, absolute, options?.format), db.describe(temp)))
        .pipe(Effect.mapError(fileError(name, absolute, temp)))
      this.database.allow(absolute)
      const format = options?.format !== undefined ? { format: options.format } : {}
      const snapshot = tableSnapshot(info, options?.semantics)
      return yield* this.putHandle({ name, value: undefined, path: absolute, ...format, snapshot }, options)
    })

  readonly get: Store["get"] = (name) => Effect.sync(() => this.handles.get(name))

  readonly list: Store["list"] = Effect.sync(() => this.handles.list())

  readonly remove: Store["remove"] = (name) => Effect.sync(() => void this.handles.delete(name))

  readonly query: Store["query"] = (sql, options) => this.database.use(sql, (db) => db.query(sql, options))

  readonly select: Store["select"] = (sql, options?: SelectOptions) =>
    Effect.suspend(() => {
      const temp = this.tempName("result")
      const maxRows = options?.maxRows ?? DEFAULT_MAX_RESULT_ROWS
      const previewRows = options?.previewRows ?? DEFAULT_PREVIEW_ROWS
      return this.database.use(sql, (db) =>
        Effect.gen({ self: this }, function* () {
          const preview = yield* db.selectInto(temp, sql, { maxRows, previewRows })
          const name = options?.keepAs?.(preview)
          if (name === undefined) {
            yield* db.drop(temp)
            return preview
          }
          const info = yield* db.describe(temp)
          const handle: Handle = {
            name,
            value: undefined,
            query: DuckDB.stripTrailingSemicolons(sql),
            snapshot: tableSnapshot(info, options?.semantics),
            ...(preview.cut
              ? { description: `The first ${preview.rowCount} rows of the result; the rest was cut (maxRows).` }
              : {})
          }
          return { ...preview, handle: yield* this.keepTable(db, temp, handle, undefined) }
        }).pipe(Effect.onInterrupt(() => db.drop(temp)))
      )
    })

  readonly saveQuery: Store["saveQuery"] = (name, sql, options) =>
    Effect.andThen(
      normalizeName(name),
      Effect.suspend(() => {
        const temp = this.tempName("result")
        return this.database.use(sql, (db) =>
          Effect.gen({ self: this }, function* () {
            const info = yield* db.createTableAs(temp, sql).pipe(
              Effect.mapError((error) => renamed(error, temp, name)),
              Effect.onError(() => db.drop(temp))
            )
            const query = DuckDB.stripTrailingSemicolons(sql)
            const snapshot = tableSnapshot(info, options?.semantics)
            return yield* this.keepTable(db, temp, { name, value: undefined, query, snapshot }, options)
          })
        )
      })
    )

  readonly read: Store["read"] = (handle) =>
    handle.path === undefined && handle.query === undefined
      ? Effect.succeed(handle.value)
      : this.database.use(handle.name, (db) => db.readAll(handle.name))

  readonly close: Store["close"] = Effect.suspend(() =>
    Effect.andThen(
      this.database.close,
      Effect.sync(() => {
        for (const handle of this.handles.list()) if (handle.query !== undefined) this.handles.delete(handle.name)
      })
    )
  )

  /**
   * Makes temp table `temp` (just created in `db`) the table handle `handle`: the handle is
   * added, then the table renamed to the name it got; if renaming fails, the handle is removed
   * again and the table dropped.
   */
  private keepTable(
    db: DuckDB.Database,
    temp: string,
    handle: Handle,
    options: PutOptions | undefined
  ): Effect.Effect<string, DuckDB.SqlError | DataError> {
    return Effect.uninterruptible(
      Effect.gen({ self: this }, function* () {
        const final = yield* this.putHandle(handle, options)
        const kept = this.handles.get(final)!
        const exit = yield* Effect.exit(db.rename(temp, final))
        if (Exit.isFailure(exit)) {
          if (this.handles.get(final) === kept) this.handles.delete(final)
          yield* db.drop(temp)
          return yield* Effect.failCause(exit.cause)
        }
        this.database.tables.markLoaded(kept)
        return final
      })
    )
  }
}

/**
 * An empty handle store whose database opens on first need. Its `close` must run (the scoped
 * `Data.makeStore` does it): it releases the database and removes the data directory.
 * @internal
 */
export const makeStoreUnsafe = (limits?: Limits): Store => new HandleStore(limits)
