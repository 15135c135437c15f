/**
 * The database of one store: opened on first need in the store's own data directory, locked down
 * to the files the store holds, reopened when a file is put that it may not read yet, and
 * released with the data directory by `close`.
 *
 * DuckDB's `allowed_paths` cannot change once external access is off and the configuration is
 * locked, so a database can read only the files it was opened with. A file put later is read by a
 * short-lived database of its own (`probe`, for the snapshot), and the session database is reopened
 * on its next use with every file allowed: put tables and files are reloaded as queries name them,
 * and saved results, whose rows live only in the database, are copied over chunk by chunk.
 * @since 0.1.0
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Effect, Exit, Scope, Semaphore } from "effect"
import { globDirectory, isGlob } from "./duckdb/fileFormats.js"
import { DatabaseLimits, type Limits, type Settings } from "./duckdb/settings.js"
import * as DuckDB from "./duckdb.js"
import type { BackingFile, Handle } from "./model.js"
import type { HandleIndex } from "./names.js"
import { TableSync } from "./tableSync.js"

/** Stands for the export directory in a list of allowed directories, until the data directory is made. */
const EXPORT = "\u0000export"

interface Opened {
  readonly db: DuckDB.Database
  readonly scope: Scope.Closeable
  /** The access version it was opened with. */
  readonly version: number
}

const dirError = (cause: unknown) =>
  new DuckDB.SqlError({
    message: `Could not make the session's data directory in ${Os.tmpdir()}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/**
 * The session database of one store. Every use holds one lock, so loading handles and the
 * statement using them never interleave.
 * @since 0.1.0
 */
export class SessionDatabase {
  private readonly lock = Semaphore.makeUnsafe(1)
  private opened: Opened | undefined
  /** The store's own directory (DuckDB's temp directories live in it), made on first need. */
  private directory: string | undefined
  private instances = 0
  private readonly paths = new Set<string>()
  private readonly directories = new Set<string>()
  /** Bumped whenever a path is allowed that the open database may not read. */
  private version = 0
  /** Whether the database may write Parquet files into `<directory>/export` (a session store). */
  private exporting = false
  private exported = 0
  readonly tables: TableSync

  constructor(
    handles: HandleIndex,
    private readonly limits: Limits | undefined,
    fileOf: (handle: Handle) => BackingFile | undefined
  ) {
    this.tables = new TableSync(handles, fileOf)
  }

  /**
   * Lets the session database read `path` (a file, or a glob's directory) from its next use on.
   * With `reopen: false` an open database is kept (it does not need the path now: a file that
   * backs a table it already holds); the next database opened may read it.
   */
  allow(path: string, options?: { readonly reopen?: boolean | undefined }): void {
    const [set, entry] = isGlob(path) ? [this.directories, globDirectory(path)] : [this.paths, path]
    if (set.has(entry)) return
    set.add(entry)
    if (options?.reopen !== false) this.version++
  }

  /** Lets the session database write Parquet files into a directory of its own (see {@link writeParquet}). */
  enableExport(): void {
    if (this.exporting) return
    this.exporting = true
    this.version++
  }

  /**
   * Writes the table of handle `name` (loaded first if it is not) to a new Parquet file in the
   * export directory; returns the file and the handle version it holds. Needs {@link enableExport}.
   */
  writeParquet(name: string): Effect.Effect<{ readonly file: string; readonly handle: Handle }, DuckDB.SqlError> {
    return this.use(name, (db) =>
      Effect.gen({ self: this }, function* () {
        const handle = this.tables.loadedHandle(name)
        if (handle === undefined) {
          return yield* Effect.fail(
            new DuckDB.SqlError({ message: `Handle "${name}" is not a table in the database.` })
          )
        }
        const file = NodePath.join(this.directory!, "export", `${++this.exported}-${Date.now()}.parquet`)
        yield* db.query(
          `COPY ${DuckDB.quoteIdentifier(handle.name)} TO ${DuckDB.quoteString(file)} (FORMAT parquet, COMPRESSION zstd)`
        )
        return { file, handle }
      })
    )
  }

  /**
   * Runs `f` on the session database, brought up to date for `sql` (the handles it names loaded,
   * removed ones dropped); DuckDB errors get why a named handle could not be loaded.
   */
  use<A, E>(
    sql: string,
    f: (db: DuckDB.Database) => Effect.Effect<A, E | DuckDB.SqlError>
  ): Effect.Effect<A, E | DuckDB.SqlError> {
    const explain = this.tables.explain(sql)
    return this.lock.withPermit(
      Effect.flatMap(this.current, (db) =>
        Effect.andThen(this.tables.sync(db, sql), f(db)).pipe(
          Effect.mapError((error) => (error instanceof DuckDB.SqlError ? explain(error) : error))
        )
      )
    )
  }

  /** Runs `f` on a database of its own that may read only `path`, closed when `f` ends. */
  probe<A, E>(path: string, f: (db: DuckDB.Database) => Effect.Effect<A, E>): Effect.Effect<A, E | DuckDB.SqlError> {
    const access = isGlob(path) ? { allowedDirectories: [globDirectory(path)] } : { allowedPaths: [path] }
    return Effect.scoped(
      Effect.flatMap(this.lock.withPermit(this.settings(access)), (settings) =>
        Effect.flatMap(DuckDB.open(settings), f)
      )
    )
  }

  /** Releases the database and removes the data directory; the next use opens a fresh one. */
  get close(): Effect.Effect<void> {
    return this.lock.withPermit(
      Effect.uninterruptible(
        Effect.gen({ self: this }, function* () {
          const opened = this.opened
          const directory = this.directory
          this.opened = undefined
          this.directory = undefined
          this.tables.clear()
          if (opened !== undefined) yield* Scope.close(opened.scope, Exit.void)
          if (directory !== undefined) {
            yield* Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
          }
        })
      )
    )
  }

  /** The open database, opened or reopened as needed (the caller holds the lock). */
  private get current(): Effect.Effect<DuckDB.Database, DuckDB.SqlError> {
    return Effect.suspend(() => {
      const opened = this.opened
      if (opened !== undefined && opened.version === this.version) return Effect.succeed(opened.db)
      return opened === undefined ? this.openSession : this.reopen(opened)
    })
  }

  private get openSession(): Effect.Effect<DuckDB.Database, DuckDB.SqlError> {
    return Effect.uninterruptible(
      Effect.map(this.openScoped, (opened) => {
        this.opened = opened
        return opened.db
      })
    )
  }

  /** Opens a database with every path allowed, copies the saved results into it, closes the old one. */
  private reopen(old: Opened): Effect.Effect<DuckDB.Database, DuckDB.SqlError> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen({ self: this }, function* () {
        const next = yield* this.openScoped
        const copied = yield* Effect.exit(restore(this.tables.moveSavedResults(old.db, next.db)))
        if (Exit.isFailure(copied)) {
          yield* Scope.close(next.scope, Exit.void)
          return yield* Effect.failCause(copied.cause)
        }
        this.opened = next
        yield* Scope.close(old.scope, Exit.void)
        return next.db
      })
    )
  }

  /** A database with the current access in a scope of its own, closed if opening fails. */
  private get openScoped(): Effect.Effect<Opened, DuckDB.SqlError> {
    return Effect.gen({ self: this }, function* () {
      const version = this.version
      const settings = yield* this.settings({
        allowedPaths: [...this.paths],
        allowedDirectories: this.exporting ? [...this.directories, EXPORT] : [...this.directories]
      })
      const scope = yield* Scope.make()
      const db = yield* DuckDB.open(settings).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      return { db, scope, version }
    })
  }

  /** Settings for a new database: the limits, a fresh temp directory inside the data directory, and `access`. */
  private settings(
    access: Pick<Settings, "allowedPaths" | "allowedDirectories">
  ): Effect.Effect<Settings, DuckDB.SqlError> {
    return Effect.gen({ self: this }, function* () {
      const limits = this.limits ?? (yield* DatabaseLimits)
      if (this.directory === undefined) {
        this.directory = yield* Effect.tryPromise({
          try: () => Fs.mkdtemp(NodePath.join(Os.tmpdir(), "data-harness-")).then((dir) => Fs.realpath(dir)),
          catch: dirError
        })
      }
      const directory = this.directory
      const tempDirectory = NodePath.join(directory, `duckdb-${++this.instances}`)
      yield* Effect.tryPromise({ try: () => Fs.mkdir(tempDirectory), catch: dirError })
      const exportDirectory = NodePath.join(directory, "export")
      const exporting = access.allowedDirectories?.includes(EXPORT) === true
      if (exporting)
        yield* Effect.tryPromise({ try: () => Fs.mkdir(exportDirectory, { recursive: true }), catch: dirError })
      const allowedDirectories = access.allowedDirectories?.map((entry) => (entry === EXPORT ? exportDirectory : entry))
      return {
        ...limits,
        ...access,
        ...(allowedDirectories !== undefined ? { allowedDirectories } : {}),
        tempDirectory
      }
    })
  }
}
