/**
 * Making a file queryable as a view DuckDB reads on each query.
 * @since 0.1.0
 */
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect } from "effect"
import { DataLoadError } from "../errors.js"
import { collapsedCsvDelimiter, type FileFormat, formatLabel, formatOfPath, isGlob, sourceSql } from "../fileFormats.js"
import { quoteIdentifier } from "../sqlText.js"
import { type Connection, errorMessage } from "./connection.js"

type Fail = (reason: DataLoadError["reason"], message: string) => DataLoadError

type Found = "file" | "directory" | "other" | { readonly missing: string }

/**
 * What is at a path (not a glob): a file, a directory, something else, or the reason it cannot be
 * read. A directory is reported before the format is looked at, since its name says nothing.
 */
const inspect = (absolute: string): Effect.Effect<Found> =>
  Effect.promise(() =>
    Fs.stat(absolute).then(
      (stat): Found => (stat.isFile() ? "file" : stat.isDirectory() ? "directory" : "other"),
      (cause: unknown): Found => ({ missing: errorMessage(cause) })
    )
  )

const directoryError = (absolute: string, table: string, fail: Fail) =>
  fail(
    "FileNotFound",
    `${absolute} (for table ${table}) is a directory, and it is not a file: pass one file in it, ` +
      `or a glob such as ${NodePath.join(absolute, "*.csv")} for all its CSV files.`
  )

/** The error for a path that is not an existing regular file, if it is not one. */
const notAFile = (found: Found, absolute: string, table: string, fail: Fail): DataLoadError | undefined => {
  if (found === "file") return undefined
  if (found === "directory") return directoryError(absolute, table, fail)
  if (found === "other")
    return fail("FileNotFound", `${absolute} (for table ${table}) is not a file: pass a regular file.`)
  return fail(
    "FileNotFound",
    `File not found: ${absolute} (for table ${table}). Check the path; relative paths resolve ` +
      `against ${process.cwd()}. (${found.missing})`
  )
}

/** The error for a file DuckDB could not read as `format`. */
const readError = (absolute: string, table: string, format: FileFormat, fail: Fail) => (message: string) =>
  /No files found that match the pattern|Cannot open file|No such file/i.test(message)
    ? fail(
        "FileNotFound",
        `Cannot open ${absolute} (for table ${table}): check that it exists and is readable. DuckDB said: ${message}`
      )
    : fail(
        "ParseError",
        `Cannot read ${absolute} as ${formatLabel(format)} (for table ${table}): fix the file, or pass ` +
          `the right format if it is not ${formatLabel(format)}. DuckDB said: ${message}`
      )

/**
 * Makes file `path` queryable as view `name`; see `Database.registerFile`.
 * @since 0.1.0
 */
export const registerFile = (
  db: Connection,
  name: string,
  path: string,
  format?: FileFormat | undefined
): Effect.Effect<void, DataLoadError> =>
  Effect.gen(function* () {
    const table = quoteIdentifier(name)
    const absolute = NodePath.resolve(path)
    const fail: Fail = (reason, message) => new DataLoadError({ reason, message, path: absolute })
    if (name.length === 0) {
      return yield* fail("InvalidValue", `registerFile("${path}") needs a non-empty table name.`)
    }
    const found = isGlob(path) ? "file" : yield* inspect(absolute)
    if (found === "directory") return yield* directoryError(absolute, table, fail)
    const inferred = formatOfPath(absolute)
    const resolved = format ?? inferred?.format
    if (resolved === undefined) {
      return yield* fail(
        "UnsupportedFormat",
        `Cannot tell the format of ${absolute} (for table ${table}) from its extension: ` +
          'pass format "csv", "parquet" or "json", or use a .csv, .tsv, .parquet, .json, .jsonl or ' +
          ".ndjson file."
      )
    }
    const problem = notAFile(found, absolute, table, fail)
    if (problem !== undefined) return yield* problem
    const onReadError = readError(absolute, table, resolved, fail)
    const probe = (source: string) =>
      Effect.map(db.run(`SELECT * FROM ${source} LIMIT 0`, onReadError), (result) => result.columnNames())

    const tsvDelimiter =
      format === undefined || format === inferred?.format ? (inferred?.tsv === true ? "\t" : undefined) : undefined
    let source = sourceSql(resolved, absolute, tsvDelimiter)
    const columnNames = yield* probe(source)
    if (resolved === "csv" && tsvDelimiter === undefined) {
      // The sniffer fell back to one column per line: ask again with the delimiter the header
      // shows, which makes DuckDB report what is wrong (e.g. rows with more fields).
      const delimiter = collapsedCsvDelimiter(columnNames)
      if (delimiter !== undefined) {
        source = sourceSql(resolved, absolute, delimiter)
        yield* probe(source)
      }
    }
    const onError = (message: string) =>
      fail("InvalidValue", `Could not create view ${table} over ${absolute}: ${message}`)
    yield* db.transaction(
      Effect.andThen(
        db.dropIfKind(name, "TABLE", onError),
        db.run(`CREATE OR REPLACE VIEW ${table} AS SELECT * FROM ${source}`, onError)
      ),
      onError
    )
  })
