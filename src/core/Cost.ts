/**
 * What a run spent: its dollar cost by kind of token (`Cost`), and the totals a budget counts
 * (`Spent`: dollars, tokens, tool compute time and wall time).
 *
 * A `Cost` is computed from a turn's `Usage` and the price of the model that answered it (see
 * `Pricing` in data-harness); costs add up over turns, runs and sessions. A model that has no
 * price is named in `unpriced` and adds no dollars, so a cost of 0 with `unpriced` non-empty is
 * not "free" but "unknown".
 *
 * @example
 * ```ts
 * import { Cost } from "data-harness"
 * const total = Cost.add(Cost.empty, Cost.make({ input: 0.003, output: 0.0075 }))
 * total.usd // 0.0105
 * ```
 * @since 0.2.0
 */
import { Schema } from "effect"

/**
 * A dollar cost: the total (`usd`) and its parts, and the models whose tokens could not be priced.
 * @since 0.2.0
 */
export class Cost extends Schema.Class<Cost>("data-harness/Cost")({
  /** The total in US dollars: the sum of the four parts. */
  usd: Schema.Number,
  /** Uncached input tokens. */
  input: Schema.Number,
  /** Output tokens (thinking included). */
  output: Schema.Number,
  /** Prompt-cache writes. */
  cacheWrite: Schema.Number,
  /** Prompt-cache reads. */
  cacheRead: Schema.Number,
  /** Models that answered but have no price: their tokens are not in `usd`. */
  unpriced: Schema.Array(Schema.String)
}) {}

/**
 * A cost of zero.
 * @since 0.2.0
 */
export const empty: Cost = new Cost({ usd: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, unpriced: [] })

/**
 * Builds a cost from its parts (missing parts are 0); `usd` is their sum.
 * @since 0.2.0
 */
export const make = (parts: {
  readonly input?: number | undefined
  readonly output?: number | undefined
  readonly cacheWrite?: number | undefined
  readonly cacheRead?: number | undefined
  readonly unpriced?: ReadonlyArray<string> | undefined
}): Cost => {
  const input = parts.input ?? 0
  const output = parts.output ?? 0
  const cacheWrite = parts.cacheWrite ?? 0
  const cacheRead = parts.cacheRead ?? 0
  return new Cost({
    usd: input + output + cacheWrite + cacheRead,
    input,
    output,
    cacheWrite,
    cacheRead,
    unpriced: [...(parts.unpriced ?? [])]
  })
}

/**
 * Sums two costs part by part; `unpriced` is the union of both.
 * @since 0.2.0
 */
export const add = (self: Cost, that: Cost): Cost => {
  if (that === empty) return self
  if (self === empty) return that
  const unpriced =
    that.unpriced.length === 0
      ? self.unpriced
      : [...self.unpriced, ...that.unpriced.filter((model) => !self.unpriced.includes(model))]
  return new Cost({
    usd: self.usd + that.usd,
    input: self.input + that.input,
    output: self.output + that.output,
    cacheWrite: self.cacheWrite + that.cacheWrite,
    cacheRead: self.cacheRead + that.cacheRead,
    unpriced
  })
}

/**
 * The totals a budget counts, for one ask, one session or one agent: dollars, input tokens (every
 * prompt token: uncached, cache reads and cache writes), output tokens, tool compute time and
 * wall time, both in milliseconds.
 * @since 0.2.0
 */
export class Spent extends Schema.Class<Spent>("data-harness/Spent")({
  usd: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  toolCpuMs: Schema.Number,
  wallTimeMs: Schema.Number
}) {}

/**
 * Nothing spent.
 * @since 0.2.0
 */
export const nothingSpent: Spent = new Spent({ usd: 0, inputTokens: 0, outputTokens: 0, toolCpuMs: 0, wallTimeMs: 0 })
