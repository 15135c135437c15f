/**
 * Data handles: values put into a session under a name, and the small JSON snapshots of them
 * that the model sees instead of the data.
 *
 * A handle name is a valid identifier (usable in SQL and JavaScript): other characters become
 * `_`, and a name that is taken becomes `name_2`, `name_3`, … unless `overwrite` is set.
 * Tables (arrays of records) get a snapshot with row count, columns with types (and
 * descriptions, when given) and 5 sample rows; arrays, objects and scalars get their own small
 * snapshots. Values that cannot be stored (functions, symbols, cycles, class instances) are a
 * `DataError` that names the problem, and the store is unchanged.
 *
 * @example
 * ```ts
 * const handle = yield* session.put("sales", [{ region: "EU", revenue: 120 }])
 * // handle === "sales"; the model sees { kind: "table", rows: 1, columns: [...], sample: [...] }
 * ```
 * @since 0.1.0
 */
import { Effect, Ref } from "effect"
import { DataError } from "./HarnessError.js"

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
 * A stored value.
 * @since 0.1.0
 */
export interface Handle {
  readonly name: string
  readonly value: unknown
  readonly snapshot: Snapshot
  readonly description?: string | undefined
  /** Where the value came from, when it is a file. */
  readonly path?: string | undefined
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
 * The handles of one session.
 * @since 0.1.0
 */
export interface Store {
  /** Stores a value; returns the handle name it got. */
  readonly put: (name: string, value: unknown, options?: PutOptions) => Effect.Effect<string, DataError>
  /** Stores a handle built elsewhere (a file, a query result), choosing a free name like `put`. */
  readonly putHandle: (handle: Handle, options?: PutOptions) => Effect.Effect<string, DataError>
  /** Stores a file (CSV, Parquet, JSON) by path; returns the handle name it got. */
  readonly putFile: (name: string, path: string, options?: PutOptions) => Effect.Effect<string, DataError>
  readonly get: (name: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
  readonly remove: (name: string) => Effect.Effect<void>
}

// names

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await arguments eval undefined NaN " +
    "Infinity globalThis console save answer select from where group order by limit table"
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
  if (RESERVED.has(name.toLowerCase())) name = `${name}_`
  return Effect.succeed(name)
}

const freeName = (taken: ReadonlyMap<string, Handle>, name: string): string => {
  if (!taken.has(name)) return name
  for (let i = 2; ; i++) if (!taken.has(`${name}_${i}`)) return `${name}_${i}`
}

// validation

const unsupported = (name: string, message: string) =>
  new DataError({ reason: "UnsupportedValue", name, message: `Cannot put "${name}": ${message}` })

/**
 * Checks that a value is plain data: JSON-like values, `Date`s and bigints, with no functions,
 * symbols, cycles or class instances. Returns the problem, or `undefined`.
 */
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
    active.add(object)
    if (isArray) {
      const array = object as ReadonlyArray<unknown>
      for (let i = 0; i < array.length; i++) {
        const item = array[i]
        if ((typeof item === "object" && item !== null) || typeof item === "function" || typeof item === "symbol") {
          path.push(`[${i}]`)
          const problem = visit(item)
          path.pop()
          if (problem) return problem
        }
      }
    } else {
      for (const key of Object.keys(object)) {
        path.push(`.${key}`)
        const problem = visit((object as Record<string, unknown>)[key])
        path.pop()
        if (problem) return problem
      }
    }
    active.delete(object)
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

// constructors

/**
 * An empty handle store.
 * @since 0.1.0
 */
export const makeStore: Effect.Effect<Store> = Effect.map(
  Ref.make<ReadonlyMap<string, Handle>>(new Map()),
  (ref): Store => {
    const putHandle = (handle: Handle, options?: PutOptions) =>
      Effect.flatMap(normalizeName(handle.name), (base) =>
        Ref.modify(ref, (handles) => {
          const name = options?.overwrite ? base : freeName(handles, base)
          const next = new Map(handles)
          const description = options?.description ?? handle.description
          next.set(name, { ...handle, name, ...(description !== undefined ? { description } : {}) })
          return [name, next]
        })
      )
    return {
      putHandle,
      put: (name, value, options) =>
        Effect.suspend(() => {
          const problem = findProblem(value)
          if (problem !== undefined) return Effect.fail(unsupported(name, problem))
          return putHandle({ name, value, snapshot: snapshotOf(value, options?.semantics) }, options)
        }),
      putFile: (name, path) =>
        Effect.fail(new DataError({ reason: "UnsupportedFormat", name, path, message: "putFile is not built yet" })),
      get: (name) => Effect.map(Ref.get(ref), (handles) => handles.get(name)),
      list: Effect.map(Ref.get(ref), (handles) => [...handles.values()]),
      remove: (name) =>
        Ref.update(ref, (handles) => {
          const next = new Map(handles)
          next.delete(name)
          return next
        })
    }
  }
)

/**
 * The model's view of a handle: its name, description and snapshot.
 * @since 0.1.0
 */
export const describe = (handle: Handle) => ({
  name: handle.name,
  ...(handle.description !== undefined ? { description: handle.description } : {}),
  ...(handle.path !== undefined ? { path: handle.path } : {}),
  ...handle.snapshot
})
