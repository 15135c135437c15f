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
import { Exit, type Filter, Result, Schema } from "effect"
import type * as Message from "./Message.js"

// wire parts

/**
 * Usage counters as they arrive on the wire; every counter optional, `null` meaning "unchanged".
 * @since 0.1.0
 */
export const WireUsage = Schema.Struct({
  input_tokens: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  output_tokens: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  cache_read_input_tokens: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  cache_creation_input_tokens: Schema.optionalKey(Schema.NullOr(Schema.Number))
})
/** @since 0.1.0 */
export type WireUsage = typeof WireUsage.Type

const notKnown = (known: ReadonlySet<string>, what: string) =>
  Schema.String.check(
    Schema.makeFilter(
      (type: string) => !known.has(type) || `a "${type}" ${what} is missing a required field or has a wrong one`
    )
  )

/**
 * The block announced by `content_block_start`: text and thinking start empty, `tool_use` starts
 * with its id and name (its input arrives as `input_json_delta`s), any other type is opaque.
 * @since 0.1.0
 */
export const StartBlock = Schema.Union([
  Schema.Struct({ type: Schema.Literal("text"), text: Schema.String }),
  Schema.Struct({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String }),
  Schema.Struct({ type: Schema.Literal("thinking"), thinking: Schema.String }),
  Schema.Struct({ type: Schema.Literal("redacted_thinking"), data: Schema.String }),
  Schema.Struct({ type: notKnown(new Set(["text", "tool_use", "thinking", "redacted_thinking"]), "block") })
])
/** @since 0.1.0 */
export type StartBlock = typeof StartBlock.Type

/** @since 0.1.0 */
export const TextDelta = Schema.Struct({ type: Schema.Literal("text_delta"), text: Schema.String })
/** @since 0.1.0 */
export const InputJsonDelta = Schema.Struct({ type: Schema.Literal("input_json_delta"), partial_json: Schema.String })
/** @since 0.1.0 */
export const ThinkingDelta = Schema.Struct({ type: Schema.Literal("thinking_delta"), thinking: Schema.String })
/** @since 0.1.0 */
export const SignatureDelta = Schema.Struct({ type: Schema.Literal("signature_delta"), signature: Schema.String })
/** @since 0.1.0 */
export const CitationsDelta = Schema.Struct({ type: Schema.Literal("citations_delta"), citation: Schema.Unknown })

const knownDeltas = new Set(["text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta"])

/**
 * Any delta of a `content_block_delta`. A delta type from a newer API version is kept opaque.
 * @since 0.1.0
 */
export const Delta = Schema.Union([
  TextDelta,
  InputJsonDelta,
  ThinkingDelta,
  SignatureDelta,
  CitationsDelta,
  Schema.Struct({ type: notKnown(knownDeltas, "delta") })
])
/** @since 0.1.0 */
export type Delta = typeof Delta.Type

// events

/**
 * The start of a turn. `message.content` is usually empty, but may already hold whole blocks
 * (and `stop_reason` be set), e.g. a tool call made by code the API ran (programmatic tool
 * calling): the turn starts from that message, as the SDK's `MessageStream` does. Those blocks
 * are checked as `Message.ContentBlock`s when the turn is folded.
 *
 * `message.provider` is the harness's, not the API's: a fallback chain (`Provider.fallback`) sets
 * it to the name of the provider that streams the turn; without it the turn is the agent's
 * provider's.
 * @since 0.1.0
 */
export const MessageStart = Schema.Struct({
  type: Schema.Literal("message_start"),
  message: Schema.Struct({
    id: Schema.String,
    role: Schema.Literal("assistant"),
    model: Schema.String,
    provider: Schema.optionalKey(Schema.String),
    content: Schema.Array(Schema.Unknown),
    stop_reason: Schema.optionalKey(Schema.NullOr(Schema.String)),
    stop_sequence: Schema.optionalKey(Schema.NullOr(Schema.String)),
    usage: Schema.optionalKey(WireUsage)
  })
})
/** @since 0.1.0 */
export type MessageStart = typeof MessageStart.Type

/** @since 0.1.0 */
export const ContentBlockStart = Schema.Struct({
  type: Schema.Literal("content_block_start"),
  index: Schema.Number,
  content_block: StartBlock
})
/** @since 0.1.0 */
export type ContentBlockStart = typeof ContentBlockStart.Type

/** @since 0.1.0 */
export const ContentBlockDelta = Schema.Struct({
  type: Schema.Literal("content_block_delta"),
  index: Schema.Number,
  delta: Delta
})
/** @since 0.1.0 */
export type ContentBlockDelta = typeof ContentBlockDelta.Type

/** @since 0.1.0 */
export const ContentBlockStop = Schema.Struct({ type: Schema.Literal("content_block_stop"), index: Schema.Number })
/** @since 0.1.0 */
export type ContentBlockStop = typeof ContentBlockStop.Type

/** @since 0.1.0 */
export const MessageDelta = Schema.Struct({
  type: Schema.Literal("message_delta"),
  delta: Schema.Struct({
    stop_reason: Schema.optionalKey(Schema.NullOr(Schema.String)),
    stop_sequence: Schema.optionalKey(Schema.NullOr(Schema.String))
  }),
  usage: Schema.optionalKey(Schema.NullOr(WireUsage))
})
/** @since 0.1.0 */
export type MessageDelta = typeof MessageDelta.Type

/** @since 0.1.0 */
export const MessageStop = Schema.Struct({ type: Schema.Literal("message_stop") })
/** @since 0.1.0 */
export type MessageStop = typeof MessageStop.Type

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

/**
 * The events a provider emits for one turn. `discard` comes only from a provider that switches
 * attempts inside its own stream (a fallback chain), never from the wire: `decodeWire` skips it.
 * @since 0.1.0
 */
export const ProviderEvent = Schema.Union([
  MessageStart,
  ContentBlockStart,
  ContentBlockDelta,
  ContentBlockStop,
  MessageDelta,
  MessageStop,
  Discard
])
/** @since 0.1.0 */
export type ProviderEvent = typeof ProviderEvent.Type

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

/**
 * The provider's in-band `error` event (`{"type":"error","error":{"type":"overloaded_error",...}}`).
 * Not part of {@link StreamEvent}: adapters turn it into a typed error.
 * @since 0.1.0
 */
export const ErrorEvent = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.Struct({ type: Schema.String, message: Schema.optionalKey(Schema.String) })
})
/** @since 0.1.0 */
export type ErrorEvent = typeof ErrorEvent.Type

// decoding

const decoders: Record<string, (raw: unknown) => Exit.Exit<unknown, Schema.SchemaError>> = {
  message_start: Schema.decodeUnknownExit(MessageStart),
  content_block_start: Schema.decodeUnknownExit(ContentBlockStart),
  content_block_delta: Schema.decodeUnknownExit(ContentBlockDelta),
  content_block_stop: Schema.decodeUnknownExit(ContentBlockStop),
  message_delta: Schema.decodeUnknownExit(MessageDelta),
  message_stop: Schema.decodeUnknownExit(MessageStop),
  error: Schema.decodeUnknownExit(ErrorEvent)
}

/**
 * What {@link decodeWire} makes of one raw event.
 * @since 0.1.0
 */
export type Decoded =
  | { readonly _tag: "Event"; readonly event: ProviderEvent }
  | { readonly _tag: "Error"; readonly event: ErrorEvent }
  | { readonly _tag: "Skip"; readonly type: string }
  | { readonly _tag: "Invalid"; readonly message: string }

/**
 * {@link decodeWire} through the Schemas alone, with no fast path. The reference that the fast
 * path is property-tested against.
 * @since 0.1.0
 */
export const decodeWireStrict = (raw: unknown): Decoded => {
  const type = typeof raw === "object" && raw !== null ? (raw as { readonly type?: unknown }).type : undefined
  if (typeof type !== "string") return { _tag: "Invalid", message: "an event without a string `type` field" }
  const decode = decoders[type]
  if (decode === undefined) return { _tag: "Skip", type }
  const exit = decode(raw)
  if (Exit.isFailure(exit)) return { _tag: "Invalid", message: `a malformed "${type}" event: ${exit.cause}` }
  // Validation only: the value that travels on is the event exactly as it arrived.
  return type === "error" ? { _tag: "Error", event: raw as ErrorEvent } : { _tag: "Event", event: raw as ProviderEvent }
}

/**
 * Whether a raw event is one of the three per-token shapes (`content_block_delta` with a
 * `text_delta`, `input_json_delta` or `thinking_delta`) and valid, checked field by field as
 * {@link ContentBlockDelta} checks it: `true` only when the schema accepts the event. Adapters
 * call it before {@link decodeWire} to skip building a `Decoded` per token.
 * @since 0.1.0
 */
export const isValidTokenDelta = (raw: unknown): raw is ContentBlockDelta => {
  if (!isFields(raw)) return false
  if (raw.type !== "content_block_delta" || typeof raw.index !== "number") return false
  const delta = raw.delta
  if (!isFields(delta)) return false
  switch (delta.type) {
    case "text_delta":
      return typeof delta.text === "string"
    case "input_json_delta":
      return typeof delta.partial_json === "string"
    case "thinking_delta":
      return typeof delta.thinking === "string"
    default:
      return false
  }
}

/**
 * Decodes one parsed event from the wire. A known event is validated and returned as it arrived
 * (every field kept); `ping` and event types from newer API versions are `Skip`; an `error` event
 * is `Error` for the adapter to turn into a typed error; anything malformed is `Invalid` with the
 * schema's explanation.
 *
 * The per-token deltas (most of a stream) and the usual shapes of the five frame events of a
 * turn take a hand-written check that accepts only what their Schema accepts (a property test
 * holds it to {@link decodeWireStrict}), because a Schema decode costs about as much as the SDK's
 * whole per-event work: per token, and per turn at its start and its end, where 1,000 concurrent
 * turns feel it. Anything the checks do not accept (a rarer block or delta type, a malformed
 * event) goes through the Schemas, which explain what is wrong.
 * @since 0.1.0
 */
export const decodeWire = (raw: unknown): Decoded =>
  isValidTokenDelta(raw) || isValidFrame(raw) ? { _tag: "Event", event: raw } : decodeWireStrict(raw)

type Fields = { readonly [key: string]: unknown }

/** A record as a Schema `Struct` takes it (conservatively: no arrays). */
const isFields = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** An `optionalKey(NullOr(...))` field that passes `check`: absent, `null`, or checked. */
const optionalNullOr = (fields: Fields, key: string, check: (value: unknown) => boolean): boolean => {
  const value = fields[key]
  return value === undefined ? !(key in fields) : value === null || check(value)
}

const isNumber = (value: unknown): boolean => typeof value === "number"
const isString = (value: unknown): boolean => typeof value === "string"

/** {@link WireUsage}: four optional counters, each a number or `null`. */
const isWireUsage = (value: unknown): boolean =>
  isFields(value) &&
  optionalNullOr(value, "input_tokens", isNumber) &&
  optionalNullOr(value, "output_tokens", isNumber) &&
  optionalNullOr(value, "cache_read_input_tokens", isNumber) &&
  optionalNullOr(value, "cache_creation_input_tokens", isNumber)

/**
 * Whether a raw event is a valid `message_start`, `content_block_start` of a text or `tool_use`
 * block, `content_block_stop`, `message_delta` or `message_stop`, checked as their Schemas
 * check them. `false` sends the event through its Schema.
 */
const isValidFrame = (raw: unknown): raw is ProviderEvent => {
  if (!isFields(raw)) return false
  switch (raw.type) {
    case "content_block_stop":
      return typeof raw.index === "number"
    case "message_stop":
      return true
    case "message_delta": {
      const delta = raw.delta
      return (
        isFields(delta) &&
        optionalNullOr(delta, "stop_reason", isString) &&
        optionalNullOr(delta, "stop_sequence", isString) &&
        optionalNullOr(raw, "usage", isWireUsage)
      )
    }
    case "content_block_start": {
      const block = raw.content_block
      if (typeof raw.index !== "number" || !isFields(block)) return false
      if (block.type === "text") return typeof block.text === "string"
      return block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string"
    }
    case "message_start": {
      const message = raw.message
      if (!isFields(message)) return false
      const usage = message.usage
      return (
        typeof message.id === "string" &&
        message.role === "assistant" &&
        typeof message.model === "string" &&
        (message.provider === undefined ? !("provider" in message) : typeof message.provider === "string") &&
        Array.isArray(message.content) &&
        optionalNullOr(message, "stop_reason", isString) &&
        optionalNullOr(message, "stop_sequence", isString) &&
        (usage === undefined ? !("usage" in message) : isWireUsage(usage))
      )
    }
    default:
      return false
  }
}

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
