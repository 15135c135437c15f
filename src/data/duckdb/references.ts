/**
 * The tables a statement reads, from DuckDB's own parse of it (`json_serialize_sql`): every base
 * table reference in the statement, its subqueries and its CTEs, except names that refer to a CTE
 * in scope, and tables outside the session database (another catalog or schema).
 *
 * Scope follows DuckDB: a CTE's name is in scope in the body of its `WITH` and in the CTEs after
 * it, and in its own definition only when it is recursive (`WITH sales AS (FROM sales)` reads the
 * table `sales`).
 * @since 0.2.0
 */

const SESSION_SCHEMAS = new Set(["", "main"])
const SESSION_CATALOGS = new Set(["", "memory"])

interface CteEntry {
  readonly key: string
  readonly value: unknown
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** The CTEs a node declares (`cte_map.map`), if any. */
const ctesOf = (record: Record<string, unknown>): ReadonlyArray<CteEntry> => {
  const map = isRecord(record.cte_map) ? record.cte_map.map : undefined
  if (!Array.isArray(map)) return []
  return map.flatMap((entry) =>
    isRecord(entry) && typeof entry.key === "string" ? [{ key: entry.key.toLowerCase(), value: entry.value }] : []
  )
}

/** Whether a CTE's definition is recursive (it may name itself). */
const isRecursive = (value: unknown): boolean =>
  isRecord(value) &&
  isRecord(value.query) &&
  isRecord(value.query.node) &&
  value.query.node.type === "RECURSIVE_CTE_NODE"

/** The session table a base table reference names (lower-cased), or `undefined` when it names none. */
const sessionTable = (record: Record<string, unknown>): string | undefined => {
  if (record.type !== "BASE_TABLE" || typeof record.table_name !== "string") return undefined
  const schema = String(record.schema_name ?? "").toLowerCase()
  const catalog = String(record.catalog_name ?? "").toLowerCase()
  return SESSION_SCHEMAS.has(schema) && SESSION_CATALOGS.has(catalog) ? record.table_name.toLowerCase() : undefined
}

/**
 * The tables (lower-cased names, in order of first appearance) that the statements of a parse
 * read. Iterative, so a deeply nested statement cannot overflow the stack.
 * @since 0.2.0
 */
export const tableReferences = (statements: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const found = new Set<string>()
  // each item: a node to visit and the CTE names in scope there; pushed in reverse to visit in order
  const stack: Array<{ readonly node: unknown; readonly scope: ReadonlySet<string> }> = []
  const push = (nodes: ReadonlyArray<{ readonly node: unknown; readonly scope: ReadonlySet<string> }>) => {
    for (let i = nodes.length - 1; i >= 0; i--) stack.push(nodes[i]!)
  }
  push(statements.map((node) => ({ node, scope: new Set<string>() })))
  while (stack.length > 0) {
    const { node, scope } = stack.pop()!
    if (Array.isArray(node)) {
      push(node.map((child) => ({ node: child, scope })))
      continue
    }
    if (!isRecord(node)) continue
    const table = sessionTable(node)
    if (table !== undefined && !scope.has(table)) found.add(table)
    const ctes = ctesOf(node)
    const visits: Array<{ readonly node: unknown; readonly scope: ReadonlySet<string> }> = []
    let inner = scope
    for (const cte of ctes) {
      const own = new Set(inner)
      own.add(cte.key)
      visits.push({ node: cte.value, scope: isRecursive(cte.value) ? own : inner })
      inner = own
    }
    for (const [key, value] of Object.entries(node)) {
      if (key !== "cte_map" || ctes.length === 0) visits.push({ node: value, scope: inner })
    }
    push(visits)
  }
  return [...found]
}
