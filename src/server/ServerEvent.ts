/**
 * The events a server session streams: every `StreamEvent` of an ask (the Anthropic-shaped
 * provider events, `tool_result` and `discard`) framed by two server events, `ask_start` and
 * `ask_end`.
 *
 * | type | when | fields |
 * | --- | --- | --- |
 * | `ask_start` | an ask was accepted | `ask_id`, `prompt`, `resumed` (`true` when it continues an ask left waiting for approval) |
 * | (every `StreamEvent`) | as the agent runs | as in `StreamEvent` |
 * | `ask_end` | the ask ended, whatever the way | `ask_id`, `status` (`completed`, `max_turns`, `interrupted`, `failed`), `usage` of the ask, `error` when it failed |
 *
 * On the wire each is one SSE event: `id:` its position in the session's event log, `event:` its
 * `type`, `data:` its JSON.
 *
 * @example
 * ```ts
 * import { ServerEvent } from "data-harness/server"
 * const ended = (event: ServerEvent.ServerEvent) => event.type === "ask_end"
 * ```
 * @since 0.2.0
 */
import { Schema } from "effect"
import { StreamEvent } from "../index.js"

/**
 * Token counters of one ask, in the Anthropic wire names.
 * @since 0.2.0
 */
export const AskUsage = Schema.Struct({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  cache_read_input_tokens: Schema.Number,
  cache_creation_input_tokens: Schema.Number
})
/** @since 0.2.0 */
export type AskUsage = typeof AskUsage.Type

/**
 * What an ask failed with: the error's tag and message (with `reason` or `phase` when it has
 * one), and whether trying again may succeed.
 * @since 0.2.0
 */
export const AskError = Schema.Struct({
  _tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean,
  reason: Schema.optionalKey(Schema.String),
  phase: Schema.optionalKey(Schema.String)
})
/** @since 0.2.0 */
export type AskError = typeof AskError.Type

/**
 * An ask was accepted; its events follow.
 * @since 0.2.0
 */
export const AskStart = Schema.Struct({
  type: Schema.Literal("ask_start"),
  ask_id: Schema.String,
  /** The prompt; empty for a resumed ask. */
  prompt: Schema.String,
  /** `true` for an ask that continues one that ended with tool calls waiting for approval (`session.resume`). */
  resumed: Schema.optionalKey(Schema.Boolean)
})
/** @since 0.2.0 */
export type AskStart = typeof AskStart.Type

/**
 * How an ask ended.
 * @since 0.2.0
 */
export const AskStatus = Schema.Literals(["completed", "max_turns", "interrupted", "failed"])
/** @since 0.2.0 */
export type AskStatus = typeof AskStatus.Type

/**
 * An ask ended: the last event of every ask, also of one that failed or was interrupted.
 * @since 0.2.0
 */
export const AskEnd = Schema.Struct({
  type: Schema.Literal("ask_end"),
  ask_id: Schema.String,
  status: AskStatus,
  usage: AskUsage,
  error: Schema.optionalKey(AskError)
})
/** @since 0.2.0 */
export type AskEnd = typeof AskEnd.Type

/**
 * Any event of a server session's log.
 * @since 0.2.0
 */
export const ServerEvent = Schema.Union([StreamEvent.StreamEvent, AskStart, AskEnd])
/** @since 0.2.0 */
export type ServerEvent = StreamEvent.StreamEvent | AskStart | AskEnd
