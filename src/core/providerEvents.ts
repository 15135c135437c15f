/**
 * The events a provider emits for one turn, in the shapes of the Anthropic Messages streaming API
 * (`message_start`, the content block events, `message_delta`, `message_stop`), their parts
 * (usage, start blocks, deltas), and the in-band `error` event.
 *
 * @internal Reached through `StreamEvent`.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Discard } from "./harnessEvents.js"

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
 * The provider's in-band `error` event (`{"type":"error","error":{"type":"overloaded_error",...}}`).
 * Not part of `StreamEvent`: adapters turn it into a typed error.
 * @since 0.1.0
 */
export const ErrorEvent = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.Struct({ type: Schema.String, message: Schema.optionalKey(Schema.String) })
})
/** @since 0.1.0 */
export type ErrorEvent = typeof ErrorEvent.Type
