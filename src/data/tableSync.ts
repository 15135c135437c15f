/**
 * What the session database holds of the store's handles: table handles are loaded lazily, when
 * a statement names them, and dropped when their handle was removed or replaced.
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as DuckDB from "./duckdb.js"
import type { BackingFile, Handle } from "./model.js"
import type { HandleIndex } from "./names.js"
import { isSqlTable, isTable } from "./snapshots.js"

/** Whether `sql` (lower-cased) mentions the identifier `name` (lower-cased) as a whole word. */
export const mentions = (sql: string, name: string): boolean => {
  let from = 0
  for (;;) {
    const at = sql.indexOf(name, from)
    if (at === -1) return false
    const before = at === 0 ? "" : sql[at - 1]!
    const after = sql[at + name.length] ?? ""
    if (!/[a-z0-9_$]/.test(before) && !/[a-z0-9_$]/.test(after)) return true
    from = at + 1
  }
}

const errorText = (error: { readonly message: string }): string => error.message

/**
 * The tables of one session database and the handles they were loaded from.
 * @since 0.1.0
 */
export class TableSync {
  /** What the database holds under each lower-cased name: the handle it was loaded from. */
  private readonly loaded = new Map<string, Handle>()
  /** Handles that could not be loaded into the database, with DuckDB's reason. */
  private readonly failed = new Map<string, { readonly handle: Handle; readonly message: string }>()

  constructor(
    private readonly handles: HandleIndex,
    private readonly fileOf: (handle: Handle) => BackingFile | undefined
  ) {}

  /** Records that table `handle.name` holds `handle` (a result just saved). */
  markLoaded(handle: Handle): void {
    const key = handle.name.toLowerCase()
    this.loaded.set(key, handle)
    this.failed.delete(key)
  }

  /**
   * The handle whose data table `name` holds (ignoring case): the version a statement reads, even
   * when the handle was replaced after it was loaded.
   */
  loadedHandle(name: string): Handle | undefined {
    return this.loaded.get(name.toLowerCase())
  }

  /** Forgets every table (the database is gone). */
  clear(): void {
    this.loaded.clear()
    this.failed.clear()
  }

  /**
   * Brings the database up to date for a statement: drops tables of removed or replaced handles,
   * and loads the table handles `sql` mentions that are not loaded yet.
   */
  sync(db: DuckDB.Database, sql: string): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      for (const [key, handle] of this.loaded) {
        const current = this.handles.get(key)
        if (current === handle || (current !== undefined && isSqlTable(current))) continue
        yield* db.drop(handle.name)
        this.loaded.delete(key)
      }
      const text = sql.toLowerCase()
      for (const handle of this.handles.values()) {
        const key = handle.name.toLowerCase()
        if (!isSqlTable(handle) || this.loaded.get(key) === handle || this.failed.get(key)?.handle === handle) continue
        if (!mentions(text, key)) continue
        yield* Effect.match(load(db, handle, this.fileOf(handle)), {
          onFailure: (error) => void this.failed.set(key, { handle, message: errorText(error) }),
          onSuccess: () => this.markLoaded(handle)
        })
      }
    })
  }

  /** Adds why mentioned handles are missing to a failed statement's message. */
  explain(sql: string): (error: DuckDB.SqlError) => DuckDB.SqlError {
    return (error) => {
      const text = sql.toLowerCase()
      const notes = [...this.failed]
        .filter(([key]) => mentions(text, key))
        .map(([, { handle, message }]) => `\nHandle "${handle.name}" could not be loaded into SQL: ${message}`)
      return notes.length === 0 ? error : new DuckDB.SqlError({ ...error, message: error.message + notes.join("") })
    }
  }

  /**
   * Copies the saved results (tables whose rows live only in the database) from `from` into
   * `to`, and forgets the rest: put tables and files are reloaded into `to` as statements name them.
   */
  moveSavedResults(from: DuckDB.Database, to: DuckDB.Database): Effect.Effect<void, DuckDB.SqlError> {
    return Effect.gen({ self: this }, function* () {
      const saved = [...this.loaded.values()].filter(
        (handle) => handle.query !== undefined && this.handles.get(handle.name) === handle
      )
      for (const handle of saved) yield* from.copyTo(handle.name, to)
      this.clear()
      for (const handle of saved) this.markLoaded(handle)
    })
  }
}

/** Loads one table handle: a file (or the file that backs it) as a view, a put table through the appender. */
const load = (
  db: DuckDB.Database,
  handle: Handle,
  backing: BackingFile | undefined
): Effect.Effect<void, { readonly message: string }> => {
  if (handle.path !== undefined) return db.registerFile(handle.name, handle.path, handle.format)
  if (backing !== undefined) return db.registerFile(handle.name, backing.path, backing.format)
  if (handle.query !== undefined) {
    return Effect.fail({
      message: `its rows are gone (the session database was closed); run the query again: ${handle.query}`
    })
  }
  return isTable(handle.value) ? db.registerRows(handle.name, handle.value) : Effect.void
}
