/**
 * A handle's versions: what made a new version (its lineage step) and the handle literal a store
 * keeps.
 * @internal
 */
import type { LineageStep } from "./lineage.js"
import { versionOf } from "./lineageView.js"
import type { Handle } from "./model.js"

/** What made a new version, before it has a name, an id and a time. */
export interface Origin {
  readonly kind: string
  readonly code?: string | undefined
  readonly path?: string | undefined
  readonly format?: string | undefined
  readonly toolUseId?: string | undefined
  /** The versions it read, each with its lineage. */
  readonly inputs: ReadonlyArray<Handle>
}

export const PUT_BY_USER: Origin = { kind: "put", inputs: [] }

const NO_INPUTS: ReadonlyArray<never> = []

/** The step of a new version of `name`, with id `id`, made at `now` (ms) from `origin`. */
export const stepOf = (id: string, name: string, origin: Origin, now: number): LineageStep => {
  if (origin.inputs.length === 0 && origin.code === undefined && origin.path === undefined) {
    // the common case (a put) in one shape, without the spreads below
    return origin.toolUseId === undefined
      ? { id, name, kind: origin.kind, inputs: NO_INPUTS, createdAt: now }
      : { id, name, kind: origin.kind, toolUseId: origin.toolUseId, inputs: NO_INPUTS, createdAt: now }
  }
  const inputs: Array<{ readonly name: string; readonly id: string }> = []
  const seen = new Set<string>()
  for (const handle of origin.inputs) {
    const id = versionOf(handle)
    if (id === undefined || seen.has(id)) continue
    seen.add(id)
    inputs.push({ name: handle.name, id })
  }
  return {
    id,
    name,
    kind: origin.kind,
    ...(origin.code !== undefined ? { code: origin.code } : {}),
    ...(origin.path !== undefined ? { path: origin.path } : {}),
    ...(origin.format !== undefined ? { format: origin.format } : {}),
    ...(origin.toolUseId !== undefined ? { toolUseId: origin.toolUseId } : {}),
    inputs,
    createdAt: now
  }
}

/**
 * The handle as stored: a literal with the fields set, in one order. Not `{ ...handle, name }`
 * plus more fields: in V8 a property added to a spread clone makes a map for every object (~450
 * bytes per handle, and megamorphic reads in every query's table sync: 10x slower with 100,000
 * handles).
 */
export const storedHandle = (
  handle: Handle,
  name: string,
  description: string | undefined,
  lineage: Handle["lineage"]
): Handle => {
  const stored: { -readonly [K in keyof Handle]: Handle[K] } = { name, value: handle.value, snapshot: handle.snapshot }
  if (description !== undefined) stored.description = description
  if (handle.path !== undefined) stored.path = handle.path
  if (handle.format !== undefined) stored.format = handle.format
  if (handle.query !== undefined) stored.query = handle.query
  if (lineage !== undefined) stored.lineage = lineage
  return stored
}
