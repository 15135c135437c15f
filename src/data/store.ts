/**
 * The handle store: a session's handles by name, and its session database over them. Internal:
 * users make a store with `Data.makeStore` (scoped); the agent makes one per session.
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import { Clock, Effect, Exit } from "effect"
import type { DataError } from "../core/HarnessError.js"
import type { Limits } from "./duckdb/settings.js"
import * as DuckDB from "./duckdb.js"
import { chainOf } from "./lineage.js"
import type { BackingFile, Handle, PutOptions, SelectOptions, Store } from "./model.js"
import { HandleIndex, normalizeName } from "./names.js"
import { findProblem } from "./plainData.js"
import { handlesReadBy, lineageOf, originOf } from "./provenance.js"
import { SessionDatabase } from "./sessionDatabase.js"
import { snapshotOf, tableSnapshot } from "./snapshots.js"
import { fileError, renamed, unsupported } from "./storeErrors.js"
import { type Origin, PUT_BY_USER, stepOf, storedHandle } from "./versions.js"

const DEFAULT_PREVIEW_ROWS = 50
const DEFAULT_MAX_RESULT_ROWS = 1_000_000

/**
 * A store: the handle index and the session database, each operation a small function over them.
 * Operations are fields (not prototype methods), so `const { put } = store` works.
 */
class HandleStore implements PersistentStore {
  private readonly handles = new HandleIndex()
  private readonly database: SessionDatabase
  /** The files that hold the rows of handles whose value is not in memory (restored or stored). */
  private readonly files = new WeakMap<Handle, BackingFile>()
  private temporary = 0
  /**
   * Version ids are this store's random prefix and a counter: unique among the ids of other
   * stores too (a restored or forked session keeps its handles' ids), and short (a UUID string
   * costs ~500 bytes of heap per handle, this ~70).
   */
  private readonly idPrefix = randomBytes(6).toString("hex")
  private versions = 0

  constructor(limits: Limits | undefined) {
    this.database = new SessionDatabase(this.handles, limits, (handle) => this.files.get(handle))
  }

  // persistence (a session store): see `persistence.ts`

  enablePersistence(): void {
    this.handles.trackChanges()
    this.database.enableExport()
  }

  drainChanges(): ReadonlyArray<string> {
    return this.handles.drainChanges()
  }

  markChanged(keys: Iterable<string>): void {
    this.handles.markChanged(keys)
  }

  current(name: string): Handle | undefined {
    return this.handles.get(name)
  }

  writeParquet(name: string): Effect.Effect<{ readonly file: string; readonly handle: Handle }, DuckDB.SqlError> {
    return this.database.writeParquet(name)
  }

  back(handle: Handle, file: BackingFile): void {
    this.files.set(handle, file)
    this.database.allow(file.path, { reopen: false })
  }

  restore(handle: Handle, file: BackingFile | undefined): Handle {
    const stored = storedHandle(handle, handle.name, handle.description, handle.lineage)
    this.handles.set(stored)
    if (stored.path !== undefined) this.database.allow(stored.path, { reopen: false })
    if (file !== undefined) this.back(stored, file)
    return stored
  }

  /**
   * Adds a handle under `base` or the first free `base_2`, … (or replacing, with `overwrite`),
   * with the lineage of `origin` made at `now`; without an origin, the handle keeps its lineage.
   */
  private add(base: string, handle: Handle, options: PutOptions | undefined, origin: Origin | undefined, now: number) {
    const name = options?.overwrite ? base : this.handles.freeName(base)
    const description = options?.description ?? handle.description
    const lineage =
      origin === undefined
        ? handle.lineage
        : chainOf(
            stepOf(`${this.idPrefix}.${++this.versions}`, name, origin, now),
            origin.inputs.map((input) => input.lineage ?? [])
          )
    this.handles.set(storedHandle(handle, name, description, lineage))
    return name
  }

  /** Stores `handle` under its name (normalised, free unless `overwrite`) with the lineage of `origin`. */
  private store(
    handle: Handle,
    options: PutOptions | undefined,
    origin: Origin | undefined
  ): Effect.Effect<string, DataError> {
    return Effect.flatMap(normalizeName(handle.name), (base) =>
      Effect.map(Clock.currentTimeMillis, (now) => this.add(base, handle, options, origin, now))
    )
  }

  private tempName(kind: "result" | "file"): string {
    return `__data_harness_${kind}_${++this.temporary}`
  }

  readonly putHandle: Store["putHandle"] = (handle, options) =>
    options?.source !== undefined
      ? Effect.flatMap(originOf(this.handles, options.source), (origin) => this.store(handle, options, origin))
      : this.store(
          handle,
          options,
          handle.lineage === undefined || handle.lineage.length === 0 ? PUT_BY_USER : undefined
        )

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
      const origin: Origin = { kind: "file", path: absolute, ...format, inputs: [] }
      return yield* this.store({ name, value: undefined, path: absolute, ...format, snapshot }, options, origin)
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
          const query = DuckDB.stripTrailingSemicolons(sql)
          const origin: Origin = {
            kind: "sql",
            code: query,
            inputs: yield* handlesReadBy(db, sql, this.handles, this.database.tables),
            ...(options?.toolUseId !== undefined ? { toolUseId: options.toolUseId } : {})
          }
          const handle: Handle = {
            name,
            value: undefined,
            query,
            snapshot: tableSnapshot(info, options?.semantics),
            ...(preview.cut
              ? { description: `The first ${preview.rowCount} rows of the result; the rest was cut (maxRows).` }
              : {})
          }
          return { ...preview, handle: yield* this.keepTable(db, temp, handle, undefined, origin) }
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
            const origin: Origin = {
              kind: "sql",
              code: query,
              inputs: yield* handlesReadBy(db, sql, this.handles, this.database.tables)
            }
            return yield* this.keepTable(db, temp, { name, value: undefined, query, snapshot }, options, origin)
          })
        )
      })
    )

  readonly read: Store["read"] = (handle) =>
    handle.path === undefined && handle.query === undefined && !this.files.has(handle)
      ? Effect.succeed(handle.value)
      : this.database.use(handle.name, (db) => db.readAll(handle.name))

  readonly lineage: Store["lineage"] = (name) => this.lineageOf([name])

  readonly lineageOf: Store["lineageOf"] = (names) => lineageOf(this.handles, names)

  readonly close: Store["close"] = Effect.suspend(() =>
    Effect.andThen(
      this.database.close,
      Effect.sync(() => {
        // saved results lived only in the database, unless a session store keeps their rows
        for (const handle of this.handles.list()) {
          if (handle.query !== undefined && !this.files.has(handle)) this.handles.delete(handle.name)
        }
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
    options: PutOptions | undefined,
    origin: Origin
  ): Effect.Effect<string, DuckDB.SqlError | DataError> {
    return Effect.uninterruptible(
      Effect.gen({ self: this }, function* () {
        const final = yield* this.store(handle, options, origin)
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
 * What a session store needs of a handle store beyond `Store` (see `persistence.ts`).
 * @internal
 */
export interface PersistentStore extends Store {
  /** Records changed names from now on, and lets the database write Parquet files. */
  readonly enablePersistence: () => void
  /** The lower-cased names set or removed since the last call. */
  readonly drainChanges: () => ReadonlyArray<string>
  /** Records names as changed again (their commit failed). */
  readonly markChanged: (keys: Iterable<string>) => void
  /** The handle of that name now (ignoring case). */
  readonly current: (name: string) => Handle | undefined
  /** Writes the rows of a table handle to a new Parquet file; the file and the version written. */
  readonly writeParquet: (
    name: string
  ) => Effect.Effect<{ readonly file: string; readonly handle: Handle }, DuckDB.SqlError>
  /** Records the file that holds a handle's rows (read when its value is not in memory). */
  readonly back: (handle: Handle, file: BackingFile) => void
  /** Adds a handle as it was stored (name and lineage kept), its rows in `file`; returns the handle held. */
  readonly restore: (handle: Handle, file: BackingFile | undefined) => Handle
}

/**
 * An empty handle store whose database opens on first need. Its `close` must run (the scoped
 * `Data.makeStore` does it): it releases the database and removes the data directory.
 * @internal
 */
export const makeStoreUnsafe = (limits?: Limits): PersistentStore => new HandleStore(limits)

/**
 * Whether a store is one this module made (so a session store can persist its handles).
 * @internal
 */
export const isPersistentStore = (store: Store): store is PersistentStore => store instanceof HandleStore
