/**
 * Snapshots: the small JSON view of a handle the model sees instead of its data.
 * @since 0.1.0
 */
import { toJsonValue } from "../core/jsonValue.js"
import type { Column, Handle, Snapshot } from "./model.js"

const SAMPLE_ROWS = 5
const SAMPLE_ITEMS = 10
const PREVIEW_CHARS = 1_000

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

/**
 * The columns of a table: every key in order of first appearance, with its type (`integer`,
 * `number`, `string`, `boolean`, `date`, `bigint`, `object`, `array`, or `a|b` when mixed; nulls
 * ignored).
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
 * The snapshot the model sees of a value. Values appear as JSON (`jsonValue`): a bigint is a
 * number when safe, as SQL and JavaScript show it.
 * @since 0.1.0
 */
export const snapshotOf = (value: unknown, semantics?: Readonly<Record<string, string>>): Snapshot => {
  if (isTable(value)) {
    return {
      kind: "table",
      rows: value.length,
      columns: columnsOf(value, semantics),
      sample: toJsonValue(value.slice(0, SAMPLE_ROWS)) as ReadonlyArray<Record<string, unknown>>
    }
  }
  if (Array.isArray(value)) {
    return { kind: "array", length: value.length, sample: toJsonValue(value.slice(0, SAMPLE_ITEMS)) as Array<unknown> }
  }
  if (isRecord(value)) {
    const preview = toJsonValue(value)
    const text = JSON.stringify(preview)
    return {
      kind: "object",
      keys: Object.keys(value),
      preview: text.length <= PREVIEW_CHARS ? preview : `${text.slice(0, PREVIEW_CHARS)}…`
    }
  }
  return { kind: "scalar", type: typeOf(value), value: toJsonValue(value) }
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
