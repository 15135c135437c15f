/**
 * File formats DuckDB reads for `putFile`: telling the format from a path, and the table
 * function call that reads it.
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { quoteString } from "./sqlText.js"

/**
 * A file format `registerFile` reads: `csv` (also TSV), `parquet`, `json` (an array of objects,
 * or newline-delimited JSON).
 * @since 0.1.0
 */
export type FileFormat = "csv" | "parquet" | "json"

/**
 * The format's name in messages: `CSV`, `JSON`, `Parquet`.
 * @since 0.1.0
 */
export const formatLabel = (format: FileFormat): string =>
  format === "csv" ? "CSV" : format === "json" ? "JSON" : "Parquet"

/**
 * The format a file name implies, ignoring a trailing compression suffix (`.gz`, `.zst`).
 * @since 0.1.0
 */
export const formatOfPath = (path: string): { readonly format: FileFormat; readonly tsv: boolean } | undefined => {
  const base = NodePath.basename(path)
    .toLowerCase()
    .replace(/\.(gz|gzip|zst|zstd)$/, "")
  switch (NodePath.extname(base)) {
    case ".csv":
      return { format: "csv", tsv: false }
    case ".tsv":
    case ".tab":
      return { format: "csv", tsv: true }
    case ".parquet":
    case ".pq":
      return { format: "parquet", tsv: false }
    case ".json":
    case ".jsonl":
    case ".ndjson":
      return { format: "json", tsv: false }
    default:
      return undefined
  }
}

/**
 * Whether a path is a glob (`data/*.csv`), which DuckDB expands itself.
 * @since 0.1.0
 */
export const isGlob = (path: string): boolean => /[*?[]/.test(path)

/**
 * The directory a glob lists: its path up to the last separator before the first wildcard
 * (`/data/2024/*.csv` → `/data/2024/`).
 * @since 0.1.0
 */
export const globDirectory = (path: string): string => {
  const wildcard = path.search(/[*?[]/)
  const head = wildcard === -1 ? path : path.slice(0, wildcard)
  const cut = head.lastIndexOf(NodePath.sep)
  return cut === -1 ? `.${NodePath.sep}` : head.slice(0, cut + 1)
}

/**
 * The table function call that reads `path` as `format`, with an explicit CSV delimiter when given.
 * @since 0.1.0
 */
export const sourceSql = (format: FileFormat, path: string, delimiter: string | undefined): string => {
  const file = quoteString(path)
  switch (format) {
    case "csv":
      return delimiter === undefined
        ? `read_csv_auto(${file})`
        : `read_csv_auto(${file}, delim = ${quoteString(delimiter)})`
    case "parquet":
      return `read_parquet(${file})`
    case "json":
      return `read_json_auto(${file})`
  }
}

/**
 * When DuckDB's CSV sniffer finds no consistent dialect it silently reads each line as one
 * VARCHAR column named after the whole header line. Returns the delimiter that header suggests.
 * @since 0.1.0
 */
export const collapsedCsvDelimiter = (columnNames: ReadonlyArray<string>): string | undefined => {
  if (columnNames.length !== 1) return undefined
  const header = columnNames[0]!
  let best: string | undefined
  let bestCount = 0
  for (const candidate of [",", ";", "\t", "|"]) {
    const count = header.split(candidate).length - 1
    if (count > bestCount) {
      best = candidate
      bestCount = count
    }
  }
  return best
}
