/**
 * The arithmetic of a price: the rates of a prompt's tier, and the dollars of each kind of token
 * as plain numbers (the agent sums these per attempt and builds a `Cost` only when one is read).
 *
 * @internal
 */
import type * as Usage from "../core/Usage.js"
import type { Price, Tier } from "./price.js"

const PER = 1_000_000

/** The rates of the tier a prompt of `promptTokens` falls in. */
export const ratesFor = (price: Price, promptTokens: number): Omit<Tier, "above"> => {
  let rates: Omit<Tier, "above"> = price
  for (const tier of price.tiers ?? []) if (promptTokens > tier.above) rates = tier
  return rates
}

/**
 * The dollars of each kind of token of `usage` at `price` as plain numbers (no `Cost` built: the
 * agent sums these per attempt); `undefined` without a price.
 */
export const partsOf = (
  usage: Usage.Counts,
  price: Price | undefined
): { input: number; output: number; cacheWrite: number; cacheRead: number } | undefined => {
  if (price === undefined) return undefined
  const rates = ratesFor(price, usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens)
  return {
    input: (usage.inputTokens * rates.input) / PER,
    output: (usage.outputTokens * rates.output) / PER,
    cacheWrite: (usage.cacheWriteTokens * (rates.cacheWrite5m ?? rates.input)) / PER,
    cacheRead: (usage.cacheReadTokens * (rates.cacheRead ?? rates.input)) / PER
  }
}
