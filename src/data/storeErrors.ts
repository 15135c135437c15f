/**
 * The errors the handle store makes: a value it cannot hold, a file it cannot read, a name no
 * handle has, and a DuckDB error naming a temp table.
 * @internal
 */
import { DataError } from "../core/HarnessError.js"
import * as DuckDB from "./duckdb.js"
import type { Handle } from "./model.js"

/** The `UnsupportedValue` of a value `put` cannot hold. */
export const unsupported = (name: string, message: string) =>
  new DataError({ reason: "UnsupportedValue", name, message: `Cannot put "${name}": ${message}` })

/** The `DataError` of a file that could not be put, with DuckDB's internal table name replaced. */
export const fileError =
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

/** The `NotFound` of a name no handle has. */
export const notFound = (name: string, known: ReadonlyArray<Handle>) => {
  const names = known.slice(0, 20).map((handle) => handle.name)
  const more = known.length > names.length ? `, … (${known.length} in all)` : ""
  return new DataError({
    reason: "NotFound",
    name,
    message:
      known.length === 0
        ? `No handle is named "${name}": the session has no handles yet.`
        : `No handle is named "${name}". The session's handles: ${names.join(", ")}${more}.`
  })
}

/** A temp table's name in a DuckDB error, replaced by the name the user asked for. */
export const renamed = (error: DuckDB.SqlError, temp: string, name: string) =>
  new DuckDB.SqlError({
    ...error,
    message: error.message.replaceAll(DuckDB.quoteIdentifier(temp), DuckDB.quoteIdentifier(name))
  })
