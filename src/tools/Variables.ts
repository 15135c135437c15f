/**
 * The built-in tool over a session's data handles: `list_variables` (what data there is). The
 * `answer` tool, which belongs to the run rather than to the data, is `Agent.answer` (it was
 * `Variables.answer` before 0.2.0).
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as Data from "../data/Data.js"
import * as Tool from "./Tool.js"

/**
 * `list_variables`: the session's handles with their snapshots (row counts, columns, samples).
 * @since 0.1.0
 */
export const listVariables: Tool.Tool = Tool.make("list_variables", {
  description:
    "List the data handles in this session: each handle's name, what it is, and a small snapshot " +
    "(tables: row count, columns with types, sample rows). Use the names in SQL and JavaScript.",
  parameters: Schema.Struct({}),
  handler: (_params, context) =>
    Effect.map(context.data.list, (handles) =>
      handles.length === 0 ? "No data handles yet." : handles.map(Data.describe)
    )
})
