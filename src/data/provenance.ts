/**
 * Where the handle store's handles come from: the origin of a put with a source (its inputs
 * resolved to versions), the handles a SQL statement reads, and the lineage of a set of handles.
 * @internal
 */
import { Effect } from "effect"
import type { DataError } from "../core/HarnessError.js"
import { readParsed } from "./duckdb/readOnly.js"
import { tableReferences } from "./duckdb/references.js"
import { asSubquery } from "./duckdb/sqlText.js"
import * as DuckDB from "./duckdb.js"
import { type Lineage, mergeChains } from "./lineage.js"
import { versionOf } from "./lineageView.js"
import type { Handle, Source } from "./model.js"
import type { HandleIndex } from "./names.js"
import { isSqlTable } from "./snapshots.js"
import { notFound } from "./storeErrors.js"
import { mentions, type TableSync } from "./tableSync.js"
import type { Origin } from "./versions.js"

/** The origin of a put with `source`: its inputs as the version given, or the one of that name now. */
export const originOf = (handles: HandleIndex, source: Source): Effect.Effect<Origin, DataError> =>
  Effect.suspend(() => {
    const inputs: Array<Handle> = []
    for (const input of source.inputs ?? []) {
      const handle =
        typeof input === "string" || input.lineage === undefined || input.lineage.length === 0
          ? handles.get(typeof input === "string" ? input : input.name)
          : input
      if (handle === undefined) {
        return Effect.fail(notFound(typeof input === "string" ? input : input.name, handles.list()))
      }
      inputs.push(handle)
    }
    const { kind, code, toolUseId } = source
    return Effect.succeed({
      kind,
      inputs,
      ...(code !== undefined ? { code } : {}),
      ...(toolUseId !== undefined ? { toolUseId } : {})
    })
  })

/**
 * The handles a statement reads, as the versions `db` holds (`tables` says which it loaded): the
 * tables DuckDB's parser finds in it (CTE names and tables outside the session left out), or,
 * should the parse fail, the table handles it mentions.
 */
export const handlesReadBy = (
  db: DuckDB.Database,
  sql: string,
  handles: HandleIndex,
  tables: TableSync
): Effect.Effect<ReadonlyArray<Handle>> => {
  const parse = `SELECT json_serialize_sql(${DuckDB.quoteString(asSubquery(sql))}) AS ast`
  return Effect.map(Effect.result(db.query(parse)), (result) => {
    const parsed = result._tag === "Success" ? readParsed(result.success.rows[0]?.ast) : undefined
    const text = sql.toLowerCase()
    const names =
      parsed !== undefined && !parsed.error
        ? tableReferences(parsed.statements)
        : [...handles.values()]
            .filter((handle) => isSqlTable(handle) && mentions(text, handle.name.toLowerCase()))
            .map((handle) => handle.name)
    return names.flatMap((name) => {
      const handle = tables.loadedHandle(name) ?? handles.get(name)
      return handle === undefined ? [] : [handle]
    })
  })
}

/** The lineage of the handles `names` (see `Store.lineageOf`), each step marked superseded or not. */
export const lineageOf = (handles: HandleIndex, names: ReadonlyArray<string>): Effect.Effect<Lineage, DataError> =>
  Effect.suspend(() => {
    const found: Array<Handle> = []
    for (const name of names) {
      const handle = handles.get(name)
      if (handle === undefined) return Effect.fail(notFound(name, handles.list()))
      found.push(handle)
    }
    const chains = found.map((handle) => handle.lineage ?? [])
    const roots = chains.flatMap((chain) => (chain[0] === undefined ? [] : [chain[0]]))
    const current = (name: string) => {
      const handle = handles.get(name)
      return handle === undefined ? undefined : versionOf(handle)
    }
    const steps = mergeChains(roots, chains).map((step) => ({ ...step, superseded: current(step.name) !== step.id }))
    const versions = new Map<string, { readonly name: string; readonly id: string }>()
    for (const handle of found) {
      const id = versionOf(handle)
      if (id !== undefined) versions.set(id, { name: handle.name, id })
    }
    return Effect.succeed({ handles: [...versions.values()], steps })
  })
