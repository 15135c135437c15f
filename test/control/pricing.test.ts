import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Cost, Pricing, Usage } from "../../src/index.js"

const close = (actual: number, expected: number) => assert.approximately(actual, expected, 1e-12)

describe("Pricing", () => {
  it("prices each kind of token at the model's rate, per million tokens", () => {
    const price = Pricing.lookup(Pricing.defaultTable, "claude-sonnet-4-6")
    const usage = Usage.make({ inputTokens: 1_000, outputTokens: 500, cacheReadTokens: 2_000, cacheWriteTokens: 3_000 })
    const cost = Pricing.costOf(usage, price, "claude-sonnet-4-6")
    close(cost.input, (1_000 * 3) / 1e6)
    close(cost.output, (500 * 15) / 1e6)
    close(cost.cacheRead, (2_000 * 0.3) / 1e6)
    close(cost.cacheWrite, (3_000 * 3.75) / 1e6)
    close(cost.usd, cost.input + cost.output + cost.cacheRead + cost.cacheWrite)
    assert.deepStrictEqual(cost.unpriced, [])
  })

  it("finds a model under its dated, router-prefixed or dotted id", () => {
    for (const id of [
      "claude-sonnet-4-5-20250929",
      "anthropic/claude-sonnet-4.5",
      "CLAUDE-SONNET-4-5",
      "claude-sonnet-4-5-latest"
    ]) {
      assert.strictEqual(Pricing.lookup(Pricing.defaultTable, id)?.input, 3, id)
    }
    assert.strictEqual(Pricing.lookup(Pricing.defaultTable, "gpt-4o-2024-08-06")?.output, 10)
    assert.strictEqual(Pricing.lookup(Pricing.defaultTable, "openai/gpt-5-mini")?.input, 0.25)
    assert.strictEqual(Pricing.lookup(Pricing.defaultTable, "claude-opus-4")?.input, 15)
    // no prefix matching: gpt-5.4-nano is not gpt-5.4
    assert.isUndefined(Pricing.lookup(Pricing.defaultTable, "gpt-5.4-nano"))
  })

  it("a long prompt is priced at its tier, the whole request", () => {
    const price = Pricing.lookup(Pricing.defaultTable, "claude-haiku-5-5")
    const short = Pricing.costOf(Usage.make({ inputTokens: 100_000, outputTokens: 1_000 }), price, "h")
    close(short.usd, (100_000 * 0.1 + 1_000 * 0.5) / 1e6)
    const long = Pricing.costOf(
      Usage.make({ inputTokens: 60_000, cacheReadTokens: 50_000, outputTokens: 1_000 }),
      price,
      "h"
    )
    close(long.usd, (60_000 * 0.5 + 50_000 * 0.05 + 1_000 * 2.5) / 1e6)
  })

  it("OpenAI cache reads are priced as cached input and nothing is charged for writes", () => {
    const price = Pricing.lookup(Pricing.defaultTable, "gpt-5")
    const cost = Pricing.costOf(
      Usage.make({ inputTokens: 1_000, cacheReadTokens: 9_000, outputTokens: 100 }),
      price,
      "gpt-5"
    )
    close(cost.usd, (1_000 * 1.25 + 9_000 * 0.125 + 100 * 10) / 1e6)
  })

  it("a model with no price costs nothing and is named as unpriced", () => {
    const cost = Pricing.costOf(Usage.make({ inputTokens: 10 }), undefined, "my-model")
    assert.strictEqual(cost.usd, 0)
    assert.deepStrictEqual(cost.unpriced, ["my-model"])
    assert.deepStrictEqual(Cost.add(cost, cost).unpriced, ["my-model"])
  })

  it("every row of the default table says where it comes from and when it was read", () => {
    for (const [model, price] of Object.entries(Pricing.defaultTable)) {
      assert.isString(price.source, model)
      assert.match(price.checked ?? "", /^\d{4}-\d{2}-\d{2}$/, model)
      assert.isAbove(price.output, price.input, model)
    }
  })

  it.effect("a layer adds rows over the default table, or replaces it", () =>
    Effect.gen(function* () {
      const usage = Usage.make({ inputTokens: 1_000_000, outputTokens: 1_000_000 })
      const added = yield* Pricing.cost("mock-model", usage).pipe(
        Effect.provide(Pricing.layer({ "mock-model": { input: 1, output: 2 } }))
      )
      assert.strictEqual(added.usd, 3)
      const defaultKept = yield* Pricing.cost("gpt-5", usage).pipe(
        Effect.provide(Pricing.layer({ "mock-model": { input: 1, output: 2 } }))
      )
      assert.strictEqual(defaultKept.usd, 11.25)
      const replaced = yield* Pricing.cost("gpt-5", usage).pipe(
        Effect.provide(Pricing.layer({ "mock-model": { input: 1, output: 2 } }, { replace: true }))
      )
      assert.deepStrictEqual(replaced.unpriced, ["gpt-5"])
      const byDefault = yield* Pricing.cost("gpt-5", usage)
      assert.strictEqual(byDefault.usd, 11.25)
    })
  )
})
