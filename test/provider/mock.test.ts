/**
 * The scripted provider's options and requests: a bad option is a typed `InvalidOptions` (never a
 * throw), and every per-call parameter is accepted and recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, type Duration, Effect, Layer } from "effect"
import { InvalidOptions } from "../../src/core/HarnessError.js"
import * as Message from "../../src/core/Message.js"
import * as Mock from "../../src/provider/Mock.js"
import * as Provider from "../../src/provider/Provider.js"

const turns = [Mock.text("hello")]

/** Each option that is not valid, and the option the error names. */
const invalid: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ["an eventDelay that is not a duration", { turns, eventDelay: "abc" }, "eventDelay"],
  ["a negative headersDelay", { turns, headersDelay: -5 }, "headersDelay"],
  ["an eventDelay object of words", { turns, eventDelay: { seconds: "two" } }, "eventDelay"],
  ["a chunkSize of 0", { turns, chunkSize: 0 }, "chunkSize"],
  ["a fractional chunkSize", { turns, chunkSize: 1.5 }, "chunkSize"],
  ["an unknown whenExhausted", { turns, whenExhausted: "never" }, "whenExhausted"],
  ["streaming that is not a boolean", { turns, streaming: "yes" }, "streaming"],
  ["an empty model name", { turns, model: "" }, "model"],
  ["turns that are not an array", { turns: "hello" }, "turns"],
  ["a turn that is not a script", { turns: [Mock.text("a"), 42] }, "turns[1]"]
]

describe("Mock options", () => {
  for (const [what, options, option] of invalid) {
    it.effect(`${what} fails with InvalidOptions (${option}), it does not throw`, () =>
      Effect.gen(function* () {
        const layer = Mock.layer(options as unknown as Mock.Options)
        const error = yield* Effect.flip(Layer.build(layer))
        assert.instanceOf(error, InvalidOptions)
        assert.strictEqual(error.option, option)
        assert.include(error.message, option)
        const direct = yield* Effect.flip(Mock.make(options as unknown as Mock.Options))
        assert.strictEqual(direct.option, option)
      })
    )
  }

  it.effect("valid delays in every accepted form build", () =>
    Effect.gen(function* () {
      for (const eventDelay of ["10 millis", 10, { seconds: 1 }] as ReadonlyArray<Duration.Input>) {
        yield* Layer.build(Mock.layer({ turns, eventDelay, headersDelay: 0, chunkSize: 2, whenExhausted: "fail" }))
      }
    })
  )
})

describe("Mock requests", () => {
  it.effect("every per-call parameter is accepted and recorded as the provider saw it", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Mock.layer({ turns }))
      const provider = Context.get(context, Provider.Provider)
      const recorder = Context.get(context, Mock.Recorder)
      const request: Provider.Request = {
        messages: [Message.user("hi")],
        tools: [{ name: "sql", description: "SQL", input_schema: { type: "object" } }],
        model: "other-model",
        maxTokens: 99,
        temperature: 0.5,
        topP: 0.8,
        topK: 7,
        stopSequences: ["END"],
        thinking: { type: "enabled", budgetTokens: 2048 },
        toolChoice: { type: "tool", name: "sql", disableParallelToolUse: true },
        metadata: { userId: "u-1" }
      }
      const response = yield* Provider.collect(provider.stream(request))
      assert.strictEqual(response.text, "hello")
      const [seen] = yield* recorder.requests
      assert.deepStrictEqual(seen, request)
    })
  )
})
