/**
 * What the fields of a Chat Completions chunk mean to the translator (`Translator.ts`): the stop
 * reason of a `finish_reason`, the usage counters, where a delta's reasoning is, whether a tool
 * call's arguments are complete, and the ids of what a server sent without one.
 * @internal
 */
import type * as Chunk from "./Chunk.js"

const stopReasons: Record<string, string> = {
  stop: "end_turn",
  tool_calls: "tool_use",
  function_call: "tool_use",
  length: "max_tokens",
  content_filter: "refusal"
}

/**
 * Maps a `finish_reason` to a stop reason; an unknown one is kept as sent.
 * @internal
 */
export const stopReasonOf = (finishReason: string): string => stopReasons[finishReason] ?? finishReason

/**
 * Maps a Chat Completions usage to the Anthropic wire counters: input without the cached part,
 * output, cached input as cache reads.
 * @internal
 */
export const wireUsageOf = (usage: Chunk.ChunkUsage) => {
  const prompt = usage.prompt_tokens ?? 0
  const cached = usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens ?? 0
  return {
    input_tokens: Math.max(0, prompt - cached),
    output_tokens: usage.completion_tokens ?? 0,
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0
  }
}

let generated = 0

/** A new id for a message or tool call the server sent without one. */
export const generatedId = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(generated++).toString(36)}`

/** Whether a delta carries reasoning (a string field or `reasoning_details`). */
export const hasReasoning = (delta: Chunk.Delta): boolean =>
  (delta.reasoning_content != null && delta.reasoning_content !== "") ||
  (delta.reasoning != null && delta.reasoning !== "") ||
  (delta.reasoning_details != null && delta.reasoning_details.length > 0)

/** The reasoning text a delta carries in a string field (`reasoning_content`, else `reasoning`). */
export const reasoningOf = (delta: Chunk.Delta): string => {
  const content = delta.reasoning_content
  if (content != null && content !== "") return content
  const reasoning = delta.reasoning
  return reasoning != null ? reasoning : ""
}

/** Whether tool arguments so far are a whole JSON value (the block can close). Empty is not: more may come. */
export const isComplete = (json: string): boolean => {
  if (json.trim() === "") return false
  try {
    JSON.parse(json)
    return true
  } catch {
    return false
  }
}
