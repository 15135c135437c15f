/**
 * Reading DuckDB values as JSON-safe JS values (see `Database` for the rules; whole numbers follow
 * `jsonValue.jsonInteger`, the rule every other conversion uses).
 * @since 0.1.0
 */
import type {
  DuckDBDataChunk,
  DuckDBMaterializedResult,
  DuckDBResult,
  DuckDBType,
  DuckDBValueConverter
} from "@duckdb/node-api"
import {
  arrayFromArrayValue,
  arrayFromListValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  fromVariantValue,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue
} from "@duckdb/node-api"
import { jsonInteger } from "../../../core/jsonValue.js"
import type { Column } from "../Database.js"

const MIN_DATE_MILLIS = -8_640_000_000_000_000n
const MAX_DATE_MILLIS = 8_640_000_000_000_000n

/** A float as a number, or "NaN" / "Infinity" / "-Infinity", which JSON cannot carry. */
const jsonFloat = (value: number): number | string => (Number.isFinite(value) ? value : String(value))

/**
 * An instant as ISO-8601 in UTC, keeping sub-millisecond digits: `ticks` counts `1 / perMilli`
 * milliseconds since the epoch. Instants a JS `Date` cannot hold (and ±infinity) fall back to
 * DuckDB's own text.
 */
const isoInstant = (ticks: bigint, perMilli: bigint, fallback: () => string): string => {
  let millis = ticks / perMilli
  let rest = ticks % perMilli
  if (rest < 0n) {
    millis -= 1n
    rest += perMilli
  }
  if (millis < MIN_DATE_MILLIS || millis > MAX_DATE_MILLIS) return fallback()
  const iso = new Date(Number(millis)).toISOString()
  if (rest === 0n) return iso
  const digits = perMilli.toString().length - 1
  return `${iso.slice(0, -1)}${rest.toString().padStart(digits, "0")}Z`
}

/** JSON text as a JS value; text that does not parse is kept as it is. */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Timestamps of every precision, as ISO-8601. */
const instant = (value: unknown): string => {
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return isoInstant(value.micros, 1000n, () => value.toString())
  }
  if (value instanceof DuckDBTimestampSecondsValue) return isoInstant(value.seconds * 1000n, 1n, () => value.toString())
  if (value instanceof DuckDBTimestampMillisecondsValue) return isoInstant(value.millis, 1n, () => value.toString())
  if (value instanceof DuckDBTimestampNanosecondsValue) {
    return isoInstant(value.nanos, 1_000_000n, () => value.toString())
  }
  return String(value)
}

/** Converts DuckDB values to JSON-safe JS values; nested types recurse through it. */
const toJsonSafe: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value === null) return null
  if (type.alias === "JSON" && typeof value === "string") return parseJson(value)
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
      return value
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return typeof value === "number" ? jsonFloat(value) : String(value)
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return typeof value === "bigint" ? jsonInteger(value) : String(value)
    case DuckDBTypeId.DECIMAL:
      return value instanceof DuckDBDecimalValue ? jsonFloat(value.toDouble()) : String(value)
    case DuckDBTypeId.DATE:
      if (value instanceof DuckDBDateValue && !value.isFinite) return value.days > 0 ? "infinity" : "-infinity"
      return String(value)
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return instant(value)
    case DuckDBTypeId.BLOB:
      return value instanceof DuckDBBlobValue ? Buffer.from(value.bytes).toString("base64") : String(value)
    case DuckDBTypeId.LIST:
      return arrayFromListValue(value, type, converter)
    case DuckDBTypeId.ARRAY:
      return arrayFromArrayValue(value, type, converter)
    case DuckDBTypeId.STRUCT:
      return objectFromStructValue(value, type, converter)
    case DuckDBTypeId.MAP:
      return objectArrayFromMapValue(value, type, converter)
    case DuckDBTypeId.UNION:
      return objectFromUnionValue(value, type, converter)
    case DuckDBTypeId.VARIANT:
      return fromVariantValue(value, type, converter)
    case DuckDBTypeId.SQLNULL:
      return null
    // TIME, TIME_TZ, INTERVAL, UUID, BIT, GEOMETRY: DuckDB's own text.
    default:
      return String(value)
  }
}

/** A DuckDB type as its SQL name; the JSON alias is kept (`JSON`, not `VARCHAR`). */
export const typeName = (type: DuckDBType): string => type.alias ?? type.toString()

/** The columns of a result, with deduplicated names (`a`, `a_1`) and SQL type names. */
export const columnsOf = (result: DuckDBResult): ReadonlyArray<Column> => {
  const names = result.deduplicatedColumnNames()
  const types = result.columnTypes()
  return names.map((name, i) => ({ name, type: typeName(types[i]!) }))
}

/** Builds one record; a column named `__proto__` becomes an own property, not the prototype. */
const toRecord = (names: ReadonlyArray<string>, values: ReadonlyArray<unknown>): Record<string, unknown> => {
  const record: Record<string, unknown> = {}
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    if (name === "__proto__") {
      Object.defineProperty(record, name, { value: values[i], enumerable: true, writable: true, configurable: true })
    } else {
      record[name] = values[i]
    }
  }
  return record
}

/**
 * Converts chunks of one result to records. Data chunks do not carry type aliases, so JSON
 * columns are found on the result and parsed here.
 */
export const rowReader = (result: DuckDBResult) => {
  const names = result.deduplicatedColumnNames()
  const jsonColumns = result.columnTypes().flatMap((type, i) => (type.alias === "JSON" ? [i] : []))
  /** Appends the first `take` rows of `chunk` to `rows`. */
  return (chunk: DuckDBDataChunk, take: number, rows: Array<Record<string, unknown>>): void => {
    const converted =
      take >= chunk.rowCount
        ? chunk.convertRows(toJsonSafe)
        : Array.from({ length: take }, (_, r) => chunk.convertRowValues(r, toJsonSafe))
    for (const values of converted) {
      for (const i of jsonColumns) {
        const value = values[i]
        if (typeof value === "string") values[i] = parseJson(value)
      }
      rows.push(toRecord(names, values))
    }
  }
}

/** The first `limit` rows of a materialised result, converted to JSON-safe records. */
export const readRows = (result: DuckDBMaterializedResult, limit: number): Array<Record<string, unknown>> => {
  const read = rowReader(result)
  const rows: Array<Record<string, unknown>> = []
  const chunkCount = result.chunkCount
  for (let c = 0; c < chunkCount && rows.length < limit; c++) {
    const chunk = result.getChunk(c)
    read(chunk, Math.min(chunk.rowCount, limit - rows.length), rows)
  }
  return rows
}
