/**
 * Lineage: how each handle was made, as JSON a session store keeps with the handle.
 *
 * Every version of a handle gets one {@link LineageStep}: its kind (`put`, `file`, `sql`,
 * `javascript`, or the name of the tool that put it), the code that made it, the exact versions of
 * the handles it read ({@link HandleVersion}: name and version id), and when. A handle carries its
 * whole chain (its own step first, then every ancestor's step once), fixed when it is made: a
 * handle overwritten later does not rewrite the history of what was derived from it; the lineage
 * a store reports marks such an ancestor `superseded`.
 *
 * The Schemas decode the JSON a session store keeps (`StoredHandle.lineage`) back into steps; the
 * helpers below them (merging chains) are internal. This module imports nothing else of ours, so
 * it can move to `core` should a core type (an answer's sources) need it.
 * @since 0.2.0
 */
import { Schema } from "effect"

// models

/**
 * One version of a handle: its name, and the id of the step that made that version.
 * @since 0.2.0
 */
export const HandleVersion = Schema.Struct({ name: Schema.String, id: Schema.String })
/** @since 0.2.0 */
export type HandleVersion = typeof HandleVersion.Type

/**
 * How one version of a handle was made, as recorded when it was made.
 *
 * - `kind`: `"put"` (a value put by the user), `"file"` (`putFile`: `path`, and `format` when
 *   given), `"sql"` (a query result: `code` is the statement), `"javascript"` (saved by the
 *   `javascript` tool: `code` is the program), or the name of another tool that put it.
 * - `inputs`: the handles it read, each the version it read (a handle replaced later keeps its old
 *   id here). Empty for sources.
 * - `createdAt`: milliseconds since the epoch, on Effect's `Clock`.
 * - `toolUseId`: the `tool_use` that made it, when a tool did.
 * @since 0.2.0
 */
export const LineageStep = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  kind: Schema.String,
  code: Schema.optionalKey(Schema.String),
  path: Schema.optionalKey(Schema.String),
  format: Schema.optionalKey(Schema.String),
  toolUseId: Schema.optionalKey(Schema.String),
  inputs: Schema.Array(HandleVersion),
  createdAt: Schema.Number
})
/** @since 0.2.0 */
export type LineageStep = typeof LineageStep.Type

/**
 * A handle's recorded chain: its own step first, then each ancestor's step once, every step before
 * the steps of its inputs. This is what `Handle.lineage` holds and a session store keeps as JSON.
 * @since 0.2.0
 */
export const LineageChain = Schema.Array(LineageStep)
/** @since 0.2.0 */
export type LineageChain = typeof LineageChain.Type

/**
 * A step as `lineage` reports it: the recorded step, and whether the handle of that name has been
 * replaced or removed since (`superseded`): the data that step made is no longer in the session.
 * @since 0.2.0
 */
export const LineageEntry = Schema.Struct({ ...LineageStep.fields, superseded: Schema.Boolean })
/** @since 0.2.0 */
export type LineageEntry = typeof LineageEntry.Type

/**
 * The lineage of one or more handles (`Store.lineage`, `Store.lineageOf`): the versions asked
 * about, and every step that made them back to their sources, newest first (each step before the
 * steps of its inputs; the last ones are `put` and `file` sources).
 *
 * @example
 * ```ts
 * const lineage = yield* session.data.lineage("revenue_by_region")
 * // lineage.steps[0]: { kind: "sql", code: "SELECT region, sum(revenue) ...", inputs: [{ name: "sales", id }] , ... }
 * // lineage.steps[1]: { kind: "put", name: "sales", inputs: [], superseded: false, ... }
 * ```
 * @since 0.2.0
 */
export const Lineage = Schema.Struct({ handles: Schema.Array(HandleVersion), steps: Schema.Array(LineageEntry) })
/** @since 0.2.0 */
export type Lineage = typeof Lineage.Type

// helpers (internal)

/**
 * The steps reachable from `roots`, found among `chains`, newest first: a depth-first walk over
 * inputs, in reverse post-order, so every step comes before the steps of its inputs. Iterative,
 * so a long chain cannot overflow the stack. An input whose step is not among `chains` (a handle
 * restored without its ancestors) is skipped.
 * @internal
 */
export const mergeChains = (
  roots: ReadonlyArray<LineageStep>,
  chains: ReadonlyArray<LineageChain>
): ReadonlyArray<LineageStep> => {
  const byId = new Map<string, LineageStep>()
  for (const chain of chains) for (const step of chain) if (!byId.has(step.id)) byId.set(step.id, step)
  for (const root of roots) byId.set(root.id, root)
  const done = new Set<string>()
  const postOrder: Array<LineageStep> = []
  // visited in reverse, so that after the final reversal the first root and first input come first
  for (let r = roots.length - 1; r >= 0; r--) {
    const root = roots[r]!
    if (done.has(root.id)) continue
    done.add(root.id)
    const stack: Array<{ readonly step: LineageStep; next: number }> = [{ step: root, next: root.inputs.length - 1 }]
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (top.next < 0) {
        postOrder.push(top.step)
        stack.pop()
        continue
      }
      const input = byId.get(top.step.inputs[top.next--]!.id)
      if (input === undefined || done.has(input.id)) continue
      done.add(input.id)
      stack.push({ step: input, next: input.inputs.length - 1 })
    }
  }
  return postOrder.reverse()
}

/**
 * The chain of a new version: its step, then the steps of the versions it read.
 * @internal
 */
export const chainOf = (step: LineageStep, inputs: ReadonlyArray<LineageChain>): LineageChain => {
  if (step.inputs.length === 0) return [step]
  // one input: its chain is already in order (the common case, a copy rather than a walk)
  const only = inputs.length === 1 ? inputs[0] : undefined
  if (step.inputs.length === 1 && only !== undefined && only[0]?.id === step.inputs[0]!.id) return [step, ...only]
  return mergeChains([step], inputs)
}
