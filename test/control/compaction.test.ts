import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Compaction, Data, Message } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

const turn = (i: number, result = `result ${i}`): Message.History => [
  Message.user(`question ${i}`),
  Message.assistant([{ type: "tool_use", id: `t${i}`, name: "sql", input: { query: `SELECT ${i}` } }]),
  Message.user([Message.toolResult(`t${i}`, result)]),
  Message.assistant(`answer ${i}`)
]

describe("Compaction", () => {
  it("splits before the last model turns and keeps the history valid", () => {
    const history = [...turn(1), ...turn(2), ...turn(3)]
    const from = Compaction.splitPoint(history, 2)
    assert.strictEqual(from, 9) // the assistant's tool call of turn 3
    const compacted = Compaction.replaceWithSummary(history, from!, "Asked 1 and 2.")
    assertValidHistory(compacted)
    assert.strictEqual(compacted[0]!.role, "user")
    assert.include(JSON.stringify(compacted[0]), "Asked 1 and 2.")
    assert.deepStrictEqual(compacted.slice(1), history.slice(9))
    // too short to summarise
    assert.isUndefined(Compaction.splitPoint(turn(1), 2))
  })

  it("writes a transcript with tool calls and clipped results, without thinking", () => {
    const text = Compaction.transcript(
      [
        ...turn(1, "x".repeat(50)),
        Message.assistant([{ type: "thinking", thinking: "secret", signature: "s" }, Message.text("done")])
      ],
      10
    )
    assert.include(text, "User: question 1")
    assert.include(text, '[tool call sql t1] {"query":"SELECT 1"}')
    assert.include(text, "[tool result t1] xxxxxxxxxx… (40 more characters)")
    assert.notInclude(text, "secret")
  })

  it.effect("offloads large tool results into handles the model can query, except in the last message", () =>
    Effect.gen(function* () {
      const data = yield* Data.makeStore
      const table = JSON.stringify({
        rowCount: 300,
        columns: ["id", "v"],
        types: ["INTEGER", "VARCHAR"],
        rows: Array.from({ length: 300 }, (_, i) => [i, `value ${i}`])
      })
      const history = [...turn(1, table), ...turn(2, "y".repeat(5_000)), ...turn(3, "z".repeat(5_000)).slice(0, 3)]
      const { history: out, offloaded } = yield* Compaction.offload(history, data, 1_000)
      assert.deepStrictEqual(
        offloaded.map((o) => [o.toolUseId, o.handle]),
        [
          ["t1", "tool_result"],
          ["t2", "tool_result_2"]
        ]
      )
      assertValidHistory([...out, Message.assistant("ok")])
      assert.include(JSON.stringify(out[2]), 'data handle \\"tool_result\\" (a table)')
      // the last message, not yet read by the model, is untouched
      assert.deepStrictEqual(out[10], history[10])
      // the offloaded table is a table again
      const result = yield* data.query("SELECT count(*) AS n, max(v) AS top FROM tool_result")
      assert.deepStrictEqual(result.rows[0], { n: 300, top: "value 99" })
    })
  )
})
