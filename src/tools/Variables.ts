/**
 * The built-in tool over a session's data handles: `list_variables` (what data there is, and how
 * each derived handle was made). The `answer` tool, which belongs to the run rather than to the
 * data, is `Agent.answer` (it was `Variables.answer` before 0.2.0).
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as Data from "../data/Data.js"
import { brief, currentVersions } from "../data/lineageView.js"
import * as Tool from "./Tool.js"

/**
 * A handle as `list_variables` shows it: `Data.describe`, with the one-line lineage of a derived
 * handle after its name (`"lineage": "sql over sales (put)"`); sources (put by the user, files)
 * have none.
 */
const listed = (handle: Data.Handle, current: ReadonlyMap<string, string>) => {
  const described = Data.describe(handle)
  const lineage = brief(handle, current)
  if (lineage === undefined) return described
  const { name, ...rest } = described
  return { name, lineage, ...rest }
}

/**
 * `list_variables`: the session's handles with their snapshots (row counts, columns, samples), and
 * for each handle made from others a one-line lineage the model can cite: `sql over sales (put)`,
 * `javascript over revenue_by_region (sql)`; an input replaced since is marked `replaced since`.
 * The full chain is `Data.Store.lineage(name)`.
 * @since 0.1.0
 */
export const listVariables: Tool.Tool = Tool.make("list_variables", {
  description:
    "List the data handles in this session: each handle's name, what it is, and a small snapshot " +
    "(tables: row count, columns with types, sample rows). Use the names in SQL and JavaScript. " +
    'A handle made from others has a "lineage": how it was made and from which handles ' +
    "(e.g. sql over sales (put)); cite it when you use the handle. Handles without one were put by the user.",
  parameters: Schema.Struct({}),
  handler: (_params, context) =>
    Effect.map(context.data.list, (handles) => {
      if (handles.length === 0) return "No data handles yet."
      const current = currentVersions(handles)
      return handles.map((handle) => listed(handle, current))
    })
})
