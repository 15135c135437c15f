/**
 * The data tools in one place: `sql` (DuckDB over the session's handles) and `javascript` (a
 * QuickJS sandbox with the handles in scope).
 *
 * @example
 * ```ts
 * import { Agent, DataTools } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: DataTools.all })
 * // or with other limits:
 * const strict = yield* Agent.make({ dataTools: DataTools.make({ javascript: { timeoutMs: 1_000 } }) })
 * ```
 * @since 0.1.0
 */

import * as JavaScript from "./JavaScript.js"
import * as Sql from "./Sql.js"
import type * as Tool from "./Tool.js"

/**
 * Options of {@link make}: the options of each tool.
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
