/**
 * The price of a model ({@link Price}) and its long-prompt tiers ({@link Tier}). They live apart
 * from `Pricing.ts` so that its arithmetic (`rates.ts`), which `Pricing.ts` builds on, can name
 * them without importing it; `Pricing.ts` re-exports them unchanged.
 * @since 0.2.0
 */

/**
 * A higher price that applies to a whole request whose prompt has more than `above` tokens.
 * @since 0.2.0
 */
export interface Tier {
  readonly above: number
  readonly input: number
  readonly output: number
  readonly cacheWrite5m?: number | undefined
  readonly cacheWrite1h?: number | undefined
  readonly cacheRead?: number | undefined
}

/**
 * The price of one model in US dollars per million tokens, with its limits and where the numbers
 * come from. A missing cache price is the input price (OpenAI charges nothing extra for cache
 * writes, and its usage has none).
 * @since 0.2.0
 */
export interface Price {
  readonly input: number
  readonly output: number
  readonly cacheWrite5m?: number | undefined
  readonly cacheWrite1h?: number | undefined
  readonly cacheRead?: number | undefined
  /** The context window in tokens (what compaction keeps a conversation under). */
  readonly contextWindow?: number | undefined
  /** The most output tokens of one turn. */
  readonly maxOutput?: number | undefined
  /** Higher prices for long prompts, in increasing order of `above`. */
  readonly tiers?: ReadonlyArray<Tier> | undefined
  /** Where the numbers come from. */
  readonly source?: string | undefined
  /** When they were read (YYYY-MM-DD). */
  readonly checked?: string | undefined
  /** Set when a number is not from the vendor's own page, or is known to move: check it. */
  readonly uncertain?: string | undefined
}
