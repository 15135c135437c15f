/**
 * Token usage of one turn or of a whole run.
 *
 * Usage is additive across turns (`Usage.add`), and within one Anthropic turn the counters that
 * arrive in `message_start` and `message_delta` replace earlier values (`Usage.merge`), they are
 * not summed.
 *
 * @example
 * ```ts
 * import { Usage } from "data-harness"
 * const total = Usage.add(Usage.empty, Usage.make({ inputTokens: 10, outputTokens: 3 }))
 * ```
 * @since 0.1.0
 */
import { Schema } from "effect"
import { mergeCounts } from "./counts.js"

// schema

/**
 * Token counters: input, output, and the prompt-cache reads and writes.
 * @since 0.1.0
 */
export class Usage extends Schema.Class<Usage>("data-harness/Usage")({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Schema.Number,
  cacheWriteTokens: Schema.Number
}) {}

// constructors

/**
 * Usage with every counter at zero.
 * @since 0.1.0
 */
export const empty: Usage = new Usage({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 })

/**
 * Builds a `Usage`; missing counters are zero.
 * @since 0.1.0
 */
export const make = (
  counters: Partial<{
    readonly inputTokens: number
    readonly outputTokens: number
    readonly cacheReadTokens: number
    readonly cacheWriteTokens: number
  }>
): Usage =>
  new Usage({
    inputTokens: counters.inputTokens ?? 0,
    outputTokens: counters.outputTokens ?? 0,
    cacheReadTokens: counters.cacheReadTokens ?? 0,
    cacheWriteTokens: counters.cacheWriteTokens ?? 0
  })

// combinators

/**
 * Sums two usages counter by counter (usage over several turns).
 * @since 0.1.0
 */
export const add = (self: Usage, that: Usage): Usage =>
  // usage is immutable: adding nothing is the other side itself (a fresh run or session adds to
  // `empty`, at the end of every run, where each schema-checked construction costs)
  that === empty
    ? self
    : self === empty
      ? that
      : new Usage({
          inputTokens: self.inputTokens + that.inputTokens,
          outputTokens: self.outputTokens + that.outputTokens,
          cacheReadTokens: self.cacheReadTokens + that.cacheReadTokens,
          cacheWriteTokens: self.cacheWriteTokens + that.cacheWriteTokens
        })

/**
 * The usage object of the Anthropic wire format (`message_start.message.usage`,
 * `message_delta.usage`): every counter optional and nullable.
 * @since 0.1.0
 */
export interface WireUsage {
  readonly input_tokens?: number | null | undefined
  readonly output_tokens?: number | null | undefined
  readonly cache_read_input_tokens?: number | null | undefined
  readonly cache_creation_input_tokens?: number | null | undefined
}

/**
 * Applies the counters of a wire usage object to an earlier usage of the same turn: a counter
 * that is present replaces the earlier value; an absent or `null` counter keeps it.
 * @since 0.1.0
 */
export const merge = (self: Usage, wire: WireUsage | null | undefined): Usage =>
  wire == null ? self : new Usage(mergeCounts(self, wire))

/**
 * The four counters as plain numbers (a `Usage` is one too): what the price arithmetic takes.
 * @since 0.2.0
 */
export type { Counts } from "./counts.js"

/**
 * Encodes a usage as the Anthropic wire usage object.
 * @since 0.1.0
 */
export const toWire = (self: Usage) => ({
  input_tokens: self.inputTokens,
  output_tokens: self.outputTokens,
  cache_read_input_tokens: self.cacheReadTokens,
  cache_creation_input_tokens: self.cacheWriteTokens
})
