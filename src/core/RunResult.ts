/**
 * The outcome of one ask: the final text, how the run ended, and what it cost.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AnyStopReason } from "./NormalizedResponse.js"
import { Usage } from "./Usage.js"

/**
 * How a run ended: the model finished (`completed`), or it still wanted tools after the last
 * allowed turn (`max_turns`).
 * @since 0.1.0
 */
export const Status = Schema.Literals(["completed", "max_turns"])
/** @since 0.1.0 */
export type Status = typeof Status.Type

/**
 * The outcome of one ask.
 *
 * - `text`: the final turn's text
 * - `turns`: model turns taken; `attempts`: provider calls made, retries included
 * - `stopReason`: why the last turn ended
 * - `usage`: summed over every turn and attempt
 * - `value`: what the model passed to the `answer` tool, if it did
 * @since 0.1.0
 */
export class RunResult extends Schema.Class<RunResult>("data-harness/RunResult")({
  text: Schema.String,
  status: Status,
  turns: Schema.Number,
  attempts: Schema.Number,
  stopReason: AnyStopReason,
  usage: Usage,
  value: Schema.optionalKey(Schema.Unknown)
}) {}
