/**
 * The events of a streamed run, in the shapes of the Anthropic Messages streaming API.
 *
 * A provider turn is `message_start`, then for each content block `content_block_start`,
 * `content_block_delta`s and `content_block_stop`, then `message_delta` (stop reason, usage) and
 * `message_stop`. The harness adds events of its own:
 *
 * | type | when |
 * | --- | --- |
 * | `tool_result` | after the harness ran a tool: `tool_use_id`, `tool_name`, `content`, `is_error` |
 * | `discard` | a turn failed after it had streamed output and is being retried (or a fallback chain moved on to its next provider): drop what you showed of it |
 * | `approval_request` | a tool call waits for `session.approve(id)` / `session.deny(id, reason)`: `tool_use_id`, `tool_name`, `input`, `reason` |
 * | `compaction` | the history was compacted before the next turn: `reason`, messages `summarised`, handles `offloaded`, `tokens_before`/`tokens_after` |
 *
 * Every event that crosses the provider boundary is decoded with {@link decodeWire}: it validates
 * the fields the harness relies on and keeps the event object exactly as it arrived, so ids, model,
 * usage details, citations and fields from newer API versions reach the consumer.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { StreamEvent } from "data-harness"
 * const texts = (events: Stream.Stream<StreamEvent.StreamEvent>) =>
 *   events.pipe(Stream.filterMap(StreamEvent.textDelta))
 * ```
 * @since 0.1.0
 */
import { type Filter, Result, Schema } from "effect"
import { ApprovalRequest, Compaction, Discard, ToolResult } from "./harnessEvents.js"
import type * as Message from "./Message.js"
import {
  ContentBlockDelta,
  ContentBlockStart,
  ContentBlockStop,
  MessageDelta,
  MessageStart,
  MessageStop,
  type TextDelta
} from "./providerEvents.js"

// the provider's events and their parts (in `providerEvents.ts`)

export {
  CitationsDelta,
  ContentBlockDelta,
  ContentBlockStart,
  ContentBlockStop,
  Delta,
  ErrorEvent,
  InputJsonDelta,
  MessageDelta,
  MessageStart,
  MessageStop,
  ProviderEvent,
  SignatureDelta,
  StartBlock,
  TextDelta,
  ThinkingDelta,
  WireUsage
} from "./providerEvents.js"

// the harness's own events (in `harnessEvents.ts`)

export { ApprovalRequest, Compaction, Discard, ToolResult } from "./harnessEvents.js"

// decoding (in `decodeWire.ts`)

export { type Decoded, decodeWire, decodeWireStrict, isValidTokenDelta } from "./decodeWire.js"

// every event

/**
 * Every event of a streamed run: provider events plus the harness's `tool_result` and `discard`.
 * @since 0.1.0
 */
export const StreamEvent = Schema.Union([
  MessageStart,
  ContentBlockStart,
  ContentBlockDelta,
  ContentBlockStop,
  MessageDelta,
  MessageStop,
  ToolResult,
  Discard,
  ApprovalRequest,
  Compaction
])
/** @since 0.1.0 */
export type StreamEvent = typeof StreamEvent.Type

// filters

/**
 * The text of a `text_delta` event; use with `Stream.filterMap` to stream just the text.
 * @since 0.1.0
 */
export const textDelta: Filter.Filter<StreamEvent, string> = (event) =>
  event.type === "content_block_delta" && event.delta.type === "text_delta"
    ? Result.succeed((event.delta as typeof TextDelta.Type).text)
    : Result.fail(event)

/**
 * Builds the `content_block_start` block for a finished content block (text and thinking start
 * empty, `tool_use` starts with `input: {}`), as the Anthropic API streams it.
 * @since 0.1.0
 */
export const startBlockOf = (block: Message.ContentBlock): Record<string, unknown> => {
  switch (block.type) {
    case "text":
      return { ...block, text: "" }
    case "tool_use":
      return { ...block, input: {} }
    case "thinking":
      return { ...block, thinking: "", signature: "" }
    default:
      return block
  }
}
