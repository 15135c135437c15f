/**
 * Lineage as seen from the handles a store holds: the version a handle is now, and the one-line
 * form `list_variables` shows.
 * @internal
 */
import type { LineageStep } from "./lineage.js"
import type { Handle } from "./model.js"

/**
 * The id of the version a handle is now, if it has a recorded chain.
 * @internal
 */
export const versionOf = (handle: Handle): string | undefined => handle.lineage?.[0]?.id

/** Most inputs named in a brief; the rest are counted. */
const BRIEF_INPUTS = 5

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

/**
 * A step's kind in a few words: `put`, `file orders.parquet`, `sql`, `javascript`, a tool name.
 * @internal
 */
export const kindWords = (step: LineageStep): string =>
  step.kind === "file" && step.path !== undefined ? `file ${basename(step.path)}` : step.kind

/**
 * The one-line lineage of a derived handle, as `list_variables` shows it: how it was made and what
 * it read, one level deep (`sql over sales (put)`, `javascript over revenue_by_region (sql),
 * sales (put, replaced since)`). `current` gives the version each handle name is now (lower-cased
 * names). `undefined` for a source (put by the user, or a file), whose snapshot says enough.
 * @internal
 */
export const brief = (handle: Handle, current: ReadonlyMap<string, string>): string | undefined => {
  const chain = handle.lineage
  const step = chain?.[0]
  if (chain === undefined || step === undefined) return undefined
  if (step.inputs.length === 0) return step.kind === "put" || step.kind === "file" ? undefined : step.kind
  const inputs = step.inputs.slice(0, BRIEF_INPUTS).map((input) => {
    const made = chain.find((candidate) => candidate.id === input.id)
    const words = [made === undefined ? "?" : kindWords(made)]
    if (current.get(input.name.toLowerCase()) !== input.id) words.push("replaced since")
    return `${input.name} (${words.join(", ")})`
  })
  const more = step.inputs.length > BRIEF_INPUTS ? ` and ${step.inputs.length - BRIEF_INPUTS} more` : ""
  return `${step.kind} over ${inputs.join(", ")}${more}`
}

/**
 * The version each handle is now, by lower-cased name, for {@link brief}.
 * @internal
 */
export const currentVersions = (handles: Iterable<Handle>): ReadonlyMap<string, string> => {
  const versions = new Map<string, string>()
  for (const handle of handles) {
    const id = versionOf(handle)
    if (id !== undefined) versions.set(handle.name.toLowerCase(), id)
  }
  return versions
}
