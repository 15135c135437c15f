/**
 * One whole model turn, provider-independent: why it stopped, its content blocks, its usage.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Message from "./Message.js"
import * as Usage from "./Usage.js"

/**
 * Why a model turn ended. A reason from a newer API version is kept as its string.
 *
 * | reason | meaning |
 * | --- | --- |
 * | `end_turn` | the model finished |
 * | `tool_use` | the model wants tool results |
 * | `max_tokens` | the output limit cut the turn short (a cut tool call is never run) |
 * | `stop_sequence` | a stop sequence matched |
 * | `pause_turn` | a long server-tool turn paused; the harness continues it |
 * | `refusal` | the model declined |
 * @since 0.1.0
 */
export const StopReason = Schema.Literals([
  "end_turn",
  "tool_use",
  "max_tokens",
  "stop_sequence",
  "pause_turn",
  "refusal",
  "model_context_window_exceeded"
])
/** @since 0.1.0 */
export type StopReason = typeof StopReason.Type

/**
 * A stop reason: a known one, or the string a newer API sent.
 * @since 0.1.0
 */
export const AnyStopReason = Schema.Union([StopReason, Schema.String])
/** @since 0.1.0 */
export type AnyStopReason = StopReason | (string & {})

/**
 * One whole model turn.
 * @since 0.1.0
 */
export class NormalizedResponse extends Schema.Class<NormalizedResponse>("data-harness/NormalizedResponse")({
  id: Schema.optionalKey(Schema.String),
  model: Schema.optionalKey(Schema.String),
  stopReason: AnyStopReason,
  stopSequence: Schema.optionalKey(Schema.NullOr(Schema.String)),
  content: Schema.Array(Message.ContentBlock),
  usage: Usage.Usage
}) {
  /** The text of the turn: its text blocks joined. */
  get text(): string {
    return Message.textOf(this.content)
  }
}
