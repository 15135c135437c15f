/**
 * The built-in `answer` tool: the model gives the run's structured result with it
 * (`RunResult.value`). It belongs to the run, not to the data, so it lives beside the loop;
 * `Agent.answer` is its public name.
 *
 * @example
 * ```ts
 * import { Agent } from "data-harness"
 * // added by default; to pick the built-ins yourself:
 * const agent = yield* Agent.make({ builtinTools: false, tools: [Agent.answer, myTool] })
 * ```
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Tool from "../tools/Tool.js"

/**
 * `answer`: sets the run's structured result (`RunResult.value`) to the given value.
 * @since 0.2.0
 */
export const answer: Tool.Tool = Tool.make("answer", {
  description:
    "Give the final answer as a value (a number, string, list or object). " +
    "Call it once you have the result; it becomes the run's structured answer.",
  parameters: Schema.Struct({ value: Schema.Unknown }),
  handler: ({ value }, context) => Effect.as(context.setAnswer(value), "Answer recorded.")
})
