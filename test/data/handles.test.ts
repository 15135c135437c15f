/**
 * Handles through the public API: names compared ignoring case everywhere, free names found
 * without scanning, one JSON rule for whole numbers, and clear errors for a directory.
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Data, Mock } from "../../src/index.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

describe("names ignore case everywhere", () => {
  it.effect("get and remove find a handle whatever the case, as SQL does", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("Sales", [{ a: 1 }])
      assert.strictEqual((yield* store.get("sales"))?.name, "Sales")
      assert.strictEqual((yield* store.get("SALES"))?.name, "Sales")
      yield* store.remove("sALES")
      assert.deepStrictEqual(yield* store.list, [])
      const error = yield* Effect.flip(store.query("SELECT * FROM sales"))
      assert.include(error.message, "does not exist", "SQL no longer sees it either")
    }).pipe(Effect.scoped)
  )

  it.effect("a removed name_2 is free again, and overwrite replaces whatever the case", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const names = yield* Effect.forEach([1, 2, 3], (i) => store.put("h", i))
      assert.deepStrictEqual(names, ["h", "h_2", "h_3"])
      yield* store.remove("H_2")
      assert.strictEqual(yield* store.put("h", 4), "h_2", "the first free suffix")
      assert.strictEqual(yield* store.put("h", 5), "h_4")
      assert.strictEqual(yield* store.put("H", 6, { overwrite: true }), "H")
      assert.deepStrictEqual(
        (yield* store.list).map((handle) => [handle.name, handle.value]),
        [
          ["h_3", 3],
          ["h_2", 4],
          ["h_4", 5],
          ["H", 6]
        ]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("10,000 puts of one name get h, h_2 … h_10000", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      let last = ""
      for (let i = 0; i < 10_000; i++) last = yield* store.put("h", i)
      assert.strictEqual(last, "h_10000")
      assert.strictEqual((yield* store.list).length, 10_000)
    }).pipe(Effect.scoped)
  )
})

describe("whole numbers follow one rule", () => {
  it.effect("a bigint shows as the same number in the snapshot, in SQL and in JavaScript", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* Effect.addFinalizer(() => session.data.close)
      yield* session.put("counts", [{ n: 5n, big: 2n ** 60n }])
      yield* session.put("five", 5n)
      const handles = yield* session.handles
      const counts = handles.find((handle) => handle.name === "counts")!.snapshot
      const five = handles.find((handle) => handle.name === "five")!.snapshot
      assert.deepStrictEqual(counts.kind === "table" ? counts.sample : [], [{ n: 5, big: "1152921504606846976" }])
      assert.deepStrictEqual(five, { kind: "scalar", type: "bigint", value: 5 })
      const { events } = yield* runEvents(session.askStream("go"))
      const [sql, js] = toolResultEvents(events).map((event) => event.content as string)
      assert.deepStrictEqual(JSON.parse(sql!).rows, [[5, "1152921504606846976"]])
      assert.strictEqual(js, 'Result: [5,"1152921504606846976",5]')
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("sql", { query: "SELECT n, big FROM counts" }),
            Mock.toolCall("javascript", { code: "[counts[0].n, counts[0].big, five]" }),
            Mock.text("done")
          ]
        })
      )
    )
  )
})

describe("files that cannot be put", () => {
  it.effect("a directory is named as a directory, whatever its name says about the format", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const directory = fixture("")
      const error = yield* Effect.flip(store.putFile("data", directory))
      assert.strictEqual(error.reason, "FileNotFound")
      assert.include(error.message, "is a directory")
      assert.include(error.message, "*.csv")
      assert.notInclude(error.message, "Cannot tell the format")
      assert.deepStrictEqual(yield* store.list, [])
    }).pipe(Effect.scoped)
  )
})
