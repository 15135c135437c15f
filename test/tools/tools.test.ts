import { assert, describe, it } from "@effect/vitest"
import { Cause, type Duration, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Data, HarnessError, Message, Mock, NormalizedResponse, Provider, Tool, Usage } from "../../src/index.js"

const { InvalidOptions } = HarnessError
type InvalidOptions = HarnessError.InvalidOptions

import { assertValidHistory, lastUserMessage, runEvents, toolResultBlocks, toolResultEvents } from "../utils/events.js"

class LookupError extends Schema.TaggedError<LookupError>()("LookupError", { message: Schema.String }) {}

const mean = Tool.make("mean", {
  description: "Arithmetic mean of a list of numbers.",
  parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
  handler: ({ values }) => Effect.succeed(values.reduce((a, b) => a + b, 0) / values.length)
})

const lookup = Tool.make("lookup", {
  description: "Fails with a typed error.",
  parameters: Schema.Struct({ key: Schema.String }),
  handler: ({ key }) => Effect.fail(new LookupError({ message: `no row with key ${key}` }))
})

const dies = Tool.make("dies", {
  description: "Dies.",
  parameters: Schema.Struct({}),
  handler: () => Effect.die(new Error("invariant broken"))
})

const throws = Tool.make("throws", {
  description: "Throws from a plain handler.",
  parameters: Schema.Struct({}),
  handler: (): number => {
    throw new Error("thrown from the handler")
  }
})

const sleepy = Tool.make("sleepy", {
  description: "Sleeps longer than its timeout.",
  parameters: Schema.Struct({}),
  timeout: "1 second",
  handler: () => Effect.as(Effect.sleep("10 seconds"), "woke up")
})

const tools = [mean, lookup, dies, throws, sleepy]

/**
 * Runs one ask where the model calls `name` with `input` and then answers "recovered", and checks
 * that the call reached the model as an `is_error` result (event and next request alike), and that
 * the run went on to complete. Returns the error text.
 */
const failingCall = (name: string, input: unknown, drive?: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ tools, builtinTools: false })
    const session = yield* agent.session()
    const fiber = yield* Effect.forkChild(runEvents(session.askStream("Try the tool.")))
    if (drive) yield* drive
    const { events, exit } = yield* Fiber.join(fiber)
    assert.isTrue(Exit.isSuccess(exit), "the run completes")

    const [event, ...others] = toolResultEvents(events)
    assert.strictEqual(others.length, 0)
    assert.strictEqual(event!.tool_name, name)
    assert.strictEqual(event!.tool_use_id, "toolu_mock_0_0")
    assert.isTrue(event!.is_error)

    const requests = yield* (yield* Mock.Recorder).requests
    assert.strictEqual(requests.length, 2)
    const [block] = toolResultBlocks(lastUserMessage(requests[1]!))
    assert.deepStrictEqual(block, {
      type: "tool_result",
      tool_use_id: "toolu_mock_0_0",
      content: event!.content as string,
      is_error: true,
      // the next request is marked for caching on its last block
      cache_control: { type: "ephemeral" }
    })

    assert.strictEqual(events[events.length - 1]!.type, "message_stop")
    assertValidHistory(yield* session.history)
    return event!.content as string
  }).pipe(
    Effect.provide(
      Mock.layer({
        turns: [
          Mock.toolCall(name, input),
          Mock.reply(({ lastToolResults }) => ({ text: lastToolResults[0]?.is_error ? "recovered" : "no error?" }))
        ]
      })
    )
  )

describe("tool failures reach the model as is_error results", () => {
  it.effect("input that fails schema decoding names the field", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("mean", { values: "not a list" })
      assert.include(content, 'Invalid input for tool "mean"')
      assert.include(content, "values")
    })
  )

  it.effect("missing input fields are a decoding failure too", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("mean", {})
      assert.include(content, "values")
    })
  )

  it.effect("a handler failing with a typed error passes its message on", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("lookup", { key: "k42" })
      assert.include(content, "no row with key k42")
      assert.include(content, "LookupError")
    })
  )

  it.effect("a handler defect (Effect.die) becomes an error result", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("dies", {})
      assert.include(content, 'Tool "dies" crashed')
      assert.include(content, "invariant broken")
    })
  )

  it.effect("a handler that throws becomes an error result", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("throws", {})
      assert.include(content, 'Tool "throws" crashed')
      assert.include(content, "thrown from the handler")
    })
  )

  it.effect("an unknown tool name lists the available tools", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("nonexistent", {})
      assert.include(content, 'Unknown tool "nonexistent"')
      assert.include(content, "mean")
    })
  )

  it.effect("a tool that outlives its timeout is stopped and reported", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("sleepy", {}, TestClock.adjust("1 second"))
      assert.include(content, 'Tool "sleepy" timed out')
    })
  )

  it.effect("the tool timeout of the agent applies to tools without their own", () =>
    Effect.gen(function* () {
      const slow = Tool.make("slow", {
        description: "Slow.",
        parameters: Schema.Struct({}),
        handler: () => Effect.as(Effect.sleep("1 hour"), "late")
      })
      const agent = yield* Agent.make({ tools: [slow], builtinTools: false, timeouts: { tool: "5 seconds" } })
      const fiber = yield* Effect.forkChild(runEvents(agent.runStream("go")))
      yield* TestClock.adjust("5 seconds")
      const { events, exit } = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      const [result] = toolResultEvents(events)
      assert.isTrue(result!.is_error)
      assert.include(result!.content as string, "timed out")
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("slow"), Mock.text("ok")] })))
  )
})

/** The JSON types a JSON Schema node allows (`type`, or the types of its `anyOf` members). */
const typesOf = (node: Record<string, unknown>): Array<string> =>
  node.anyOf !== undefined ? (node.anyOf as Array<Record<string, unknown>>).flatMap(typesOf) : [node.type as string]

describe("tool input JSON Schema", () => {
  const report = Tool.make("report", {
    description: "Builds a report.",
    parameters: Schema.Struct({
      count: Schema.Number,
      title: Schema.String,
      note: Schema.optionalKey(Schema.String),
      tags: Schema.Array(Schema.String)
    }),
    handler: ({ title }) => title
  })

  it("is derived from the parameters Schema", () => {
    const schema = report.inputSchema as {
      readonly type: string
      readonly properties: Record<string, Record<string, unknown>>
      readonly required: ReadonlyArray<string>
    }
    assert.strictEqual(schema.type, "object")
    assert.sameMembers(Object.keys(schema.properties), ["count", "title", "note", "tags"])
    assert.sameMembers([...schema.required], ["count", "title", "tags"])
    assert.include(typesOf(schema.properties.count!), "number")
    assert.strictEqual(schema.properties.title!.type, "string")
    assert.strictEqual(schema.properties.note!.type, "string")
    assert.strictEqual(schema.properties.tags!.type, "array")
    assert.deepStrictEqual(schema.properties.tags!.items, { type: "string" })
  })

  it.effect("an empty Struct gives an object schema", () =>
    Effect.gen(function* () {
      const none = Tool.make("none", { description: "No input.", parameters: Schema.Struct({}), handler: () => 1 })
      assert.strictEqual(none.inputSchema.type, "object")
    })
  )

  it.effect("is what the recorded request's tools carry", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [report], builtinTools: false })
      yield* agent.run("hi")
      const [request] = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(request!.tools, [
        { name: "report", description: "Builds a report.", input_schema: report.inputSchema }
      ])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("hello")] })))
  )

  it.effect("a valid call decodes and runs the handler", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [report], builtinTools: false })
      const { events } = yield* runEvents(agent.runStream("go"))
      const [result] = toolResultEvents(events)
      assert.deepStrictEqual(
        { content: result!.content, is_error: result!.is_error },
        { content: "Q3", is_error: false }
      )
    }).pipe(
      Effect.provide(
        Mock.layer({ turns: [Mock.toolCall("report", { count: 1, title: "Q3", tags: [] }), Mock.text("ok")] })
      )
    )
  )
})

describe("tool input decoding follows the JSON Schema the model is sent", () => {
  // The model only ever sends JSON, shaped by the tool's advertised JSON Schema (derived from the
  // parameters' JSON codec). Input that matches that schema must decode.
  const schedule = Tool.make("schedule", {
    description: "Schedules a report.",
    parameters: Schema.Struct({ at: Schema.Date, every: Schema.optional(Schema.Number) }),
    handler: ({ at, every }) => `${at.toISOString()} every ${String(every)}`
  })

  it.effect("a Date parameter is advertised as a string and decodes from an ISO string", () =>
    Effect.gen(function* () {
      const at = (schedule.inputSchema.properties as Record<string, Record<string, unknown>>).at!
      assert.strictEqual(at.type, "string")
      const agent = yield* Agent.make({ tools: [schedule], builtinTools: false })
      const { events } = yield* runEvents(agent.runStream("go"))
      const [result] = toolResultEvents(events)
      assert.deepStrictEqual(
        { content: result!.content, is_error: result!.is_error },
        { content: "2024-01-02T00:00:00.000Z every undefined", is_error: false }
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.toolCall("schedule", { at: "2024-01-02T00:00:00.000Z", every: null }), Mock.text("ok")]
        })
      )
    )
  )
})

describe("progressive disclosure", () => {
  const secret = Tool.make("secret", {
    description: "A hidden tool.",
    parameters: Schema.Struct({}),
    visible: false,
    handler: () => "the secret is 42"
  })
  const reveal = Tool.make("reveal", {
    description: "Reveals the secret tool.",
    parameters: Schema.Struct({}),
    handler: (_params, context) => Effect.as(context.reveal("secret"), "revealed")
  })

  it.effect("a revealed tool is sent from the next request on; before that it is unknown", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [reveal, secret], builtinTools: false })
      const session = yield* agent.session()
      const { events, exit } = yield* runEvents(session.askStream("Find the secret."))
      assert.isTrue(Exit.isSuccess(exit))

      const requests = yield* (yield* Mock.Recorder).requests
      const names = requests.map((request) => request.tools.map((tool) => tool.name))
      assert.deepStrictEqual(names, [["reveal"], ["reveal"], ["reveal", "secret"], ["reveal", "secret"]])

      const results = toolResultEvents(events).map(({ tool_name, content, is_error }) => ({
        tool_name,
        content,
        is_error
      }))
      assert.strictEqual(results.length, 3)
      assert.deepStrictEqual(results[0], {
        tool_name: "secret",
        content: 'Unknown tool "secret". Available tools: reveal.',
        is_error: true
      })
      assert.deepStrictEqual(results[1], { tool_name: "reveal", content: "revealed", is_error: false })
      assert.deepStrictEqual(results[2], { tool_name: "secret", content: "the secret is 42", is_error: false })

      // a later ask on the same session still sees the revealed tool
      yield* session.ask("Again?")
      const later = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(
        later[later.length - 1]!.tools.map((tool) => tool.name),
        ["reveal", "secret"]
      )
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [Mock.toolCall("secret"), Mock.toolCall("reveal"), Mock.toolCall("secret"), Mock.text("42")]
        })
      )
    )
  )

  it.effect("a fresh session starts with the tool hidden again", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ tools: [reveal, secret], builtinTools: false })
      yield* agent.run("first")
      yield* agent.run("second")
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(
        requests[requests.length - 1]!.tools.map((tool) => tool.name),
        ["reveal"]
      )
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("reveal"), Mock.text("ok"), Mock.text("ok")] })))
  )
})

describe("tool definitions in requests", () => {
  it.effect("a provider that edits its request's tools in place does not change later requests", () =>
    Effect.gen(function* () {
      const seen: Array<ReadonlyArray<Record<string, unknown>>> = []
      const provider = Provider.make({
        name: "editing",
        model: "m",
        chat: () =>
          Effect.succeed(
            new NormalizedResponse.NormalizedResponse({
              content: [Message.text("ok")],
              stopReason: "end_turn",
              usage: Usage.empty
            })
          ),
        formatCacheControl: (request) => {
          const tools = request.tools as unknown as Array<Record<string, unknown>>
          seen.push(tools.map((tool) => ({ ...tool })))
          // in place, as a careless provider might: mark the last tool, then drop the first
          tools[tools.length - 1]!.cache_control = { type: "ephemeral" }
          tools.shift()
          return request
        }
      })
      const agent = yield* Agent.make().pipe(Effect.provideService(Provider.Provider, provider))
      yield* agent.run("first")
      yield* agent.run("second")
      const session = yield* agent.session()
      yield* session.ask("third")
      assert.strictEqual(seen.length, 3)
      for (const tools of seen) {
        assert.deepStrictEqual(tools, seen[0], "every request starts from the agent's own definitions")
        for (const tool of tools) assert.notProperty(tool, "cache_control")
      }
    })
  )
})

describe("tool input is JSON, decoded as JSON", () => {
  it.effect('a number field takes JSON numbers only: "2", "NaN" and "Infinity" are refused, naming the field', () =>
    Effect.gen(function* () {
      for (const values of [[1, "2"], ["NaN"], [1, "Infinity"]]) {
        const content = yield* failingCall("mean", { values })
        assert.include(content, "Expected number")
        assert.include(content, `["values"][${values.length - 1}]`)
        assert.notInclude(content, '"-Infinity"', "the message does not offer the string forms")
      }
    })
  )

  it.effect("a property the schema does not declare is refused, by name", () =>
    Effect.gen(function* () {
      const content = yield* failingCall("mean", { values: [1, 2], weights: [1, 1] })
      assert.include(content, '["weights"]')
      assert.include(content, "excess property")
    })
  )

  it("the JSON Schema advertises plain numbers and no extra properties, except where a record allows them", () => {
    const tool = Tool.make("stats", {
      description: "Stats.",
      parameters: Schema.Struct({
        values: Schema.Array(Schema.Number),
        weights: Schema.optional(Schema.Record(Schema.String, Schema.Number)),
        nested: Schema.optional(Schema.Struct({ limit: Schema.Int }))
      }),
      handler: () => 1
    })
    const schema = tool.inputSchema as {
      readonly additionalProperties: unknown
      readonly properties: Record<string, Record<string, unknown>>
    }
    assert.strictEqual(schema.additionalProperties, false)
    assert.deepStrictEqual(schema.properties.values!.items, { type: "number" })
    const weights = schema.properties.weights!.anyOf as ReadonlyArray<Record<string, unknown>>
    assert.deepStrictEqual(weights[0], { type: "object", additionalProperties: { type: "number" } })
    const nested = schema.properties.nested!.anyOf as ReadonlyArray<Record<string, unknown>>
    assert.strictEqual(nested[0]!.additionalProperties, false)
  })

  it.effect("a record parameter still takes any keys, and finite numbers decode as before", () =>
    Effect.gen(function* () {
      const weighted = Tool.make("weighted", {
        description: "Weighted sum.",
        parameters: Schema.Struct({ weights: Schema.Record(Schema.String, Schema.Number) }),
        handler: ({ weights }) => Object.values(weights).reduce((a, b) => a + b, 0)
      })
      const agent = yield* Agent.make({ tools: [weighted], builtinTools: false })
      const { events } = yield* runEvents(agent.runStream("go"))
      const [result] = toolResultEvents(events)
      assert.deepStrictEqual(
        { content: result!.content, is_error: result!.is_error },
        { content: "3.5", is_error: false }
      )
    }).pipe(
      Effect.provide(Mock.layer({ turns: [Mock.toolCall("weighted", { weights: { a: 1, b: 2.5 } }), Mock.text("ok")] }))
    )
  )
})

describe("invalid tool options", () => {
  const make = (timeout: unknown) =>
    Tool.make("slow", {
      description: "Slow.",
      parameters: Schema.Struct({}),
      timeout: timeout as Duration.Input,
      handler: () => "ran"
    })

  it("a timeout that is not a duration does not throw: Tool.validate reports InvalidOptions naming it", () => {
    for (const timeout of ["abc", -5, { hours: "two" }, Number.NaN]) {
      const invalid = Tool.validate(make(timeout))
      assert.strictEqual(invalid?._tag, "InvalidOptions")
      assert.strictEqual(invalid?.option, "slow.timeout")
    }
    assert.isUndefined(Tool.validate([make("5 seconds"), mean]))
  })

  it.effect("Agent.make with such a tool fails with InvalidOptions naming it, before any ask", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Agent.make({ tools: [make("abc")], builtinTools: false }))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(error, InvalidOptions)
      assert.strictEqual((error as InvalidOptions).option, "slow.timeout")
      const recorder = yield* Mock.Recorder
      assert.strictEqual((yield* recorder.requests).length, 0)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("slow"), Mock.text("ok")] })))
  )

  it.effect("a call of such a tool (made outside Agent.make's check) answers with the invalid option", () =>
    Effect.gen(function* () {
      const slow = make("abc")
      const store = yield* Data.makeStore
      const outcome = yield* slow.call(
        {},
        { toolUseId: "t1", data: store, reveal: () => Effect.void, setAnswer: () => Effect.void }
      )
      assert.isTrue(outcome.isError)
      assert.include(outcome.content, 'slow.timeout is not a duration ("abc")')
    })
  )
})
