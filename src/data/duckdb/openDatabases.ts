/**
 * The count of DuckDB databases open in this process, as an Effect `Metric` gauge: the public
 * signal that a database was released (no garbage collection involved).
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"

/**
 * How many DuckDB databases are open in this process (session databases and the short-lived ones
 * `putFile` reads a file with). It goes up when one opens and down when it is closed.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Data } from "data-harness"
 * const open = yield* Metric.value(Data.openDatabases) // { value: 0 } once every session closed
 * ```
 * @since 0.1.0
 */
export const openDatabases = Metric.gauge("data_harness_duckdb_open_databases", {
  description: "DuckDB databases open in this process"
})

let count = 0

/**
 * Records that a database opened (`+1`) or closed (`-1`). The count is process-wide, and the gauge
 * is set to it in the registry of the fiber that opened or closed the database.
 * @since 0.1.0
 */
export const record = (delta: 1 | -1): Effect.Effect<void> =>
  Effect.suspend(() => {
    count += delta
    return Metric.update(openDatabases, count)
  })
