/**
 * Typed answers: the `answer` tool takes the answer schema, the model's value is decoded with it,
 * a value that does not decode goes back to the model as an error result (a bounded number of
 * times), and `RunResult.value` has the schema's type.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { z } from "zod"
import { Agent, HarnessError, Mock, type Provider, RunResult } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

const Total = Schema.Struct({ total: Schema.Number, currency: Schema.String })

/** The scripted model's answer tool, as the last request sent it. */
const answerToolOf = (requests: ReadonlyArray<Provider.Request>) =>
  requests.at(-1)!.tools.find((tool) => tool.name === "answer")!

describe("typed answers", () => {
  it.effect("an invalid answer goes back to the model as an error result; the valid one is the typed value", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Total })
      const result = yield* agent.runResult("What is the total revenue?")
      assert.instanceOf(result, RunResult.RunResult)
      // typed: a compile error here if value were unknown
      const total: number | undefined = result.value?.total
      assert.strictEqual(total, 200)
      assert.deepStrictEqual(result.value, { total: 200, currency: "EUR" })
      assert.strictEqual(result.text, "The total is 200 EUR.")

      const requests = yield* (yield* Mock.Recorder).requests
      const schema = answerToolOf(requests).input_schema
      assert.deepStrictEqual(schema.required, ["total", "currency"])
      assert.strictEqual((schema.properties as Record<string, { type: string }>).total!.type, "number")
      // the refusal the model read on its second turn
      const refusal = requests[1]!.messages.at(-1)!.content[0] as { content: string; is_error: boolean }
      assert.isTrue(refusal.is_error)
      assert.include(refusal.content, "total")
      assert.include(refusal.content, "Call it again")
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("answer", { total: "lots", currency: "EUR" }),
            Mock.reply(({ lastToolResults }) =>
              lastToolResults[0]?.is_error === true
                ? Mock.toolCall("answer", { total: 200, currency: "EUR" })
                : Mock.text("the refusal did not arrive")
            ),
            Mock.text("The total is 200 EUR.")
          ]
        })
      )
    )
  )

  it.effect("a schema that is not an object is the tool's `value`", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Schema.Array(Schema.Number) })
      const result = yield* agent.runResult("The first primes?")
      const primes: ReadonlyArray<number> | undefined = result.value
      assert.deepStrictEqual(primes, [2, 3, 5])
      const schema = answerToolOf(yield* (yield* Mock.Recorder).requests).input_schema
      assert.deepStrictEqual(schema.required, ["value"])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("answer", { value: [2, 3, 5] }), Mock.text("Done.")] })))
  )

  it.effect("the value is decoded from its JSON form (a Date from an ISO string)", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Schema.Struct({ at: Schema.Date }) })
      const result = yield* agent.runResult("When?")
      assert.instanceOf(result.value?.at, Date)
      assert.strictEqual(result.value?.at.toISOString(), "2024-05-01T00:00:00.000Z")
    }).pipe(
      Effect.provide(
        Mock.layer({ turns: [Mock.toolCall("answer", { at: "2024-05-01T00:00:00.000Z" }), Mock.text("Done.")] })
      )
    )
  )

  it.effect("after answerRetries refusals the next invalid answer fails the run with InvalidAnswer", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Total, answerRetries: 1 })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.askResult("What is the total?"))
      assert.instanceOf(error, Agent.InvalidAnswer)
      const invalid = error as Agent.InvalidAnswer
      assert.strictEqual(invalid.reason, "invalid")
      assert.strictEqual(invalid.attempts, 2)
      assert.include(invalid.issue, "total")
      assert.isFalse(invalid.isRetryable)
      assert.strictEqual(yield* (yield* Mock.Recorder).turns, 2)
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("answer", { total: "lots" })] })))
  )

  it.effect("a run that ends without an answer is reminded, and then answers", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Total })
      const result = yield* agent.runResult("What is the total?")
      assert.deepStrictEqual(result.value, { total: 5, currency: "USD" })
      const requests = yield* (yield* Mock.Recorder).requests
      assert.include(JSON.stringify(requests[1]!.messages.at(-1)), "answer")
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.text("It is 5 dollars."),
            Mock.toolCall("answer", { total: 5, currency: "USD" }),
            Mock.text("Done.")
          ]
        })
      )
    )
  )

  it.effect("with no retries left, a missing answer fails with InvalidAnswer (missing)", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Total, answerRetries: 0 })
      const error = yield* Effect.flip(agent.run("What is the total?"))
      assert.instanceOf(error, Agent.InvalidAnswer)
      assert.strictEqual((error as Agent.InvalidAnswer).reason, "missing")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("It is 5 dollars.")] })))
  )

  it.effect("one ask's answer schema types that ask only", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({})
      const session = yield* agent.session()
      const typed = yield* session.askResult("Total?", { answer: Total })
      const currency: string | undefined = typed.value?.currency
      assert.strictEqual(currency, "EUR")
      const untyped = yield* session.askResult("Anything?")
      assert.deepStrictEqual(untyped.value, "free")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(answerToolOf(requests.slice(0, 1)).input_schema.required, ["total", "currency"])
      assert.deepStrictEqual(answerToolOf(requests).input_schema.required, ["value"])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("answer", { total: 1, currency: "EUR" }),
            Mock.text("Done."),
            Mock.toolCall("answer", { value: "free" }),
            Mock.text("Done.")
          ]
        })
      )
    )
  )

  it.effect("an ask's answer on an agent without the answer tool is InvalidOptions", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false })
      const error = yield* Effect.flip(agent.run("Total?", { answer: Total }))
      assert.instanceOf(error, HarnessError.InvalidOptions)
      assert.strictEqual((error as HarnessError.InvalidOptions).option, "answer")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a Zod schema (Standard Schema) types the answer too; its JSON Schema comes from Zod", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: z.object({ total: z.number().int() }), builtinTools: false })
      const result = yield* agent.runResult("Total?")
      const total: number | undefined = result.value?.total
      assert.strictEqual(total, 7)
      const requests = yield* (yield* Mock.Recorder).requests
      const schema = answerToolOf(requests).input_schema
      assert.deepStrictEqual(schema.required, ["total"])
      assert.isUndefined(schema.$schema)
      const refusal = requests[1]!.messages.at(-1)!.content[0] as { content: string; is_error: boolean }
      assert.isTrue(refusal.is_error)
      assert.include(refusal.content, '["total"]')
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.toolCall("answer", { total: 7.5 }), Mock.toolCall("answer", { total: 7 }), Mock.text("7.")]
        })
      )
    )
  )
})

describe("an answer's sources", () => {
  it.effect(
    "the answer names the handles it came from: RunResult.sources, as the handles are named, with their lineage",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make()
        const session = yield* agent.session()
        yield* session.put("sales", [
          { region: "EU", revenue: 120 },
          { region: "US", revenue: 80 }
        ])
        const result = yield* session.askResult("Total revenue?")
        assert.deepStrictEqual(result.value, 200)
        assert.deepStrictEqual(result.sources, ["totals", "sales"])
        // each source's chain back to what was put
        const lineage = yield* session.lineage("totals")
        assert.include(JSON.stringify(lineage), "sales")
        // the model was refused an unknown source first, and nothing was recorded then
        const requests = yield* (yield* Mock.Recorder).requests
        const refusal = requests[2]!.messages.at(-1)!.content[0] as { content: string; is_error: boolean }
        assert.isTrue(refusal.is_error)
        assert.include(refusal.content, 'No data handle named "revenue_table"')
        assertValidHistory(yield* session.history)
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.toolCall("sql", { query: "SELECT sum(revenue) AS total FROM sales", save_as: "totals" }),
              Mock.toolCall("answer", { value: 200, sources: ["revenue_table"] }),
              Mock.toolCall("answer", { value: 200, sources: ["TOTALS", "sales", "totals"] }),
              Mock.text("200.")
            ]
          })
        )
      )
  )

  it.effect("a typed answer that is not an object takes sources beside its value", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ answer: Schema.Array(Schema.Number) })
      const session = yield* agent.session()
      yield* session.put("primes", [{ p: 2 }, { p: 3 }, { p: 5 }])
      const result = yield* session.askResult("The first primes?")
      assert.deepStrictEqual(result.value, [2, 3, 5])
      assert.deepStrictEqual(result.sources, ["primes"])
      const schema = answerToolOf(yield* (yield* Mock.Recorder).requests).input_schema
      assert.deepStrictEqual(Object.keys(schema.properties as object), ["value", "sources"])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Mock.layer({ turns: [Mock.toolCall("answer", { value: [2, 3, 5], sources: ["primes"] }), Mock.text("Done.")] })
      )
    )
  )
})
