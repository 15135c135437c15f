/**
 * The data tools in one place: `sql` (DuckDB over the session's handles) and `javascript` (a
 * QuickJS sandbox with the handles in scope).
 *
 * @example
 * ```ts
 * import { Agent, DataTools } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: DataTools.all })
 * // or with other limits: a 10 s SQL time limit, results of at most 100,000 rows, 1 s of JavaScript
 * const strict = yield* Agent.make({
 *   dataTools: DataTools.make({ sql: { timeoutMs: 10_000, maxResultRows: 100_000 }, javascript: { timeoutMs: 1_000 } })
 * })
 * ```
 * @since 0.1.0
 */

import * as JavaScript from "./JavaScript.js"
import * as Sql from "./Sql.js"
import type * as Tool from "./Tool.js"

/**
 * Options of {@link make}: the options of each tool. `sql`: `inlineRows`, `inlineChars`,
 * `timeoutMs` (default 30,000), `maxResultRows` (default 1,000,000); an invalid one is reported by
 * `Tool.validate` as `InvalidOptions`. The session database's memory, threads and spill are
 * `Data.DatabaseLimits`.
 * @since 0.1.0
 */
export interface Options {
  readonly sql?: Sql.Options | undefined
  readonly javascript?: JavaScript.Options | undefined
}

/**
 * The `sql` and `javascript` tools with the given limits.
 * @since 0.1.0
 */
export const make = (options: Options = {}): ReadonlyArray<Tool.Tool> => [
  Sql.make(options.sql),
  JavaScript.make(options.javascript)
]

/**
 * The `sql` and `javascript` tools with their default limits.
 * @since 0.1.0
 */
export const all: ReadonlyArray<Tool.Tool> = [Sql.sql, JavaScript.javascript]
