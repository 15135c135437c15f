/**
 * Built-in tools over a session's data handles: `list_variables` (what data there is) and
 * `answer` (the run's structured result, `RunResult.value`).
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

/**
 * `answer`: sets the run's structured result (`RunResult.value`) to the given value.
 * @since 0.1.0
 */
export const answer: Tool.Tool = Tool.make("answer", {
  description:
    "Give the final answer as a value (a number, string, list or object). " +
    "Call it once you have the result; it becomes the run's structured answer.",
  parameters: Schema.Struct({ value: Schema.Unknown }),
  handler: ({ value }, context) => Effect.as(context.setAnswer(value), "Answer recorded.")
})
