/**
 * How a DuckDB database is opened: its resource limits, where it spills, and which files its SQL
 * may read. Every database is opened locked down: extensions are neither installed nor loaded
 * automatically, external access (files, URLs, extensions) is off except for the paths and
 * directories allowed here, and the configuration is locked, so no statement can undo any of it.
 * @since 0.1.0
 */
import * as Os from "node:os"
import { Context } from "effect"
import { SqlError } from "./errors.js"
import { quoteString } from "./sqlText.js"

/**
 * The resource limits of a session database, each optional.
 *
 * - `memoryLimitBytes`: most memory DuckDB may use (default a quarter of the machine's memory);
 *   past it DuckDB spills to its temp directory, and fails a statement that cannot spill.
 * - `threads`: most threads one database runs a statement on (default the number of cores, at
 *   most 4).
 * - `maxTempDirectoryBytes`: most bytes DuckDB may spill to disk (default DuckDB's own, 90% of
 *   the free disk space).
 * @since 0.1.0
 */
export interface Limits {
  readonly memoryLimitBytes?: number | undefined
  readonly threads?: number | undefined
  readonly maxTempDirectoryBytes?: number | undefined
}

/**
 * The limits session databases open with, read from the context when a database opens: provide
 * it to change them for every session of a program (a store made with its own limits uses those).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Data } from "data-harness"
 * const answer = yield* agent.run("…").pipe(
 *   Effect.provideService(Data.DatabaseLimits, { memoryLimitBytes: 2 ** 30, threads: 2 })
 * )
 * ```
 * @since 0.1.0
 */
export const DatabaseLimits: Context.Reference<Limits> = Context.Reference<Limits>("data-harness/Data/DatabaseLimits", {
  defaultValue: () => ({})
})

/**
 * How to open one database: its limits, its temp directory, and what its SQL may read.
 * @since 0.1.0
 */
export interface Settings extends Limits {
  /** Where DuckDB spills (default DuckDB's own `.tmp` in the working directory). */
  readonly tempDirectory?: string | undefined
  /** Files SQL may read, by absolute path. */
  readonly allowedPaths?: ReadonlyArray<string> | undefined
  /** Directories (absolute, ending in a separator) whose files SQL may read. */
  readonly allowedDirectories?: ReadonlyArray<string> | undefined
}

/**
 * The default memory limit: a quarter of the machine's memory.
 * @since 0.1.0
 */
export const defaultMemoryLimitBytes = (): number => Math.floor(Os.totalmem() / 4)

/**
 * The default thread cap: the number of cores, at most 4.
 * @since 0.1.0
 */
export const defaultThreads = (): number => Math.max(1, Math.min(4, Os.availableParallelism()))

const invalid = (option: string, value: unknown, expected: string) =>
  new SqlError({ message: `Could not open DuckDB: ${option} is ${String(value)}; expected ${expected}.` })

const checkWhole = (option: string, value: number | undefined, min: number): SqlError | undefined =>
  value === undefined || (Number.isSafeInteger(value) && value >= min)
    ? undefined
    : invalid(option, value, `a whole number of at least ${min}`)

/**
 * The options DuckDB is created with (before any statement runs, so no query can ever trigger an
 * extension download), or the first invalid limit.
 * @since 0.1.0
 */
export const instanceOptions = (settings: Settings): Record<string, string> | SqlError => {
  const problem =
    checkWhole("memoryLimitBytes", settings.memoryLimitBytes, 1) ??
    checkWhole("threads", settings.threads, 1) ??
    checkWhole("maxTempDirectoryBytes", settings.maxTempDirectoryBytes, 0)
  if (problem !== undefined) return problem
  const options: Record<string, string> = {
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
    allow_community_extensions: "false",
    memory_limit: `${settings.memoryLimitBytes ?? defaultMemoryLimitBytes()}B`,
    threads: String(settings.threads ?? defaultThreads())
  }
  if (settings.tempDirectory !== undefined) options.temp_directory = settings.tempDirectory
  if (settings.maxTempDirectoryBytes !== undefined) {
    options.max_temp_directory_size = `${settings.maxTempDirectoryBytes}B`
  }
  return options
}

const list = (items: ReadonlyArray<string>): string => `[${items.map(quoteString).join(", ")}]`

/**
 * The statements that close the database to the outside once it is open: the allowed paths and
 * directories, external access off, and the configuration locked (in this order: each is refused
 * after the next).
 * @since 0.1.0
 */
export const lockdownStatements = (settings: Settings): ReadonlyArray<string> => [
  ...(settings.allowedPaths?.length ? [`SET allowed_paths = ${list(settings.allowedPaths)}`] : []),
  ...(settings.allowedDirectories?.length ? [`SET allowed_directories = ${list(settings.allowedDirectories)}`] : []),
  "SET enable_external_access = false",
  "SET lock_configuration = true"
]
