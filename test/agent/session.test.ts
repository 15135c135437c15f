import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, type Data, HarnessError, Message, Mock, Tool } from "../../src/index.js"
import { assertValidHistory, runEvents, textBlocks, toolResultEvents } from "../utils/events.js"

const echo = Tool.make("echo", {
  description: "Echoes its text.",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.as(Effect.sleep("50 millis"), `echo: ${text}`)
})

/** The prompt of the exchange in progress: the text of the last user message that has text. */
const promptOf = (messages: ReadonlyArray<Message.Message>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    const texts = textBlocks(message)
    if (message.role === "user" && texts.length > 0) return texts.map((block) => block.text).join("")
  }
  return ""
}

/** A model that echoes the prompt through the tool, then answers with the tool's result. */
const echoModel = Mock.reply(({ messages, lastToolResults }) =>
  lastToolResults.length === 0
    ? Mock.toolCall("echo", { text: promptOf(messages) })
    : Mock.text(`answer to ${promptOf(messages)} (${String(lastToolResults[0]!.content)})`)
)

describe("concurrent asks on one session", () => {
  it.effect("produce two whole exchanges, one after the other", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [echo], builtinTools: false })
      const session = yield* agent.session()
      const fiber = yield* Effect.forkChild(
        Effect.all([session.ask("question a"), session.ask("question b")], { concurrency: 2 })
      )
      yield* TestClock.adjust("1 minute")
      const answers = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answers, [
        "answer to question a (echo: question a)",
        "answer to question b (echo: question b)"
      ])

      const history = yield* session.history
      assertValidHistory(history)
      const shape = history.map((message) => `${message.role}:${message.content.map((b) => b.type).join(",")}`)
      assert.deepStrictEqual(shape, [
        "user:text",
        "assistant:tool_use",
        "user:tool_result",
        "assistant:text",
        "user:text",
        "assistant:tool_use",
        "user:tool_result",
        "assistant:text"
      ])
      // each exchange is whole: its prompt, its tool call, its result and its answer belong together
      for (const start of [0, 4]) {
        const prompt = Message.textOf(history[start]!.content)
        const use = Message.toolUses(history[start + 1]!.content)[0]!
        assert.deepStrictEqual(use.input, { text: prompt })
        assert.strictEqual((history[start + 2]!.content[0] as Message.ToolResultBlock).tool_use_id, use.id)
        assert.strictEqual(Message.textOf(history[start + 3]!.content), `answer to ${prompt} (echo: ${prompt})`)
      }
    }).pipe(Effect.provide(Mock.layer({ turns: [echoModel], eventDelay: "10 millis" })))
  )

  it.effect("concurrent streamed asks do not interleave their events", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [echo], builtinTools: false })
      const session = yield* agent.session()
      const order: Array<string> = []
      const tagged = (name: string) =>
        Effect.map(runEvents(session.askStream(name)), ({ events }) => {
          for (const event of events) order.push(`${name}:${event.type}`)
          return events.length
        })
      const fiber = yield* Effect.forkChild(Effect.all([tagged("a"), tagged("b")], { concurrency: 2 }))
      yield* TestClock.adjust("1 minute")
      const [countA, countB] = yield* Fiber.join(fiber)
      assert.isAbove(countA, 0)
      assert.isAbove(countB, 0)
      assertValidHistory(yield* session.history)
      assert.strictEqual((yield* session.history).length, 8)
    }).pipe(Effect.provide(Mock.layer({ turns: [echoModel], eventDelay: "10 millis" })))
  )
})

describe("session.put naming", () => {
  const rows = [{ region: "EU", revenue: 120 }]

  it.effect("a taken name gets a suffix unless overwrite is set", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      assert.strictEqual(yield* session.put("sales", rows), "sales")
      assert.strictEqual(yield* session.put("sales", rows), "sales_2")
      assert.strictEqual(yield* session.put("sales", rows), "sales_3")
      assert.strictEqual(yield* session.put("sales", [{ region: "US", revenue: 80 }], { overwrite: true }), "sales")
      const handles = yield* session.handles
      assert.sameMembers(
        handles.map((handle) => handle.name),
        ["sales", "sales_2", "sales_3"]
      )
      const sales = handles.find((handle) => handle.name === "sales")!
      assert.deepStrictEqual(sales.value, [{ region: "US", revenue: 80 }])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a session's data store keeps what concurrent puts put", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      const names = yield* Effect.all([session.put("a", rows), session.put("b", rows), session.data.get("a")], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(names.slice(0, 2), ["a", "b"])
      assert.sameMembers(
        (yield* session.handles).map((handle) => handle.name),
        ["a", "b"]
      )
      const result = yield* session.data.query("SELECT count(*) AS n FROM a")
      assert.strictEqual(Number(result.rows[0]!.n), 1)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a session's store functions work detached from it", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      const { put, list, get, read } = session.data
      assert.strictEqual(yield* put("sales", rows), "sales")
      assert.deepStrictEqual(
        (yield* list).map((handle) => handle.name),
        ["sales"]
      )
      assert.deepStrictEqual(yield* read((yield* get("sales"))!), rows)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("names become identifiers", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      assert.strictEqual(yield* session.put("my data", 1), "my_data")
      assert.strictEqual(yield* session.put("2024", 1), "_2024")
      assert.strictEqual(yield* session.put("  sales-by region!  ", 1), "sales_by_region")
      assert.strictEqual(yield* session.put("select", 1), "select_")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("an empty or unusable name is a DataError InvalidName", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      for (const name of ["", "   ", "!!!"]) {
        const error = yield* Effect.flip(session.put(name, 1))
        assert.instanceOf(error, HarnessError.DataError)
        assert.strictEqual(error.reason, "InvalidName")
        assert.strictEqual(error.name, name)
        assert.include(error.message, "letters, digits and underscores")
      }
      assert.deepStrictEqual(yield* session.handles, [])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})

describe("session.put snapshots", () => {
  const sales = Array.from({ length: 7 }, (_, i) => ({
    id: i + 1,
    region: ["EU", "US", "APAC"][i % 3]!,
    revenue: i % 2 === 0 ? 100 + i : 100.5 + i,
    note: i === 0 ? "first" : null,
    code: i % 2 === 0 ? i : `c${i}`,
    empty: null
  }))

  const snapshotOf = (handles: ReadonlyArray<Data.Handle>, name: string) =>
    handles.find((handle) => handle.name === name)!.snapshot

  it.effect("a table has rows, typed columns with descriptions, and 5 sample rows", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      yield* session.put("sales", sales, { semantics: { revenue: "net revenue in EUR", region: "sales region" } })
      const snapshot = snapshotOf(yield* session.handles, "sales")
      assert.deepStrictEqual(snapshot, {
        kind: "table",
        rows: 7,
        columns: [
          { name: "id", type: "integer" },
          { name: "region", type: "string", description: "sales region" },
          { name: "revenue", type: "number", description: "net revenue in EUR" },
          { name: "note", type: "string" },
          { name: "code", type: "integer|string" },
          { name: "empty", type: "null" }
        ],
        sample: sales.slice(0, 5)
      })
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("arrays, objects and scalars get their own snapshots", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      yield* session.put("values", [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
      yield* session.put("config", { currency: "EUR", thresholds: { low: 10, high: 100 } })
      yield* session.put("answer_count", 42)
      yield* session.put("ratio", 0.25)
      yield* session.put("label", "Q3")
      yield* session.put("started_on", new Date("2024-01-02T00:00:00.000Z"))
      const handles = yield* session.handles
      assert.deepStrictEqual(snapshotOf(handles, "values"), {
        kind: "array",
        length: 12,
        sample: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
      })
      assert.deepStrictEqual(snapshotOf(handles, "config"), {
        kind: "object",
        keys: ["currency", "thresholds"],
        preview: { currency: "EUR", thresholds: { low: 10, high: 100 } }
      })
      assert.deepStrictEqual(snapshotOf(handles, "answer_count"), { kind: "scalar", type: "integer", value: 42 })
      assert.deepStrictEqual(snapshotOf(handles, "ratio"), { kind: "scalar", type: "number", value: 0.25 })
      assert.deepStrictEqual(snapshotOf(handles, "label"), { kind: "scalar", type: "string", value: "Q3" })
      assert.deepStrictEqual(snapshotOf(handles, "started_on"), {
        kind: "scalar",
        type: "date",
        value: "2024-01-02T00:00:00.000Z"
      })
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a snapshot is JSON, whatever the value holds (bigints, dates)", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      yield* session.put("big", [{ n: 12345678901234567890n, at: new Date(0) }])
      const snapshot = snapshotOf(yield* session.handles, "big")
      assert.doesNotThrow(() => JSON.stringify(snapshot))
      assert.deepStrictEqual(snapshot, {
        kind: "table",
        rows: 1,
        columns: [
          { name: "n", type: "bigint" },
          { name: "at", type: "date" }
        ],
        sample: [{ n: "12345678901234567890", at: "1970-01-01T00:00:00.000Z" }]
      })
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})

describe("session.put rejects values it cannot store", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cycle: Record<string, unknown> = { a: 1 }
  cycle.self = cycle

  const cases: ReadonlyArray<{
    readonly what: string
    readonly value: unknown
    readonly mentions: ReadonlyArray<string>
  }> = [
    { what: "a function inside a row", value: [{ a: 1, f: () => 1 }], mentions: ["function", "value[0].f"] },
    { what: "a cycle", value: cycle, mentions: ["cycle", "value.self"] },
    { what: "a Map", value: new Map([["a", 1]]), mentions: ["Map instance"] },
    { what: "a class instance in a row", value: [{ p: new Point(1) }], mentions: ["Point instance", "value[0].p"] },
    { what: "a symbol", value: { s: Symbol("x") }, mentions: ["symbol", "value.s"] }
  ]

  it.effect.each(cases)("$what is a DataError UnsupportedValue and the handles are unchanged", ({ value, mentions }) =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      yield* session.put("kept", [{ a: 1 }])
      const before = yield* session.handles
      const error = yield* Effect.flip(session.put("bad", value))
      assert.instanceOf(error, HarnessError.DataError)
      assert.strictEqual(error.reason, "UnsupportedValue")
      assert.strictEqual(error.name, "bad")
      for (const mention of mentions) assert.include(error.message, mention)
      assert.deepStrictEqual(yield* session.handles, before)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )

  it.effect("a shared (non-cyclic) reference is fine", () =>
    Effect.gen(function* () {
      const session = yield* (yield* Agent.make()).session()
      const shared = { x: 1 }
      assert.strictEqual(yield* session.put("shared", { a: shared, b: shared }), "shared")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})

describe("list_variables", () => {
  it.effect("lists the session's handles with their snapshots to the model", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.put("sales", [{ region: "EU", revenue: 120 }], { description: "Sales by region" })
      yield* session.put("threshold", 100)
      const { events } = yield* runEvents(session.askStream("What data do I have?"))
      const [result] = toolResultEvents(events)
      assert.strictEqual(result!.tool_name, "list_variables")
      assert.isFalse(result!.is_error)
      assert.deepStrictEqual(JSON.parse(result!.content as string), [
        {
          name: "sales",
          description: "Sales by region",
          kind: "table",
          rows: 1,
          columns: [
            { name: "region", type: "string" },
            { name: "revenue", type: "integer" }
          ],
          sample: [{ region: "EU", revenue: 120 }]
        },
        { name: "threshold", kind: "scalar", type: "integer", value: 100 }
      ])
      const history = yield* session.history
      assert.strictEqual(Message.textOf(history[history.length - 1]!.content), "You have sales and threshold.")
    }).pipe(
      Effect.provide(
        Mock.layer({ turns: [Mock.toolCall("list_variables"), Mock.text("You have sales and threshold.")] })
      )
    )
  )

  it.effect("says so when there is no data", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const { events } = yield* runEvents(agent.runStream("What data do I have?"))
      const [result] = toolResultEvents(events)
      assert.strictEqual(result!.content, "No data handles yet.")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("list_variables"), Mock.text("None.")] })))
  )
})

describe("continuing a saved history", () => {
  it.effect("a saved history ending in an unanswered tool_use is repaired before the next request", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false })
      const saved: Message.History = [
        Message.user("first"),
        Message.assistant([{ type: "tool_use", id: "toolu_saved", name: "gone", input: {} }])
      ]
      const session = yield* agent.session({ history: saved })
      assert.strictEqual(yield* session.ask("next"), "ok")
      const recorder = yield* Mock.Recorder
      const sent = (yield* recorder.requests)[0]!.messages
      assertValidHistory(sent)
      const results = sent[2]!.content.filter((b) => b.type === "tool_result") as Array<Message.ToolResultBlock>
      assert.deepStrictEqual(
        results.map((r) => [r.tool_use_id, r.is_error]),
        [["toolu_saved", true]]
      )
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})

describe("invalid options", () => {
  const assertInvalid = (error: unknown, option: string, mentions: string) => {
    assert.instanceOf(error, HarnessError.InvalidOptions)
    assert.strictEqual(error.option, option)
    assert.include(error.message, mentions)
    assert.isFalse(HarnessError.isRetryable(error))
  }

  it.effect("an invalid per-ask timeout fails the ask with InvalidOptions and leaves the session as it was", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const session = yield* agent.session()
      yield* session.ask("first")
      const before = yield* session.history
      const cases: ReadonlyArray<readonly [unknown, string, string]> = [
        [{ idle: "5 minuts" }, "timeouts.idle", '"5 minuts"'],
        [{ turn: -5 }, "timeouts.turn", "negative"],
        [{ run: Number.NaN }, "timeouts.run", "NaN"],
        [{ tool: { hours: "two" } }, "timeouts.tool", "not a duration"],
        [{ idel: "5 seconds" }, "timeouts.idel", "not a timeout phase"],
        ["30 seconds", "timeouts", "must be an object"]
      ]
      for (const [timeouts, option, mentions] of cases) {
        const options = { timeouts } as never
        assertInvalid(yield* Effect.flip(session.ask("second", options)), option, mentions)
        assertInvalid(yield* Effect.flip(session.askResult("second", options)), option, mentions)
        const streamed = yield* runEvents(session.askStream("second", options))
        assert.deepStrictEqual(streamed.events, [])
        assert.isTrue(Exit.isFailure(streamed.exit))
        assertInvalid(Cause.squash((streamed.exit as Exit.Failure<unknown, unknown>).cause), option, mentions)
        // runStream builds its stream without throwing; running it fails
        const once = agent.runStream("second", options)
        assertInvalid(yield* Effect.flip(Stream.runDrain(once)), option, mentions)
        assertInvalid(yield* Effect.flip(agent.run("second", options)), option, mentions)
      }
      assert.deepStrictEqual(yield* session.history, before, "nothing was added to the session")
      // the session still works with valid options
      assert.strictEqual(yield* session.ask("third", { timeouts: { turn: "1 minute" } }), "third answer")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("first answer"), Mock.text("third answer")] })))
  )

  it.effect("Agent.make fails with InvalidOptions for an invalid option", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Agent.Options<never>, string, string]> = [
        [{ timeouts: { firstEvent: "soon" as never } }, "timeouts.firstEvent", '"soon"'],
        [{ retry: { maxRetryAfter: -1 } }, "retry.maxRetryAfter", "negative"],
        [{ maxTurns: 0 }, "maxTurns", "at least 1"],
        [{ maxTurns: 2.5 }, "maxTurns", "whole number"],
        [{ maxTokens: Number.NaN }, "maxTokens", "NaN"],
        [{ toolConcurrency: -1 }, "toolConcurrency", "at least 1"],
        [{ timeouts: 5 as never }, "timeouts", "must be an object"],
        [{ timeouts: null as never }, "timeouts", "must be an object"],
        [{ timeouts: { idle: [Number.NaN, 0] } }, "timeouts.idle", "not a duration"],
        [{ timeouts: { idle: { hours: Number.POSITIVE_INFINITY } } }, "timeouts.idle", "hours: Infinity"],
        [{ timeouts: { idle: { minutes: undefined } } }, "timeouts.idle", "no parts"]
      ]
      for (const [options, option, mentions] of cases) {
        assertInvalid(yield* Effect.flip(Agent.make(options)), option, mentions)
      }
      // valid edge values are accepted: a zero limit, an infinite one, an object with an unset
      // part, a [seconds, nanos] pair, one turn
      const agent = yield* Agent.make({
        timeouts: { tool: 0, run: "Infinity", idle: { seconds: 30, minutes: undefined }, turn: [60, 0] },
        maxTurns: 1
      })
      assert.strictEqual(yield* agent.run("hi"), "ok")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
  )
})
