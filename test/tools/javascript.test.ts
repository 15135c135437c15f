import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Data, DataTools, Mock, type Session, type StreamEvent, type Tool } from "../../src/index.js"
import * as JavaScript from "../../src/tools/JavaScript.js"
import * as Sql from "../../src/tools/Sql.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

const text = (event: StreamEvent.ToolResult): string => {
  assert.isString(event.content)
  return event.content as string
}

/** The javascript tool with a short time limit, so the runaway-code tests stay fast. */
const javascript = JavaScript.make({ timeoutMs: 300, memoryBytes: 32 * 1024 * 1024 })

/**
 * Asks once in a fresh session prepared by `setup`: the scripted model runs each piece of code in
 * its own turn, then ends with "done". Returns the tool results, the run result and the session.
 */
const run = (
  setup: (session: Session.Session) => Effect.Effect<unknown, unknown>,
  codes: ReadonlyArray<string>,
  tools: ReadonlyArray<Tool.Tool> = [javascript, Sql.sql]
) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ dataTools: tools })
    const session = yield* agent.session()
    yield* Effect.addFinalizer(() => session.data.close)
    yield* setup(session)
    const result = yield* session.askResult("Compute it.")
    const history = yield* session.history
    const results = history.flatMap((message) =>
      message.role === "user"
        ? message.content.flatMap((block) =>
            block.type === "tool_result" ? [{ content: String(block.content), isError: block.is_error === true }] : []
          )
        : []
    )
    assert.strictEqual(results.length, codes.length)
    return { results, result, session }
  }).pipe(
    Effect.provide(
      Mock.layer({ turns: [...codes.map((code) => Mock.toolCall("javascript", { code })), Mock.text("done")] })
    )
  )

const none = () => Effect.void

const sales = Array.from({ length: 500 }, (_, i) => ({
  region: ["north", "south", "east", "west"][i % 4]!,
  units: (i * 7) % 13,
  price: [2.5, 10, 4.25][i % 3]!
}))
const revenue = sales.reduce((sum, row) => sum + row.units * row.price, 0)

describe("computing over handles", () => {
  it.effect("a computation over a put table returns the last expression's value", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => s.put("sales", sales),
        ["sales.reduce((sum, row) => sum + row.units * row.price, 0)"]
      )
      assert.deepStrictEqual(results, [{ content: `Result: ${revenue}`, isError: false }])
    })
  )

  it.effect("printed output comes back with the value, in order", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => s.put("sales", sales),
        [
          `const byRegion = {}
for (const row of sales) byRegion[row.region] = (byRegion[row.region] ?? 0) + row.units
console.log("regions:", Object.keys(byRegion).length)
console.log(byRegion)
Object.entries(byRegion).sort((a, b) => b[1] - a[1])[0]`
        ]
      )
      const byRegion: Record<string, number> = {}
      for (const row of sales) byRegion[row.region] = (byRegion[row.region] ?? 0) + row.units
      const top = Object.entries(byRegion).sort((a, b) => b[1] - a[1])[0]
      assert.strictEqual(
        results[0]!.content,
        `Output:\nregions: 4\n${JSON.stringify(byRegion)}\nResult: ${JSON.stringify(top)}`
      )
    })
  )

  it.effect("file handles and saved query results are in scope as arrays of records", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) =>
          Effect.andThen(
            s.putFile("sales", fixture("sales.csv")),
            s.data.saveQuery("north", "SELECT * FROM sales WHERE region = 'north'")
          ),
        ["[sales.length, north.length, sales[0]]"]
      )
      assert.deepStrictEqual(results[0]!.content.startsWith("Result: "), true)
      assert.deepStrictEqual(JSON.parse(results[0]!.content.slice(8)), [
        20,
        5,
        { date: "2024-01-01", region: "north", product: "widget", units: 1, price: 2.5 }
      ])
    })
  )

  it.effect("only the handles the code mentions are loaded", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (s) => Effect.andThen(s.put("small", [1, 2, 3]), s.put("other", { a: 1 })),
        ['[small.length, typeof globalThis["oth" + "er"]]']
      )
      assert.strictEqual(results[0]!.content, 'Result: [3,"undefined"]')
    })
  )

  it.effect("each call starts with fresh locals and globals", () =>
    Effect.gen(function* () {
      const { results } = yield* run(none, [
        "var kept = 1; globalThis.alsoKept = 2; Object.prototype.polluted = true; 'set'",
        "[typeof kept, typeof alsoKept, ({}).polluted === undefined]"
      ])
      assert.strictEqual(results[1]!.content, 'Result: ["undefined","undefined",true]')
    })
  )

  it.effect("code with no output and no value says so", () =>
    Effect.gen(function* () {
      const { results } = yield* run(none, ["let x = 1"])
      assert.strictEqual(results[0]!.content, "(no output, and the last expression has no value)")
    })
  )

  it.effect("a large value is cut, with a hint to save it", () =>
    Effect.gen(function* () {
      const { results } = yield* run(none, ["Array.from({ length: 5000 }, (_, i) => i)"])
      assert.isBelow(results[0]!.content.length, 8_300)
      assert.include(results[0]!.content, "save(name, value)")
    })
  )
})

describe("save and answer", () => {
  it.effect("save(name, value) makes a new handle that SQL and later code can use", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ dataTools: [javascript, Sql.sql] })
      const session = yield* agent.session()
      yield* session.put("sales", sales)
      const { events } = yield* runEvents(session.askStream("Summarise by region."))
      const [saved, query, reuse] = toolResultEvents(events).map(text)
      assert.strictEqual(
        saved,
        'Output:\nsaving\nResult: "sales"\nSaved as handle "by_region": a table of 4 rows; columns region (string), units (integer).\n' +
          'Saved as handle "sales_2" (the name "sales" was taken): an array of 2 items.'
      )
      const rows = JSON.parse(query!.split("\n")[0]!).rows
      const units = sales.reduce((sum, row) => sum + row.units, 0)
      assert.deepStrictEqual(rows, [[units]])
      assert.strictEqual(reuse, "Result: 4")
      const names = (yield* session.handles).map((h) => h.name)
      assert.deepStrictEqual(names, ["sales", "by_region", "sales_2"])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("javascript", {
              code: `const totals = {}
for (const row of sales) totals[row.region] = (totals[row.region] ?? 0) + row.units
console.log("saving")
save("by_region", Object.entries(totals).map(([region, units]) => ({ region, units })))
save("sales", [1, 2])`
            }),
            Mock.toolCall("sql", { query: "SELECT sum(units) AS units FROM by_region" }),
            Mock.toolCall("javascript", { code: "by_region.length" }),
            Mock.text("done")
          ]
        })
      )
    )
  )

  it.effect("answer(value) sets RunResult.value", () =>
    Effect.gen(function* () {
      const { result, results } = yield* run(
        (s) => s.put("sales", sales),
        ["answer({ revenue: sales.reduce((sum, row) => sum + row.units * row.price, 0), currency: 'EUR' })"]
      )
      assert.strictEqual(results[0]!.content, "Answer recorded.")
      assert.deepStrictEqual(result.value, { revenue, currency: "EUR" })
    })
  )

  it.effect("nothing is saved or answered when the code fails after calling save and answer", () =>
    Effect.gen(function* () {
      const { result, results, session } = yield* run(none, [
        'save("partial", [1]); answer(1); throw new Error("late")'
      ])
      assert.isTrue(results[0]!.isError)
      assert.isUndefined(result.value)
      assert.deepStrictEqual(yield* session.handles, [])
    })
  )
})

describe("errors and escape attempts", () => {
  it.effect("a thrown error is an error result with the message and the output printed before it", () =>
    Effect.gen(function* () {
      const { results } = yield* run(none, ['console.log("step 1"); throw new Error("boom")', "1 +"])
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, 'Tool "javascript" failed: SandboxError: The code threw Error: boom')
      assert.include(results[0]!.content, "Printed before the error:\nstep 1")
      assert.isTrue(results[1]!.isError)
      assert.include(results[1]!.content, "The code does not parse: SyntaxError")
    })
  )

  const secret = NodePath.join(Os.tmpdir(), `data-harness-secret-${process.pid}.txt`)
  const escapes: ReadonlyArray<readonly [string, string, string]> = [
    [
      "a file read with require",
      `require("fs").readFileSync(${JSON.stringify(secret)}, "utf8")`,
      "'require' is not defined"
    ],
    [
      "a dynamic import",
      `import("node:fs").then((fs) => fs.readFileSync(${JSON.stringify(secret)}, "utf8"))`,
      "could not load module 'node:fs'"
    ],
    ["a static import", `import fs from "node:fs"; fs`, "SyntaxError"],
    ["process", "process.exit(1)", "'process' is not defined"],
    [
      "the constructor escape",
      'globalThis.constructor.constructor("return process")().exit(1)',
      "'process' is not defined"
    ],
    [
      "the function constructor",
      'Function("return this")().process.mainModule',
      "cannot read property 'mainModule' of undefined"
    ],
    ["the network", 'fetch("https://example.com")', "'fetch' is not defined"],
    ["a websocket", 'new WebSocket("wss://example.com")', "'WebSocket' is not defined"],
    ["timers", "setTimeout(() => 1, 0)", "'setTimeout' is not defined"],
    ["an infinite loop", "while (true) {}", "ran longer than 300 ms"],
    ["a memory bomb", "const a = []; while (true) a.push(new Array(1e6).fill(1))", "ran out of memory"],
    ["a string bomb", 'let s = "x"; while (true) s += s', "and was stopped"],
    ["deep recursion", "const f = (n) => f(n + 1) + 1; f(0)", "stack overflow"],
    [
      "a host prototype change",
      'Object.prototype.polluted = "yes"; Array.prototype.map = null; JSON.parse = null; this.constructor.constructor("return process")()',
      "'process' is not defined"
    ]
  ]
  for (const [label, code, message] of escapes) {
    it.effect(`${label} is an error result and the host is unharmed`, () =>
      Effect.gen(function* () {
        Fs.writeFileSync(secret, "top secret")
        const { results } = yield* run((s) => s.put("sales", sales), [code, "sales.length"])
        assert.isTrue(results[0]!.isError, `expected an error result, got: ${results[0]!.content}`)
        assert.include(results[0]!.content, message)
        assert.notInclude(results[0]!.content, "top secret")
        assert.deepStrictEqual(results[1], { content: "Result: 500", isError: false }, "the next call works")
        const probe: Record<string, unknown> = {}
        assert.isUndefined(probe.polluted, "Object.prototype of the host is untouched")
        assert.deepStrictEqual(
          [1, 2].map((x) => x * 2),
          [2, 4]
        )
        assert.deepStrictEqual(JSON.parse("[1]"), [1])
        assert.strictEqual(Fs.readFileSync(secret, "utf8"), "top secret")
      })
    )
  }

  it.effect("an escape attempt fails with the default limits too", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        none,
        ['globalThis.constructor.constructor("return process")().mainModule.require("child_process")'],
        [JavaScript.javascript]
      )
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, "'process' is not defined")
    })
  )
})

// Issue 13.3: one call is bounded on the host too (handles, bytes, result size, time).
describe("bounds on what one call may create", () => {
  const tenThousandSaves = "for (let i = 0; i < 10000; i++) save('h' + i, i)"

  it.effect("10,000 saves with the default limits: an error result that names the bound, and no handle is kept", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(none, [tenThousandSaves, "1 + 1"], [JavaScript.javascript])
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, "more than 100 handles")
      assert.include(results[0]!.content, "maxSaves")
      assert.include(results[0]!.content, "nothing it saved was kept")
      assert.isBelow(results[0]!.content.length, 2_000)
      assert.deepStrictEqual(yield* session.handles, [])
      assert.deepStrictEqual(results[1], { content: "Result: 2", isError: false }, "the next call works")
    })
  )

  it.effect("code that catches the save error still fails, and keeps nothing", () =>
    Effect.gen(function* () {
      const tool = JavaScript.make({ maxSaves: 3 })
      const { results, session } = yield* run(
        none,
        [
          "let caught = ''; try { for (let i = 0; i < 10; i++) save('h' + i, i) } catch (e) { caught = e.message }; caught"
        ],
        [tool]
      )
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, "more than 3 handles")
      assert.deepStrictEqual(yield* session.handles, [])
    })
  )

  it.effect("the bounds are set through DataTools.make({ javascript }) too", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(
        none,
        ["save('a', 1); save('b', 2)"],
        DataTools.make({ javascript: { maxSaves: 1 } })
      )
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, "more than 1 handle, the most one call may save (maxSaves)")
      assert.deepStrictEqual(yield* session.handles, [])
    })
  )

  it.effect("a save past maxSaveBytes is an error result that names the bound; repeated names count once", () =>
    Effect.gen(function* () {
      const tool = JavaScript.make({ maxSaves: 2, maxSaveBytes: 1_000 })
      const { results, session } = yield* run(
        none,
        [
          "save('small', [1, 2]); save('big', 'x'.repeat(2000))",
          // 1,000 saves of two names, each value replacing the last: within both bounds
          "for (let i = 0; i < 500; i++) { save('a', i); save('b', 'y'.repeat(i)) }"
        ],
        [tool]
      )
      assert.isTrue(results[0]!.isError)
      assert.include(results[0]!.content, "maxSaveBytes")
      assert.include(results[0]!.content, "nothing it saved was kept")
      assert.isFalse(results[1]!.isError, results[1]!.content)
      const handles = yield* session.handles
      assert.deepStrictEqual(
        handles.map((handle) => [handle.name, handle.value]),
        [
          ["a", 499],
          ["b", "y".repeat(499)]
        ]
      )
    })
  )

  it.effect("with the bound raised, 2,000 saves keep the tool result within its documented size", () =>
    Effect.gen(function* () {
      const maxResultChars = 2_000
      const tool = JavaScript.make({ maxSaves: 2_000, maxResultChars, timeoutMs: 60_000 })
      const { results, session } = yield* run(
        none,
        ["for (let i = 0; i < 2000; i++) save('h' + i, i); 'saved'"],
        [tool]
      )
      const content = results[0]!.content
      assert.isFalse(results[0]!.isError, content)
      // documented: output (none here) + value + the saved list, each capped, plus labels
      assert.isAtMost(content.length, 2 * maxResultChars + 300)
      assert.include(content, 'Saved as handle "h0": an integer: 0.')
      assert.include(content, "…and 1980 more")
      assert.strictEqual((yield* session.handles).length, 2_000)
    })
  )

  it.effect("moving the input data in counts inside the call's time limit", () =>
    Effect.gen(function* () {
      const rows = Array.from({ length: 200_000 }, (_, i) => ({ id: i, region: `region ${i % 7}`, amount: i / 10 }))
      // the code itself takes microseconds; only moving 200,000 rows in could take 10 ms
      const tool = JavaScript.make({ timeoutMs: 10 })
      const { results } = yield* run((s) => s.put("rows", rows), ["rows.length"], [tool])
      assert.isTrue(results[0]!.isError, results[0]!.content)
      assert.include(results[0]!.content, "Moving the input data into the sandbox took")
      assert.include(results[0]!.content, "10 ms limit")
    })
  )

  it.live("saving counts inside the call's time limit: past it nothing is saved", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      // a store whose every put takes 30 ms (a slow disk, say): 50 saves would take 1.5 s
      const slow: Data.Store = {
        ...store,
        put: (name, value, options) => Effect.andThen(Effect.sleep("30 millis"), store.put(name, value, options))
      }
      const agent = yield* Agent.make({ dataTools: [JavaScript.make({ timeoutMs: 500 })] })
      const session = yield* agent.session({ data: slow })
      const { events } = yield* runEvents(session.askStream("Save them."))
      const [result] = toolResultEvents(events)
      assert.isTrue(result?.is_error === true)
      assert.include(text(result!), "did not finish within the call's 500 ms limit, so nothing was saved")
      assert.deepStrictEqual(yield* store.list, [])
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("javascript", { code: "for (let i = 0; i < 50; i++) save('h' + i, i)" }),
            Mock.text("done")
          ]
        })
      )
    )
  )
})
