import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Cost, Data, Hooks, Message, Usage } from "../../src/index.js"

const base = (data: Data.Store) => ({
  turn: 1,
  history: [] as Message.History,
  data,
  usage: Usage.empty,
  cost: Cost.empty
})

describe("Hooks.compose", () => {
  it.effect("runs hooks in order: each sees the input the previous one left, the first deny ends the chain", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      const seen: Array<string> = []
      const composed = Hooks.compose(
        {
          beforeTool: (call) =>
            Effect.sync(() => {
              seen.push(`a:${JSON.stringify(call.input)}`)
              return Hooks.replaceInput({ n: 2 })
            })
        },
        {
          beforeTool: (call) =>
            Effect.sync(() => {
              seen.push(`b:${JSON.stringify(call.input)}`)
              return Hooks.deny("no")
            })
        },
        { beforeTool: () => Effect.sync(() => void seen.push("c")) }
      )
      const decision = yield* composed.beforeTool!({ ...base(data), toolUseId: "t", name: "x", input: { n: 1 } })
      assert.deepStrictEqual(decision, Hooks.deny("no"))
      assert.deepStrictEqual(seen, ['a:{"n":1}', 'b:{"n":2}'])
    })
  )

  it.effect("an approval request is kept while later hooks run, with the replaced input", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      const composed = Hooks.compose(
        { beforeTool: () => Effect.succeed(Hooks.requireApproval("sensitive")) },
        { beforeTool: () => Effect.succeed(Hooks.replaceInput({ limited: true })) }
      )
      const decision = yield* composed.beforeTool!({ ...base(data), toolUseId: "t", name: "x", input: {} })
      assert.deepStrictEqual(decision, { _tag: "RequireApproval", reason: "sensitive", input: { limited: true } })
    })
  )

  it.effect("results and requests are threaded; a stop ends the chain", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      const composed = Hooks.compose(
        { afterTool: (call) => Effect.succeed(Hooks.replaceResult(`${call.result.content}!`)) },
        { afterTool: (call) => Effect.succeed(Hooks.replaceResult(`${call.result.content}?`)) }
      )
      const call = { ...base(data), toolUseId: "t", name: "x", input: {}, durationMs: 1 }
      const decision = yield* composed.afterTool!({ ...call, result: { content: "r", isError: false } })
      assert.deepStrictEqual(decision, Hooks.replaceResult("r!?"))

      const request = { messages: [Message.user("hi")], tools: [] }
      const models = Hooks.compose(
        { beforeModel: (c) => Effect.succeed(Hooks.replaceRequest({ ...c.request, maxTokens: 10 })) },
        { beforeModel: (c) => Effect.succeed(c.request.maxTokens === 10 ? Hooks.stop("saw 10") : undefined) },
        { beforeModel: () => Effect.die("not reached") }
      )
      const stopped = yield* models.beforeModel!({ ...base(data), request, attempt: 1 })
      assert.deepStrictEqual(stopped, Hooks.stop("saw 10"))
    })
  )

  it("a point without hooks stays empty, so the agent skips it", () => {
    const composed = Hooks.compose({ afterTurn: () => Effect.void }, {})
    assert.isUndefined(composed.beforeModel)
    assert.isUndefined(composed.beforeTool)
    assert.isFunction(composed.afterTurn)
  })
})
