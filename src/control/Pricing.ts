/**
 * What models cost: a price table per model (US dollars per million tokens for input, output,
 * prompt-cache writes of 5 minutes and 1 hour, and cache reads; the context window and output
 * limit), and the arithmetic that turns a turn's `Usage` into a `Cost`.
 *
 * The table is a `Pricing` service with a default ({@link defaultTable}: Anthropic and OpenAI
 * models, each row with its source and the date it was read). Extend or override it with
 * {@link layer} (or `Agent.make({ prices })` for one agent): prices move, new models appear, and
 * a model the table does not know is priced at nothing and named in `Cost.unpriced`.
 *
 * How a turn is priced: input tokens (uncached) at `input`, output at `output`, cache writes at
 * `cacheWrite5m` (the harness writes 5-minute cache entries; `Usage` does not split the two), cache
 * reads at `cacheRead`. A price with `tiers` (a higher price for long prompts) prices the whole
 * request at the tier its prompt (input + cache reads + cache writes) falls in, as both vendors do.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pricing } from "data-harness"
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({})
 *   const result = yield* agent.runResult("How many orders are late?")
 *   result.cost.usd // priced by the table below, plus the rows the layer adds
 * }).pipe(Effect.provide(Pricing.layer({ "my-finetune": { input: 3, output: 15 } })))
 * ```
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import * as Cost from "../core/Cost.js"
import type * as Usage from "../core/Usage.js"
import type { Price } from "./price.js"
import { partsOf, ratesFor } from "./rates.js"

// models

export type { Price, Tier } from "./price.js"

/**
 * A price table: model id to price.
 * @since 0.2.0
 */
export type Table = Readonly<Record<string, Price>>

// the default table

const ANTHROPIC = "https://platform.claude.com/docs/en/about-claude/pricing"
const ANTHROPIC_MODELS = "https://platform.claude.com/docs/en/models"
const OPENAI = "https://developers.openai.com/api/docs/pricing"
const CHECKED = "2026-12-07"

/** An Anthropic price by its multipliers: 5-minute writes 1.25x input, 1-hour writes 2x, reads 0.1x. */
const anthropic = (input: number, output: number, rest: Partial<Price> = {}): Price => ({
  input,
  output,
  cacheWrite5m: input * 1.25,
  cacheWrite1h: input * 2,
  cacheRead: input * 0.1,
  source: ANTHROPIC,
  checked: CHECKED,
  ...rest
})

const openai = (input: number, cacheRead: number, output: number, rest: Partial<Price> = {}): Price => ({
  input,
  output,
  cacheRead,
  source: OPENAI,
  checked: CHECKED,
  ...rest
})

const K = 1_000

/**
 * The prices this version ships with (US dollars per million tokens), read on 2026-12-07.
 *
 * Anthropic (platform.claude.com pricing page and model pages): Opus 4.5-4.8 5/25, Opus 4/4.1
 * 15/75, Sonnet 4/4.5/4.6 3/15, Haiku 4.5 1/5; Opus 5 5/25, Opus 5.5 4/20, Sonnet 5 and 5.5 2/10,
 * Haiku 5.5 0.10/0.50 up to 100K prompt tokens and 0.50/2.50 above. OpenAI (developers.openai.com
 * pricing and model pages, and the third-party tables named per row): gpt-5 family, gpt-4.1,
 * gpt-4o, o3, o4-mini. Rows marked `uncertain` say what to check. Prices change: override with
 * {@link layer}.
 * @since 0.2.0
 */
export const defaultTable: Table = {
  // Anthropic, current 5.x line (model pages)
  "claude-opus-5": anthropic(5, 25, { contextWindow: 1_000 * K, maxOutput: 128 * K, source: ANTHROPIC_MODELS }),
  "claude-opus-5-5": anthropic(4, 20, {
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    source: ANTHROPIC_MODELS,
    uncertain: "cache prices by Anthropic's multipliers; one third-party catalogue lists cache reads at 0.20"
  }),
  "claude-sonnet-5": anthropic(2, 10, {
    cacheRead: 0.2,
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    source: ANTHROPIC_MODELS
  }),
  "claude-sonnet-5-5": anthropic(2, 10, {
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    source: ANTHROPIC_MODELS,
    uncertain: "cache reads 0.10 since 2026-10-07 per two third-party changelogs (0.20 before)"
  }),
  "claude-haiku-5-5": {
    input: 0.1,
    output: 0.5,
    cacheWrite5m: 0.125,
    cacheWrite1h: 0.2,
    cacheRead: 0.01,
    tiers: [{ above: 100 * K, input: 0.5, output: 2.5, cacheWrite5m: 0.625, cacheWrite1h: 1, cacheRead: 0.05 }],
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    source: `${ANTHROPIC_MODELS}/haiku-5-5/overview`,
    checked: CHECKED
  },
  // Anthropic, 4.x
  "claude-opus-4-8": anthropic(5, 25, {
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    uncertain: "context window 1M not confirmed on a model page"
  }),
  "claude-opus-4-7": anthropic(5, 25, {
    contextWindow: 1_000 * K,
    maxOutput: 128 * K,
    uncertain: "context window 1M not confirmed on a model page"
  }),
  "claude-opus-4-6": anthropic(5, 25, { contextWindow: 1_000 * K, maxOutput: 128 * K }),
  "claude-opus-4-5": anthropic(5, 25, { contextWindow: 200 * K, maxOutput: 64 * K }),
  "claude-opus-4-1": anthropic(15, 75, {
    contextWindow: 200 * K,
    maxOutput: 32 * K,
    uncertain: "max output from memory"
  }),
  "claude-opus-4-0": anthropic(15, 75, {
    contextWindow: 200 * K,
    maxOutput: 32 * K,
    uncertain: "max output from memory"
  }),
  "claude-sonnet-4-6": anthropic(3, 15, { contextWindow: 1_000 * K, maxOutput: 128 * K }),
  "claude-sonnet-4-5": anthropic(3, 15, {
    contextWindow: 200 * K,
    maxOutput: 64 * K,
    tiers: [{ above: 200 * K, input: 6, output: 22.5, cacheWrite5m: 7.5, cacheWrite1h: 12, cacheRead: 0.6 }],
    uncertain: "the long-context tier (prompts over 200K, 1M beta) is from memory"
  }),
  "claude-sonnet-4-0": anthropic(3, 15, {
    contextWindow: 200 * K,
    maxOutput: 64 * K,
    tiers: [{ above: 200 * K, input: 6, output: 22.5, cacheWrite5m: 7.5, cacheWrite1h: 12, cacheRead: 0.6 }],
    uncertain: "the long-context tier (prompts over 200K, 1M beta) and max output are from memory"
  }),
  "claude-haiku-4-5": anthropic(1, 5, { contextWindow: 200 * K, maxOutput: 64 * K }),
  // OpenAI (no charge for cache writes)
  "gpt-5.4": openai(2.5, 0.25, 15, {
    contextWindow: 1_050 * K,
    maxOutput: 128 * K,
    tiers: [{ above: 272 * K, input: 5, output: 22.5, cacheRead: 0.5 }],
    uncertain: "third-party table (adk-model crate, 2026-03); long prompts at 2x input, 1.5x output"
  }),
  "gpt-5.4-mini": openai(0.75, 0.075, 4.5, { uncertain: "third-party table (adk-model crate, 2026-03)" }),
  "gpt-5": openai(1.25, 0.125, 10, {
    contextWindow: 400 * K,
    maxOutput: 128 * K,
    uncertain: "openai-cost crate table 2026-Q2 (the launch price)"
  }),
  "gpt-5-mini": openai(0.25, 0.025, 2, { contextWindow: 400 * K, maxOutput: 128 * K }),
  "gpt-5-nano": openai(0.05, 0.005, 0.4, { contextWindow: 400 * K, maxOutput: 128 * K }),
  "gpt-4.1": openai(2, 0.5, 8, {
    contextWindow: 1_047_576,
    maxOutput: 32_768,
    uncertain: "litellm table (2025-04); no longer on OpenAI's pricing page"
  }),
  "gpt-4o": openai(2.5, 1.25, 10, {
    contextWindow: 128 * K,
    maxOutput: 16_384,
    uncertain: "sim.ai catalogue 2026-09-04"
  }),
  "gpt-4o-mini": openai(0.15, 0.075, 0.6, {
    contextWindow: 128 * K,
    maxOutput: 16_384,
    uncertain: "sim.ai catalogue 2026-09-04"
  }),
  o3: openai(2, 0.5, 8, {
    contextWindow: 200 * K,
    maxOutput: 100 * K,
    uncertain: "from memory: the price after the 2025-06-10 cut (launch 10/2.50/40)"
  }),
  "o4-mini": openai(1.1, 0.275, 4.4, {
    contextWindow: 200 * K,
    maxOutput: 100 * K,
    uncertain: "RooCode's table (2025-04-17)"
  })
}

// the service

/**
 * The price table in use: {@link defaultTable} unless a layer provides another.
 * @since 0.2.0
 */
export const Pricing: Context.Reference<Table> = Context.Reference<Table>("data-harness/Pricing", {
  defaultValue: () => defaultTable
})

/**
 * A layer whose table is the default one with `prices` added over it (a row of the same id
 * replaces the default's), or only `prices` with `{ replace: true }`.
 *
 * @example
 * ```ts
 * Effect.provide(program, Pricing.layer({ "mock-model": { input: 1, output: 2, contextWindow: 8_000 } }))
 * ```
 * @since 0.2.0
 */
export const layer = (prices: Table, options?: { readonly replace?: boolean | undefined }): Layer.Layer<never> =>
  Layer.succeed(Pricing, options?.replace === true ? prices : { ...defaultTable, ...prices })

// lookup

/** The ids a model name may be listed under: as given, lower case, without a router prefix or a date. */
const candidates = (model: string): ReadonlyArray<string> => {
  const lower = model.toLowerCase()
  const bare = lower.includes("/") ? lower.slice(lower.lastIndexOf("/") + 1) : lower
  const undated = bare.replace(/-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/, "")
  // OpenRouter writes Claude versions with dots (claude-sonnet-4.5)
  const dashed = undated.startsWith("claude") ? undated.replace(/(\d)\.(\d)/g, "$1-$2") : undated
  // claude-opus-4 and claude-sonnet-4 are listed as 4-0
  const zero = /^claude-(opus|sonnet)-4$/.test(dashed) ? `${dashed}-0` : dashed
  return [model, lower, bare, undated, dashed, zero]
}

/**
 * The price of `model` in `table`: its own row, else the row of its id without a router prefix
 * (`anthropic/`), a date suffix (`-20250929`, `-2024-08-06`) or `-latest`; `undefined` when there is none.
 *
 * @example
 * ```ts
 * Pricing.lookup(Pricing.defaultTable, "claude-sonnet-4-5-20250929")?.input // 3
 * ```
 * @since 0.2.0
 */
export const lookup = (table: Table, model: string): Price | undefined => {
  for (const id of candidates(model)) {
    const price = Object.hasOwn(table, id) ? table[id] : undefined
    if (price !== undefined) return price
  }
  return undefined
}

// arithmetic

/**
 * The cost of one request's usage at `price` (`undefined`: the model is named as unpriced).
 *
 * @example
 * ```ts
 * const price = Pricing.lookup(Pricing.defaultTable, "claude-sonnet-4-6")
 * Pricing.costOf(Usage.make({ inputTokens: 1_000, outputTokens: 500 }), price, "claude-sonnet-4-6").usd
 * // 1_000 * 3 / 1e6 + 500 * 15 / 1e6 = 0.0105
 * ```
 * @since 0.2.0
 */
export const costOf = (usage: Usage.Counts, price: Price | undefined, model: string): Cost.Cost => {
  const parts = partsOf(usage, price)
  if (parts === undefined) return tokensOf(usage) === 0 ? Cost.empty : Cost.make({ unpriced: [model] })
  return Cost.make(parts)
}

const tokensOf = (usage: Usage.Counts) =>
  usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens

/**
 * The cost of `usage` by `model` at the table in context.
 * @since 0.2.0
 */
export const cost = (model: string, usage: Usage.Counts): Effect.Effect<Cost.Cost> =>
  Effect.map(Effect.service(Pricing), (table) => costOf(usage, lookup(table, model), model))

/**
 * The input price of `tokens` prompt tokens of `model` (all counted as uncached input), at its
 * tier: what a budget reserves before a call.
 * @since 0.2.0
 */
export const inputCost = (price: Price | undefined, tokens: number): number =>
  price === undefined ? 0 : (tokens * ratesFor(price, tokens).input) / 1_000_000
