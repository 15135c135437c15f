/**
 * The events the harness adds to a run's stream, beside the provider's: `tool_result`, `discard`,
 * `approval_request` and `compaction` (the table in `StreamEvent` says when each comes).
 *
 * @internal Reached through `StreamEvent`.
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Harness event: the harness ran a tool. `content` is what the model sees.
 * @since 0.1.0
 */
export const ToolResult = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  tool_name: Schema.String,
  content: Schema.Union([Schema.String, Schema.Array(Schema.Unknown)]),
  is_error: Schema.Boolean
})
/** @since 0.1.0 */
export type ToolResult = typeof ToolResult.Type

/**
 * Harness event: the current turn failed after it had streamed output and is being retried
 * (attempt `attempt`, because of `reason`). A consumer drops what it showed of this turn since its
 * `message_start`; the new attempt's events follow, from a fresh `message_start`. The agent emits
 * it before its own retries; a fallback chain (`Provider.fallback`) emits it in its stream when it
 * moves on to its next provider after output (so `Provider.collect` and the agent's fold start the
 * turn over, counting the dropped attempt's usage).
 * @since 0.1.0
 */
export const Discard = Schema.Struct({
  type: Schema.Literal("discard"),
  attempt: Schema.Number,
  reason: Schema.String
})
/** @since 0.1.0 */
export type Discard = typeof Discard.Type

/**
 * Harness event: the tool call `tool_use_id` waits for approval (see `Approval`): `session.approve(id)`
 * runs it, `session.deny(id, reason)` answers it with `reason` as an error result. `input` is what it
 * would run with.
 * @since 0.2.0
 */
export const ApprovalRequest = Schema.Struct({
  type: Schema.Literal("approval_request"),
  tool_use_id: Schema.String,
  tool_name: Schema.String,
  input: Schema.Unknown,
  reason: Schema.optionalKey(Schema.String)
})
/** @since 0.2.0 */
export type ApprovalRequest = typeof ApprovalRequest.Type

/**
 * Harness event: the session's history was compacted before the next model turn (see
 * `Compaction`): `summarised` older messages replaced by a summary, tool results moved into the
 * data handles `offloaded`, the history's estimated tokens before and after.
 * @since 0.2.0
 */
export const Compaction = Schema.Struct({
  type: Schema.Literal("compaction"),
  reason: Schema.Literals(["window", "manual"]),
  summarised: Schema.Number,
  offloaded: Schema.Array(Schema.String),
  tokens_before: Schema.Number,
  tokens_after: Schema.Number
})
/** @since 0.2.0 */
export type Compaction = typeof Compaction.Type
