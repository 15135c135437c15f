/**
 * Usage counters as plain numbers, and the merge of a wire usage into them without building a
 * schema-checked `Usage` (a turn applies several wire usages and builds its `Usage` once, when
 * it is read).
 * @internal
 */

/** The four counters as plain numbers. */
export interface Counts {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
}

/** The counters of a wire usage object (`Usage.WireUsage`), each optional and nullable. */
interface WireCounters {
  readonly input_tokens?: number | null | undefined
  readonly output_tokens?: number | null | undefined
  readonly cache_read_input_tokens?: number | null | undefined
  readonly cache_creation_input_tokens?: number | null | undefined
}

/** `Usage.merge` on plain counters: a counter present in `wire` replaces the earlier value. */
export const mergeCounts = (self: Counts, wire: WireCounters): Counts => ({
  inputTokens: wire.input_tokens ?? self.inputTokens,
  outputTokens: wire.output_tokens ?? self.outputTokens,
  cacheReadTokens: wire.cache_read_input_tokens ?? self.cacheReadTokens,
  cacheWriteTokens: wire.cache_creation_input_tokens ?? self.cacheWriteTokens
})
