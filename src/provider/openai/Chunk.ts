/**
 * A Chat Completions stream chunk (`chat.completion.chunk`), as the OpenAI-compatible provider
 * validates it: the fields it reads are checked, every other field is left alone (and reaches
 * users through the `raw` option).
 *
 * Real servers differ in what they leave out or send as `null`, so every field is optional and
 * nullable; what a field holds when present is checked. `delta.content` is a string, or (Mistral)
 * an array of parts; tool-call `arguments` is a string, or an object (some servers send it parsed).
 *
 * {@link isChunk} is a hand-written check that accepts exactly what the {@link Chunk} Schema
 * accepts (a property test holds it to {@link decodeChunkStrict}): a Schema decode per token cost
 * about as much as the SDK's whole per-chunk work. A chunk it rejects goes through the Schema,
 * which explains what is wrong.
 * @internal
 */
import { Exit, Schema } from "effect"

const Text = Schema.optionalKey(Schema.NullOr(Schema.String))
const Count = Schema.optionalKey(Schema.NullOr(Schema.Number))

/** @internal */
export const ChunkUsage = Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  prompt_tokens_details: Schema.optionalKey(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  /** DeepSeek's cache hits. */
  prompt_cache_hit_tokens: Count
})
/** @internal */
export type ChunkUsage = typeof ChunkUsage.Type

/** @internal */
export const ContentPart = Schema.Struct({
  type: Schema.String,
  text: Text,
  /** Mistral's thinking part: a string, or text parts. */
  thinking: Schema.optionalKey(
    Schema.NullOr(Schema.Union([Schema.String, Schema.Array(Schema.Struct({ type: Schema.String, text: Text }))]))
  )
})
/** @internal */
export type ContentPart = typeof ContentPart.Type

/** @internal */
export const ReasoningDetail = Schema.Struct({
  type: Schema.String,
  text: Text,
  summary: Text,
  signature: Text,
  data: Text
})
/** @internal */
export type ReasoningDetail = typeof ReasoningDetail.Type

/** @internal */
export const ToolCallDelta = Schema.Struct({
  index: Count,
  id: Text,
  type: Text,
  function: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        name: Text,
        arguments: Schema.optionalKey(
          Schema.NullOr(Schema.Union([Schema.String, Schema.Record(Schema.String, Schema.Unknown)]))
        )
      })
    )
  )
})
/** @internal */
export type ToolCallDelta = typeof ToolCallDelta.Type

/** @internal */
export const Delta = Schema.Struct({
  role: Text,
  content: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.String, Schema.Array(ContentPart)]))),
  refusal: Text,
  reasoning_content: Text,
  reasoning: Text,
  reasoning_details: Schema.optionalKey(Schema.NullOr(Schema.Array(ReasoningDetail))),
  tool_calls: Schema.optionalKey(Schema.NullOr(Schema.Array(ToolCallDelta)))
})
/** @internal */
export type Delta = typeof Delta.Type

/** @internal */
export const Choice = Schema.Struct({
  index: Count,
  delta: Schema.optionalKey(Schema.NullOr(Delta)),
  finish_reason: Text,
  /** vLLM: the stop string that matched (or a stop token id). */
  stop_reason: Schema.optionalKey(Schema.Unknown)
})
/** @internal */
export type Choice = typeof Choice.Type

/** @internal */
export const Chunk = Schema.Struct({
  id: Text,
  model: Text,
  choices: Schema.optionalKey(Schema.NullOr(Schema.Array(Choice))),
  usage: Schema.optionalKey(Schema.NullOr(ChunkUsage)),
  /** Groq puts the usage here (too). */
  x_groq: Schema.optionalKey(Schema.NullOr(Schema.Struct({ usage: Schema.optionalKey(Schema.NullOr(ChunkUsage)) })))
})
/** @internal */
export type Chunk = typeof Chunk.Type

const decodeExit = Schema.decodeUnknownExit(Chunk)

/**
 * Validates a chunk through the Schema alone: `undefined` when valid, else what is wrong.
 * @internal
 */
export const decodeChunkStrict = (raw: unknown): string | undefined => {
  const exit = decodeExit(raw)
  return Exit.isSuccess(exit) ? undefined : String(exit.cause)
}

// the hand-written check

type Fields = { readonly [key: string]: unknown }

/** A record as a Schema `Struct` takes it (no arrays). */
const isFields = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** An `optionalKey(NullOr(...))` field that passes `check`: absent, `null`, or checked. */
const optional = (fields: Fields, key: string, check: (value: unknown) => boolean): boolean => {
  const value = fields[key]
  return value === undefined ? !(key in fields) : value === null || check(value)
}

const isString = (value: unknown): boolean => typeof value === "string"
const isNumber = (value: unknown): boolean => typeof value === "number"
const arrayOf =
  (check: (value: unknown) => boolean) =>
  (value: unknown): boolean => {
    if (!Array.isArray(value)) return false
    for (let i = 0; i < value.length; i++) if (!check(value[i])) return false
    return true
  }

const isUsage = (value: unknown): boolean =>
  isFields(value) &&
  optional(value, "prompt_tokens", isNumber) &&
  optional(value, "completion_tokens", isNumber) &&
  optional(value, "prompt_cache_hit_tokens", isNumber) &&
  optional(
    value,
    "prompt_tokens_details",
    (details) => isFields(details) && optional(details, "cached_tokens", isNumber)
  )

const isTextPart = (value: unknown): boolean =>
  isFields(value) && typeof value.type === "string" && optional(value, "text", isString)

const isThinking = (value: unknown): boolean => typeof value === "string" || arrayOf(isTextPart)(value)

const isContentPart = (value: unknown): boolean =>
  isFields(value) &&
  typeof value.type === "string" &&
  optional(value, "text", isString) &&
  optional(value, "thinking", isThinking)

const isContent = (value: unknown): boolean => typeof value === "string" || arrayOf(isContentPart)(value)

const isDetail = (value: unknown): boolean =>
  isFields(value) &&
  typeof value.type === "string" &&
  optional(value, "text", isString) &&
  optional(value, "summary", isString) &&
  optional(value, "signature", isString) &&
  optional(value, "data", isString)

const isArguments = (value: unknown): boolean => typeof value === "string" || isRecord(value)

/** `Schema.Record(String, Unknown)`: any non-array object. */
const isRecord = (value: unknown): boolean => isFields(value)

const isFunction = (value: unknown): boolean =>
  isFields(value) && optional(value, "name", isString) && optional(value, "arguments", isArguments)

const isToolCall = (value: unknown): boolean =>
  isFields(value) &&
  optional(value, "index", isNumber) &&
  optional(value, "id", isString) &&
  optional(value, "type", isString) &&
  optional(value, "function", isFunction)

// The three functions of every chunk read their fields by literal name, so each read has an
// inline cache of its own (a shared `optional(fields, key)` made every read megamorphic: 9% of
// the client's time at a million chunks). An absent field reads `undefined`; JSON has no
// `undefined` values, so for what `JSON.parse` returns that means absent.

const isDelta = (value: unknown): boolean => {
  if (!isFields(value)) return false
  // the per-token shape first: one string field and nothing else to check
  const content = value.content
  if (content != null && typeof content !== "string" && !isContent(content)) return false
  const role = value.role
  if (role != null && typeof role !== "string") return false
  const refusal = value.refusal
  if (refusal != null && typeof refusal !== "string") return false
  const reasoningContent = value.reasoning_content
  if (reasoningContent != null && typeof reasoningContent !== "string") return false
  const reasoning = value.reasoning
  if (reasoning != null && typeof reasoning !== "string") return false
  const details = value.reasoning_details
  if (details != null && !arrayOf(isDetail)(details)) return false
  const calls = value.tool_calls
  return calls == null || arrayOf(isToolCall)(calls)
}

const isChoice = (value: unknown): boolean => {
  if (!isFields(value)) return false
  const index = value.index
  if (index != null && typeof index !== "number") return false
  const delta = value.delta
  if (delta != null && !isDelta(delta)) return false
  const finish = value.finish_reason
  return finish == null || typeof finish === "string"
}

/**
 * Whether a parsed `data:` payload is a valid chunk: for every value `JSON.parse` can return,
 * exactly what the {@link Chunk} Schema accepts.
 * @internal
 */
export const isChunk = (raw: unknown): raw is Chunk => {
  if (!isFields(raw)) return false
  const choices = raw.choices
  if (choices != null) {
    if (!Array.isArray(choices)) return false
    for (let i = 0; i < choices.length; i++) if (!isChoice(choices[i])) return false
  }
  const id = raw.id
  if (id != null && typeof id !== "string") return false
  const model = raw.model
  if (model != null && typeof model !== "string") return false
  const usage = raw.usage
  if (usage != null && !isUsage(usage)) return false
  const groq = raw.x_groq
  return groq == null || (isFields(groq) && optional(groq, "usage", isUsage))
}

/**
 * Validates a chunk: `undefined` when valid, else the Schema's explanation.
 * @internal
 */
export const validate = (raw: unknown): string | undefined => (isChunk(raw) ? undefined : decodeChunkStrict(raw))
