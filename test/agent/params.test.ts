/**
 * Per-call parameters checked by the agent, whatever the provider: a value of the wrong type or
 * out of the range every provider shares is an `InvalidOptions` naming it, before anything is
 * added to the session or sent; valid ones reach `Provider.Request` (the scripted provider
 * records every request).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Agent, HarnessError, Message, Mock, NormalizedResponse, Provider, Tool, Usage } from "../../src/index.js"

const lookup = Tool.make("lookup", {
  description: "Looks a word up.",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => Effect.succeed(`${q}: found`)
})

const invalidCases: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ["model", { model: "" }],
  ["maxTokens", { maxTokens: 0 }],
  ["maxTokens", { maxTokens: 1.5 }],
  ["temperature", { temperature: 3 }],
  ["temperature", { temperature: Number.NaN }],
  ["temperature", { temperature: "0.5" }],
  ["topP", { topP: 1.5 }],
  ["topK", { topK: 0 }],
  ["stopSequences", { stopSequences: "END" }],
  ["stopSequences[1]", { stopSequences: ["END", ""] }],
  ["thinking", { thinking: "on" }],
  ["thinking.type", { thinking: { type: "maximal" } }],
  ["thinking.budgetTokens", { thinking: { budgetTokens: 0 } }],
  ["toolChoice", { toolChoice: "required" }],
  ["toolChoice.type", { toolChoice: { type: "function" } }],
  ["toolChoice.name", { toolChoice: { type: "tool", name: "nope" } }],
  ["toolChoice.disableParallelToolUse", { toolChoice: { type: "auto", disableParallelToolUse: "yes" } }],
  ["metadata", { metadata: "user-1" }],
  ["metadata.userId", { metadata: { userId: 5 } }],
  ["system", { system: 5 }],
  ["answer", { answer: { not: "a schema" } }],
  ["timeouts.idle", { timeouts: { idle: "soon" } }]
]

describe("per-call parameters checked by the agent", () => {
  it.effect("an invalid one is InvalidOptions naming it, before anything is added or sent", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [lookup] })
      const session = yield* agent.session()
      for (const [option, options] of invalidCases) {
        const error = yield* Effect.flip(session.ask("hi", options as never))
        assert.instanceOf(error, HarnessError.InvalidOptions, option)
        assert.strictEqual((error as HarnessError.InvalidOptions).option, option)
        assert.isTrue(error.message.length > 20, error.message)
      }
      assert.deepStrictEqual(yield* session.history, [])
      assert.strictEqual(yield* (yield* Mock.Recorder).turns, 0)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("Agent.make fails with InvalidOptions for an invalid default", () =>
    Effect.gen(function* () {
      for (const [option, options] of invalidCases.filter(([o]) => o !== "system" && o !== "timeouts.idle")) {
        const error = yield* Effect.flip(Agent.make({ tools: [lookup], ...(options as object) }))
        assert.instanceOf(error, HarnessError.InvalidOptions, option)
        assert.strictEqual(error.option, option)
      }
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("valid ones reach the provider's request: the agent's as defaults, the ask's over them", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [lookup], model: "m-agent", temperature: 0.5, topK: 3 })
      const session = yield* agent.session()
      yield* session.ask("one")
      yield* session.ask("two", {
        temperature: 1.7,
        topP: 0.5,
        stopSequences: ["\n"],
        thinking: { budgetTokens: 2048 },
        toolChoice: "none",
        metadata: { userId: "u" }
      })
      const [one, two] = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(one!.model, "m-agent")
      assert.strictEqual(one!.temperature, 0.5)
      assert.strictEqual(one!.topK, 3)
      assert.isUndefined(one!.toolChoice)
      assert.strictEqual(two!.model, "m-agent")
      assert.strictEqual(two!.temperature, 1.7)
      assert.strictEqual(two!.topK, 3)
      assert.strictEqual(two!.topP, 0.5)
      assert.deepStrictEqual(two!.stopSequences, ["\n"])
      assert.deepStrictEqual(two!.thinking, { type: "enabled", budgetTokens: 2048 })
      assert.deepStrictEqual(two!.toolChoice, { type: "none" })
      assert.deepStrictEqual(two!.metadata, { userId: "u" })
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a forced tool choice holds for every attempt of the first turn, then turns choose freely", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [lookup], builtinTools: false })
      assert.strictEqual(yield* agent.run("Look x up.", { toolChoice: "any" }), "done")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(
        requests.map((request) => request.toolChoice),
        [{ type: "any" }, { type: "auto" }]
      )
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("lookup", { q: "x" }), Mock.text("done")] })))
  )

  it.effect("a system addition without an agent system prompt is the only system block", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ cache: false })
      yield* agent.run("one", { system: "Be terse." })
      yield* agent.run("two", { system: "  " })
      const [one, two] = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(one!.system, [Message.text("Be terse.")])
      assert.isUndefined(two!.system)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a provider's refusal of a later turn keeps what the ask did; of the first, nothing", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [lookup], builtinTools: false })
      const session = yield* agent.session()
      // turn 1 calls the tool; the provider refuses turn 2 (as it would a block it cannot carry)
      const error = yield* Effect.flip(session.ask("Look x up."))
      assert.instanceOf(error, HarnessError.InvalidOptions)
      const kept = yield* session.history
      assert.deepStrictEqual(
        kept.map((message) => message.role),
        ["user", "assistant", "user"]
      )
      // the next ask's first request is refused: the session stays as it was
      yield* Effect.flip(session.ask("Again."))
      assert.deepStrictEqual(yield* session.history, kept)
    }).pipe(
      Effect.provide(
        Layer.effect(
          Provider.Provider,
          Effect.sync(() => {
            let calls = 0
            return Provider.make({
              name: "refusing",
              model: "m",
              chat: () =>
                calls++ === 0
                  ? Effect.succeed(
                      new NormalizedResponse.NormalizedResponse({
                        stopReason: "tool_use",
                        content: [{ type: "tool_use", id: "toolu_1", name: "lookup", input: { q: "x" } }],
                        usage: Usage.empty
                      })
                    )
                  : Effect.fail(new HarnessError.InvalidOptions({ option: "x", message: "refused" }))
            })
          })
        )
      )
    )
  )
})
