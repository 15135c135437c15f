/**
 * Data handles: values put into a session under a name, and the small JSON snapshots of them
 * that the model sees instead of the data.
 *
 * A handle name is a valid identifier (usable in SQL and JavaScript): other characters become
 * `_`, and a name that is taken becomes `name_2`, `name_3`, … unless `overwrite` is set. Names
 * are compared case-insensitively (`Sales` and `sales` would be the same SQL table), so `Sales`
 * next to `sales` becomes `Sales_2`.
 *
 * What a store holds:
 * - **Values** (`put`): tables (arrays of records), arrays, plain objects and scalars. Tables get a
 *   snapshot with row count, columns with types (and descriptions, when given as `semantics`) and
 *   5 sample rows; arrays, objects and scalars get their own small snapshots. `put` is cheap: it
 *   never touches the database.
 * - **Files** (`putFile`): CSV/TSV, Parquet and JSON/JSONL by path. DuckDB reads the file to build
 *   the snapshot (row count, columns with DuckDB types, 5 sample rows); the data stays in the file
 *   and SQL reads it directly.
 * - **Query results** (`saveQuery`): tables that live in the session database, made by the `sql`
 *   tool when a result is too big to show.
 *
 * Each store owns one in-process DuckDB database, opened on first need (the first `putFile`,
 * `query`, `saveQuery` or `read` of a file). Table handles are loaded into it lazily: a query loads
 * the table handles it mentions that are not loaded yet (or changed since), so `put` of a large
 * table costs nothing until SQL uses it. `close` releases the database (a dropped store is
 * released by the garbage collector too); later use opens a fresh one and reloads what it needs,
 * except query results, whose rows lived only in the database: `close` removes those handles.
 *
 * Values that cannot be stored (functions, symbols, cycles, class instances), a missing file, a
 * file of unknown format and a file DuckDB cannot parse are a `DataError` that names the problem,
 * and the store is unchanged.
 *
 * @example
 * ```ts
 * const handle = yield* session.put("sales", [{ region: "EU", revenue: 120 }])
 * // handle === "sales"; the model sees { kind: "table", rows: 1, columns: [...], sample: [...] }
 * const orders = yield* session.putFile("orders", "data/orders.parquet")
 * const result = yield* session.data.query("SELECT count(*) AS n FROM orders")
 * ```
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { Effect, Exit, Ref, Scope, Semaphore } from "effect"
import { DataError } from "../core/HarnessError.js"
import * as DuckDB from "./duckdb.js"

export {
  /**
   * DuckDB rejected a statement (bad SQL, a missing table or column, a failed cast); `message` is
   * DuckDB's own message.
   * @since 0.1.0
   */
  SqlError
} from "./duckdb.js"

// models

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
 * A file format `putFile` reads: `csv` (also TSV), `parquet`, `json` (an array of objects, or
 * newline-delimited JSON).
 * @since 0.1.0
 */
export type FileFormat = DuckDB.FileFormat

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
  /** Where the value came from, when it is a file (an absolute path). */
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
 * The first rows of a query result: `columns` with DuckDB type names, `rows` as JSON-safe records
 * (DATE as `YYYY-MM-DD`, TIMESTAMP as ISO-8601, BIGINT as a number when safe), the total
 * `rowCount`, and `truncated` when `rowCount` is larger than `rows.length`.
 * @since 0.1.0
 */
export type QueryResult = DuckDB.QueryResult

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
  readonly get: (name: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
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
  ) => Effect.Effect<QueryResult, DuckDB.SqlError>
  /**
   * Materialises the full result of a `SELECT` as a new table handle in the session database (a
   * free name like `put`, or replacing with `overwrite`); returns the handle name it got.
   */
  readonly saveQuery: (
    name: string,
    sql: string,
    options?: PutOptions
  ) => Effect.Effect<string, DuckDB.SqlError | DataError>
  /**
   * The data of a handle as plain JS values: `value` for put values; all rows (JSON-safe records)
   * for files and saved results, read by DuckDB.
   */
  readonly read: (handle: Handle) => Effect.Effect<unknown, DuckDB.SqlError>
  /**
   * Releases the session database. Put values and files stay (they are reloaded on next use);
   * saved query results, which lived only in the database, are removed. The store stays usable.
   */
  readonly close: Effect.Effect<void>
}

// names

/** JavaScript keywords and the sandbox's globals, which a handle must not shadow (case-sensitive). */
const JS_RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await arguments eval undefined NaN " +
    "Infinity globalThis console save answer Object Array Math JSON Date String Number Boolean Symbol Map Set " +
    "WeakMap WeakSet Promise Error TypeError RangeError SyntaxError RegExp BigInt Reflect Proxy Intl parseInt " +
    "parseFloat isNaN isFinite ArrayBuffer Uint8Array Float64Array"
  ).split(" ")
)

/** DuckDB's reserved keywords (`duckdb_keywords()`), which cannot name a table unquoted (case-insensitive). */
const SQL_RESERVED = new Set(
  (
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create " +
    "default deferrable desc describe distinct do else end except false fetch for foreign from group having in " +
    "initially intersect into lambda lateral leading limit not null offset on only or order pivot pivot_longer " +
    "pivot_wider placing primary qualify references returning select show some summarize symmetric table then to " +
    "trailing true union unique unpivot using variadic when where window with"
  ).split(" ")
)

/**
 * Turns a requested name into a valid identifier: letters, digits and `_`, not starting with a
 * digit, not a JavaScript or SQL keyword or a sandbox global. Fails on a name with no usable
 * character.
 * @since 0.1.0
 */
export const normalizeName = (requested: string): Effect.Effect<string, DataError> => {
  let name = requested
    .trim()
    .replace(/[^A-Za-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "")
  if (name.length === 0) {
    return Effect.fail(
      new DataError({
        reason: "InvalidName",
        name: requested,
        message: `"${requested}" cannot be a handle name: use letters, digits and underscores, e.g. "sales_2024".`
      })
    )
  }
  if (/^[0-9]/.test(name)) name = `_${name}`
  if (JS_RESERVED.has(name) || SQL_RESERVED.has(name.toLowerCase())) name = `${name}_`
  return Effect.succeed(name)
}

/** The existing name equal to `name` ignoring case (handles are SQL tables, and SQL ignores case). */
const findName = (taken: ReadonlyMap<string, Handle>, name: string): string | undefined => {
  if (taken.has(name)) return name
  const lower = name.toLowerCase()
  for (const key of taken.keys()) if (key.toLowerCase() === lower) return key
  return undefined
}

const freeName = (taken: ReadonlyMap<string, Handle>, name: string): string => {
  if (findName(taken, name) === undefined) return name
  for (let i = 2; ; i++) if (findName(taken, `${name}_${i}`) === undefined) return `${name}_${i}`
}

// validation

const unsupported = (name: string, message: string) =>
  new DataError({ reason: "UnsupportedValue", name, message: `Cannot put "${name}": ${message}` })

/**
 * Checks that a value is plain data: JSON-like values, `Date`s and bigints, with no functions,
 * symbols, cycles or class instances. Returns the problem, or `undefined`.
 */
const needsVisit = (item: unknown): boolean =>
  (typeof item === "object" && item !== null) || typeof item === "function" || typeof item === "symbol"

const findProblem = (value: unknown): string | undefined => {
  const path: Array<string> = []
  const active = new Set<object>()
  const visit = (v: unknown): string | undefined => {
    switch (typeof v) {
      case "function":
        return `it holds a function at ${where()}; put plain data (records, arrays, numbers, strings)`
      case "symbol":
        return `it holds a symbol at ${where()}`
      case "number":
      case "string":
      case "boolean":
      case "bigint":
      case "undefined":
        return undefined
    }
    if (v === null || v instanceof Date) return undefined
    const object = v as object
    if (active.has(object)) return `it refers to itself at ${where()} (a cycle); put a copy without the cycle`
    const proto = Object.getPrototypeOf(object)
    const isArray = Array.isArray(object)
    if (!isArray && proto !== Object.prototype && proto !== null) {
      return `it holds a ${proto?.constructor?.name ?? "class"} instance at ${where()}; convert it to plain data first`
    }
    // An object joins `active` only while the walk is inside it, so flat records cost no Set work.
    let entered = false
    if (isArray) {
      const array = object as ReadonlyArray<unknown>
      for (let i = 0; i < array.length; i++) {
        const item = array[i]
        if (!needsVisit(item)) continue
        if (!entered) active.add(object)
        entered = true
        path.push(`[${i}]`)
        const problem = visit(item)
        path.pop()
        if (problem !== undefined) return problem
      }
    } else {
      for (const key in object) {
        const item = (object as Record<string, unknown>)[key]
        if (!needsVisit(item) || !Object.hasOwn(object, key)) continue
        if (!entered) active.add(object)
        entered = true
        path.push(`.${key}`)
        const problem = visit(item)
        path.pop()
        if (problem !== undefined) return problem
      }
    }
    if (entered) active.delete(object)
    return undefined
  }
  const where = () => (path.length === 0 ? "the top level" : `value${path.join("")}`)
  return visit(value)
}

// snapshots

const SAMPLE_ROWS = 5

const typeOf = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  if (value instanceof Date) return "date"
  if (Array.isArray(value)) return "array"
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number"
  return typeof value
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/**
 * Whether a value is a table: a non-empty array whose items are all records.
 * @since 0.1.0
 */
export const isTable = (value: unknown): value is ReadonlyArray<Readonly<Record<string, unknown>>> =>
  Array.isArray(value) && value.length > 0 && value.every(isRecord)

const jsonSafe = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) ?? "null")

/**
 * The columns of a table: every key in order of first appearance, with its type (`integer`,
 * `number`, `string`, `boolean`, `date`, `object`, `array`, or `a|b` when mixed; nulls ignored).
 * @since 0.1.0
 */
export const columnsOf = (
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  semantics?: Readonly<Record<string, string>>
): ReadonlyArray<Column> => {
  const types = new Map<string, Set<string>>()
  for (const row of rows) {
    for (const key in row) {
      let set = types.get(key)
      if (set === undefined) types.set(key, (set = new Set()))
      const type = typeOf(row[key])
      if (type !== "null") set.add(type)
    }
  }
  return [...types].map(([name, set]) => {
    if (set.has("number")) set.delete("integer")
    const type = set.size === 0 ? "null" : [...set].join("|")
    const description = semantics?.[name]
    return description === undefined ? { name, type } : { name, type, description }
  })
}

/**
 * The snapshot the model sees of a value.
 * @since 0.1.0
 */
export const snapshotOf = (value: unknown, semantics?: Readonly<Record<string, string>>): Snapshot => {
  if (isTable(value)) {
    return {
      kind: "table",
      rows: value.length,
      columns: columnsOf(value, semantics),
      sample: jsonSafe(value.slice(0, SAMPLE_ROWS)) as ReadonlyArray<Record<string, unknown>>
    }
  }
  if (Array.isArray(value)) {
    return { kind: "array", length: value.length, sample: jsonSafe(value.slice(0, 10)) as ReadonlyArray<unknown> }
  }
  if (isRecord(value)) {
    const keys = Object.keys(value)
    const text = JSON.stringify(jsonSafe(value))
    return { kind: "object", keys, preview: text.length <= 1_000 ? jsonSafe(value) : `${text.slice(0, 1_000)}…` }
  }
  return { kind: "scalar", type: typeOf(value), value: jsonSafe(value) }
}

/**
 * The snapshot of a table DuckDB described (a file or a saved query result).
 * @since 0.1.0
 */
export const tableSnapshot = (
  info: { readonly rowCount: number; readonly columns: ReadonlyArray<Column>; readonly sample: ReadonlyArray<unknown> },
  semantics?: Readonly<Record<string, string>>
): Snapshot => ({
  kind: "table",
  rows: info.rowCount,
  columns: info.columns.map(({ name, type }) => {
    const description = semantics?.[name]
    return description === undefined ? { name, type } : { name, type, description }
  }),
  sample: info.sample.slice(0, SAMPLE_ROWS) as ReadonlyArray<Record<string, unknown>>
})

/**
 * Whether a handle is a table in the session database: a put table, a file or a saved result.
 * @since 0.1.0
 */
export const isSqlTable = (handle: Handle): boolean =>
  handle.path !== undefined || handle.query !== undefined || handle.snapshot.kind === "table"

/** Whether `sql` (lower-cased) mentions the identifier `name` (lower-cased) as a whole word. */
const mentions = (sql: string, name: string): boolean => {
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

const fileError =
  (name: string, path: string, rename: (message: string) => string) =>
  (error: DuckDB.DataLoadError | DuckDB.SqlError): DataError => {
    const message = rename(errorText(error))
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

// constructors

/**
 * An empty handle store with its own (lazily opened) DuckDB database, made synchronously (for a
 * session that makes its store on first use).
 * @internal
 */
export const makeStoreUnsafe = (): Store => {
  const ref = Ref.makeUnsafe<ReadonlyMap<string, Handle>>(new Map())
  /** Serialises every use of the database, so loading handles and the query using them never interleave. */
  const lock = Semaphore.makeUnsafe(1)
  let database: { readonly db: DuckDB.Database; readonly scope: Scope.Closeable } | undefined
  /** What the database holds under each lower-cased name: the handle it was loaded from. */
  const loaded = new Map<string, Handle>()
  /** Handles that could not be loaded into the database, with DuckDB's reason. */
  const failed = new Map<string, { readonly handle: Handle; readonly message: string }>()
  let temporary = 0

  const putHandle = (handle: Handle, options?: PutOptions) =>
    Effect.flatMap(normalizeName(handle.name), (base) =>
      Ref.modify(ref, (handles) => {
        const next = new Map(handles)
        let name = base
        if (options?.overwrite) {
          const existing = findName(handles, base)
          if (existing !== undefined && existing !== base) next.delete(existing)
        } else {
          name = freeName(handles, base)
        }
        const description = options?.description ?? handle.description
        next.set(name, { ...handle, name, ...(description !== undefined ? { description } : {}) })
        return [name, next]
      })
    )

  // the database

  const open: Effect.Effect<DuckDB.Database, DuckDB.SqlError> = Effect.suspend(() => {
    if (database !== undefined) return Effect.succeed(database.db)
    return Effect.gen(function* () {
      const scope = yield* Scope.make()
      const db = yield* DuckDB.make.pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      database = { db, scope }
      return db
    })
  })

  const withDatabase = <A, E>(f: (db: DuckDB.Database) => Effect.Effect<A, E>) =>
    lock.withPermit(Effect.flatMap(open, f))

  const load = (db: DuckDB.Database, handle: Handle): Effect.Effect<void, { readonly message: string }> => {
    if (handle.path !== undefined) return db.registerFile(handle.name, handle.path, handle.format)
    if (handle.query !== undefined) {
      return Effect.fail({
        message: `its rows are gone (the session database was closed); run the query again: ${handle.query}`
      })
    }
    return isTable(handle.value) ? db.registerRows(handle.name, handle.value) : Effect.void
  }

  /**
   * Brings the database up to date for a statement: drops tables of removed or replaced handles,
   * and loads the table handles `sql` mentions that are not loaded yet.
   */
  const sync = (db: DuckDB.Database, sql: string) =>
    Effect.gen(function* () {
      const handles = yield* Ref.get(ref)
      const byKey = new Map<string, Handle>()
      for (const handle of handles.values()) byKey.set(handle.name.toLowerCase(), handle)
      for (const [key, handle] of loaded) {
        const current = byKey.get(key)
        if (current === handle) continue
        if (current === undefined || !isSqlTable(current)) {
          yield* db.drop(handle.name)
          loaded.delete(key)
        }
      }
      const text = sql.toLowerCase()
      for (const [key, handle] of byKey) {
        if (!isSqlTable(handle) || loaded.get(key) === handle || failed.get(key)?.handle === handle) continue
        if (!mentions(text, key)) continue
        yield* load(db, handle).pipe(
          Effect.match({
            onFailure: (error) => void failed.set(key, { handle, message: errorText(error) }),
            onSuccess: () => {
              loaded.set(key, handle)
              failed.delete(key)
            }
          })
        )
      }
    })

  /** Adds why mentioned handles are missing to a failed statement's message. */
  const explain = (sql: string) => (error: DuckDB.SqlError) => {
    const text = sql.toLowerCase()
    const notes = [...failed]
      .filter(([key]) => mentions(text, key))
      .map(([, { handle, message }]) => `\nHandle "${handle.name}" could not be loaded into SQL: ${message}`)
    return notes.length === 0 ? error : new DuckDB.SqlError({ ...error, message: error.message + notes.join("") })
  }

  const query: Store["query"] = (sql, options) =>
    withDatabase((db) => Effect.andThen(sync(db, sql), db.query(sql, options)).pipe(Effect.mapError(explain(sql))))

  const saveQuery: Store["saveQuery"] = (name, sql, options) =>
    Effect.andThen(
      normalizeName(name),
      withDatabase((db) =>
        Effect.gen(function* () {
          yield* sync(db, sql)
          const temp = `__data_harness_result_${++temporary}`
          const info = yield* db.createTableAs(temp, sql).pipe(
            Effect.mapError((error) =>
              explain(sql)(
                new DuckDB.SqlError({
                  ...error,
                  message: error.message.replaceAll(DuckDB.quoteIdentifier(temp), DuckDB.quoteIdentifier(name))
                })
              )
            ),
            Effect.onError(() => db.drop(temp))
          )
          return yield* Effect.uninterruptible(
            Effect.gen(function* () {
              const query = sql.trim().replace(/[;\s]+$/, "")
              const final = yield* putHandle(
                { name, value: undefined, query, snapshot: tableSnapshot(info, options?.semantics) },
                options
              )
              const handle = (yield* Ref.get(ref)).get(final)!
              const renamed = yield* Effect.exit(db.rename(temp, final))
              if (Exit.isFailure(renamed)) {
                yield* Ref.update(ref, (handles) => {
                  if (handles.get(final) !== handle) return handles
                  const next = new Map(handles)
                  next.delete(final)
                  return next
                })
                yield* db.drop(temp)
                return yield* Effect.failCause(renamed.cause)
              }
              loaded.set(final.toLowerCase(), handle)
              failed.delete(final.toLowerCase())
              return final
            })
          )
        })
      )
    )

  const putFile: Store["putFile"] = (name, path, options) =>
    Effect.gen(function* () {
      yield* normalizeName(name)
      const absolute = NodePath.resolve(path)
      const temp = `__data_harness_file_${++temporary}`
      const rename = (message: string) =>
        message
          .replaceAll(` (for table ${DuckDB.quoteIdentifier(temp)})`, "")
          .replaceAll(DuckDB.quoteIdentifier(temp), `"${name}"`)
      const info = yield* withDatabase((db) =>
        db
          .registerFile(temp, absolute, options?.format)
          .pipe(Effect.andThen(db.describe(temp)), Effect.ensuring(db.drop(temp)))
      ).pipe(Effect.mapError(fileError(name, absolute, rename)))
      return yield* putHandle(
        {
          name,
          value: undefined,
          path: absolute,
          ...(options?.format !== undefined ? { format: options.format } : {}),
          snapshot: tableSnapshot(info, options?.semantics)
        },
        options
      )
    })

  const read: Store["read"] = (handle) =>
    handle.path === undefined && handle.query === undefined
      ? Effect.succeed(handle.value)
      : withDatabase((db) =>
          Effect.andThen(sync(db, handle.name), db.readAll(handle.name)).pipe(Effect.mapError(explain(handle.name)))
        )

  const close: Effect.Effect<void> = lock.withPermit(
    Effect.gen(function* () {
      const current = database
      database = undefined
      loaded.clear()
      failed.clear()
      yield* Ref.update(ref, (handles) => {
        if (![...handles.values()].some((handle) => handle.query !== undefined)) return handles
        return new Map([...handles].filter(([, handle]) => handle.query === undefined))
      })
      if (current !== undefined) yield* Scope.close(current.scope, Exit.void)
    })
  )

  const store: Store = {
    putHandle,
    put: (name, value, options) =>
      Effect.suspend(() => {
        const problem = findProblem(value)
        if (problem !== undefined) return Effect.fail(unsupported(name, problem))
        return putHandle({ name, value, snapshot: snapshotOf(value, options?.semantics) }, options)
      }),
    putFile,
    get: (name) => Effect.map(Ref.get(ref), (handles) => handles.get(name)),
    list: Effect.map(Ref.get(ref), (handles) => [...handles.values()]),
    remove: (name) =>
      Ref.update(ref, (handles) => {
        const next = new Map(handles)
        next.delete(name)
        return next
      }),
    query,
    saveQuery,
    read,
    close
  }
  return store
}

/**
 * An empty handle store with its own (lazily opened) DuckDB database.
 * @since 0.1.0
 */
export const makeStore: Effect.Effect<Store> = Effect.sync(makeStoreUnsafe)

/**
 * The model's view of a handle: its name, description, where it comes from, and its snapshot.
 * @since 0.1.0
 */
export const describe = (handle: Handle) => ({
  name: handle.name,
  ...(handle.description !== undefined ? { description: handle.description } : {}),
  ...(handle.path !== undefined ? { path: handle.path } : {}),
  ...(handle.query !== undefined ? { query: handle.query } : {}),
  ...handle.snapshot
})
