/**
 * Guardrails built on hooks: a cost guard for the `sql` tool and a redaction hook for tool
 * results. Each is a `Hooks` value to list in `Agent.make({ hooks })`, and a small example of
 * writing your own.
 *
 * @example
 * ```ts
 * import { Agent, Guardrails } from "data-harness"
 * const agent = yield* Agent.make({
 *   hooks: [Guardrails.sqlCostGuard({ maxRows: 50_000_000 }), Guardrails.redact()]
 * })
 * ```
 * @since 0.2.0
 */
import { Effect } from "effect"
import type * as Data from "../data/Data.js"
import * as ReadOnly from "../data/duckdb/readOnly.js"
import { asSubquery, quoteString } from "../data/duckdb/sqlText.js"
import * as Hooks from "./Hooks.js"

// SQL cost guard

/**
 * Options of {@link sqlCostGuard}.
 * @since 0.2.0
 */
export interface SqlCostGuardOptions {
  /** The most rows any step of the query's plan may be estimated to handle. */
  readonly maxRows: number
  /** The tools whose `query` input is guarded (default `["sql"]`). */
  readonly tools?: ReadonlyArray<string> | undefined
}

interface PlanNode {
  readonly name?: string
  readonly children?: ReadonlyArray<PlanNode>
  readonly extra_info?: { readonly "Estimated Cardinality"?: string | number }
}

/**
 * The largest number of rows any step of a DuckDB plan (`EXPLAIN (FORMAT JSON)`) is estimated to
 * handle. A cross product without its own estimate is the product of its inputs'.
 * @since 0.2.0
 */
export const planRows = (plan: ReadonlyArray<PlanNode> | PlanNode): number => {
  const rows = (node: PlanNode): { own: number; max: number } => {
    const children = (node.children ?? []).map(rows)
    const maxChild = children.reduce((max, child) => Math.max(max, child.max), 0)
    const given = Number(node.extra_info?.["Estimated Cardinality"])
    const own = Number.isFinite(given)
      ? given
      : node.name === "CROSS_PRODUCT" && children.length > 0
        ? children.reduce((product, child) => product * child.own, 1)
        : children.reduce((max, child) => Math.max(max, child.own), 0)
    return { own, max: Math.max(own, maxChild) }
  }
  const nodes = Array.isArray(plan) ? plan : [plan as PlanNode]
  return nodes.reduce((max, node) => Math.max(max, rows(node).max), 0)
}

/**
 * DuckDB's estimate of the most rows any step of `sql` handles, from `EXPLAIN (FORMAT JSON)` run
 * through the session's data store (which loads the handles the query names, and runs nothing
 * else); `undefined` when DuckDB cannot plan it (the `sql` tool then reports why itself).
 * @since 0.2.0
 */
export const estimateRows = (store: Data.Store, sql: string): Effect.Effect<number | undefined> =>
  Effect.gen(function* () {
    const wrapped = asSubquery(sql)
    // one statement, as the tool runs it, or nothing is planned
    const parsed = yield* Effect.result(store.query(`SELECT json_serialize_sql(${quoteString(wrapped)}) AS ast`))
    if (parsed._tag === "Failure") return undefined
    const tree = ReadOnly.readParsed(parsed.success.rows[0]?.ast)
    // what the sql tool would refuse is not planned (nor are its files read)
    if (tree === undefined || tree.error || tree.statements.length !== 1) return undefined
    if (ReadOnly.forbiddenReference(tree.statements) !== undefined) return undefined
    const explained = yield* Effect.result(store.query(`EXPLAIN (FORMAT JSON) ${wrapped}`))
    if (explained._tag === "Failure") return undefined
    const text = explained.success.rows.find((row) => row.explain_key === "physical_plan")?.explain_value
    if (typeof text !== "string") return undefined
    try {
      return planRows(JSON.parse(text) as ReadonlyArray<PlanNode>)
    } catch {
      return undefined
    }
  })

/**
 * A `beforeTool` hook that runs DuckDB's `EXPLAIN` on each `sql` query first and denies the call
 * (the model reads why) when a step of the plan is estimated to handle more than `maxRows` rows,
 * so the model filters, aggregates or samples first. DuckDB's estimates are estimates: joins on
 * inequalities and `LIMIT` are not modelled well; treat `maxRows` as an order of magnitude.
 *
 * @example
 * ```ts
 * Agent.make({ hooks: [Guardrails.sqlCostGuard({ maxRows: 10_000_000 })] })
 * ```
 * @since 0.2.0
 */
export const sqlCostGuard = (options: SqlCostGuardOptions): Hooks.Hooks => {
  const tools = new Set(options.tools ?? ["sql"])
  return {
    beforeTool: (call) => {
      const query = (call.input as { readonly query?: unknown } | null | undefined)?.query
      if (!tools.has(call.name) || typeof query !== "string") return Effect.void
      return Effect.map(estimateRows(call.data, query), (rows) =>
        rows === undefined || rows <= options.maxRows
          ? undefined
          : Hooks.deny(
              `Not run: DuckDB estimates that this query handles about ${Math.round(rows).toLocaleString("en-US")} rows ` +
                `in one step, over the limit of ${options.maxRows.toLocaleString("en-US")}. Make it cheaper: filter ` +
                "first, aggregate before joining, avoid cross joins, or query a sample (USING SAMPLE 10%)."
            )
      )
    }
  }
}

// redaction

/**
 * A pattern to mask and what to mask it with.
 * @since 0.2.0
 */
export interface Redaction {
  readonly pattern: RegExp
  readonly replacement: string
}

/**
 * What {@link redact} masks by default: email addresses, and API keys and secrets of common
 * shapes (`sk-…` and `sk-ant-…`, AWS access key ids, GitHub and Slack tokens, bearer tokens,
 * PEM private keys).
 * @since 0.2.0
 */
export const defaultRedactions: ReadonlyArray<Redaction> = [
  { pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, replacement: "[email]" },
  { pattern: /\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}/g, replacement: "[api key]" },
  { pattern: /\bAKIA[0-9A-Z]{16}\b/g, replacement: "[aws key]" },
  { pattern: /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, replacement: "[github token]" },
  { pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, replacement: "[slack token]" },
  { pattern: /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g, replacement: "Bearer [token]" },
  {
    pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
    replacement: "[private key]"
  }
]

/**
 * `text` with every match of `redactions` replaced.
 * @since 0.2.0
 */
export const redactText = (text: string, redactions: ReadonlyArray<Redaction> = defaultRedactions): string => {
  let out = text
  for (const { pattern, replacement } of redactions) out = out.replace(pattern, replacement)
  return out
}

/**
 * An `afterTool` hook that masks email addresses and secrets (or your `redactions`) in every tool
 * result before the model, the history and the event stream see it. The data itself is not
 * changed: a handle still holds the real values (redact before `put` to keep them out entirely).
 *
 * @example
 * ```ts
 * Agent.make({ hooks: [Guardrails.redact()] })
 * Agent.make({ hooks: [Guardrails.redact({ redactions: [{ pattern: /\d{3}-\d{2}-\d{4}/g, replacement: "[ssn]" }] })] })
 * ```
 * @since 0.2.0
 */
export const redact = (options?: {
  readonly redactions?: ReadonlyArray<Redaction> | undefined
  readonly tools?: ReadonlyArray<string> | undefined
}): Hooks.Hooks => {
  const redactions = options?.redactions ?? defaultRedactions
  const tools = options?.tools === undefined ? undefined : new Set(options.tools)
  return {
    afterTool: (call) =>
      Effect.sync(() => {
        if (tools !== undefined && !tools.has(call.name)) return undefined
        const masked = redactText(call.result.content, redactions)
        return masked === call.result.content
          ? undefined
          : Hooks.replaceResult(masked, { isError: call.result.isError })
      })
  }
}
