/**
 * Decoding one parsed event from the wire: {@link decodeWire} validates the fields the harness
 * relies on and keeps the event exactly as it arrived, through hand-written checks for the
 * per-token deltas and the usual frame events, and the Schemas for everything else.
 *
 * @internal Reached through `StreamEvent`.
 * @since 0.1.0
 */
import { Exit, Schema } from "effect"
import {
  ContentBlockDelta,
  ContentBlockStart,
  ContentBlockStop,
  ErrorEvent,
  MessageDelta,
  MessageStart,
  MessageStop,
  type ProviderEvent
} from "./providerEvents.js"

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

/** `WireUsage` (`providerEvents.ts`): four optional counters, each a number or `null`. */
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
