/**
 * Each hook kind through the public API, on the scripted model, with real tools (DuckDB for the
 * SQL guard): what the model sees (the recorder's requests), what the history keeps, how a stop or
 * a failing hook ends the run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { Agent, Guardrails, Hooks, type Message, Mock, Tool } from "../../src/index.js"
import { assertValidHistory, lastUserMessage, runEvents, toolResultBlocks, toolResultEvents } from "../utils/events.js"

const echo = Tool.make("echo", {
  description: "Echoes its text.",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(`echo: ${text}`)
})

/** The model calls echo once, then repeats what the tool said. */
const echoOnce = Mock.layer({
  turns: [
    Mock.toolCall("echo", { text: "hello" }),
    Mock.reply(({ lastToolResults }) => ({ text: `Tool said: ${String(lastToolResults[0]?.content)}` }))
  ]
})

const resultsSeen = (requests: ReadonlyArray<{ readonly messages: ReadonlyArray<Message.Message> }>, i: number) =>
  toolResultBlocks(lastUserMessage(requests[i] as never))

describe("hooks around model calls", () => {
  it.effect("beforeModel sees each request and may replace it", () =>
    Effect.gen(function* () {
      const seen: Array<number> = []
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: [
          {
            beforeModel: ({ request, turn }) =>
              Effect.sync(() => {
                seen.push(turn)
                return Hooks.replaceRequest({ ...request, maxTokens: 123, stopSequences: ["STOP"] })
              })
          }
        ]
      })
      assert.strictEqual(yield* agent.run("go"), "Tool said: echo: hello")
      assert.deepStrictEqual(seen, [1, 2])
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(
        requests.map((r) => [r.maxTokens, r.stopSequences]),
        [
          [123, ["STOP"]],
          [123, ["STOP"]]
        ]
      )
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect("beforeModel stops the run before any call: RunStopped, nothing sent, history valid", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: { beforeModel: () => Effect.succeed(Hooks.stop("maintenance window")) }
      })
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.ask("go"))
      assert.strictEqual(error._tag, "RunStopped")
      if (error._tag === "RunStopped") {
        assert.strictEqual(error.reason, "maintenance window")
        assert.strictEqual(error.hook, "beforeModel")
      }
      assert.strictEqual((yield* (yield* Mock.Recorder).requests).length, 0)
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect(
    "afterModel sees the response and its cost; a stop after a tool-calling turn leaves every tool_use answered",
    () =>
      Effect.gen(function* () {
        const stopReasons: Array<string> = []
        const agent = yield* Agent.make({
          tools: [echo],
          hooks: {
            afterModel: ({ response }) =>
              Effect.sync(() => {
                stopReasons.push(response.stopReason)
                return response.stopReason === "tool_use" ? Hooks.stop("no tools today") : undefined
              })
          }
        })
        const session = yield* agent.session()
        const error = yield* Effect.flip(session.ask("go"))
        assert.strictEqual(error._tag, "RunStopped")
        assert.deepStrictEqual(stopReasons, ["tool_use"])
        const history = yield* session.history
        assertValidHistory(history)
        const results = toolResultBlocks(history[history.length - 1]!)
        assert.strictEqual(results.length, 1)
        assert.isTrue(results[0]!.is_error)
        // the next ask works (the model answers without tools this time)
        assert.include(yield* session.ask("again"), "Tool said:")
      }).pipe(Effect.provide(echoOnce))
  )
})

describe("hooks around tool calls", () => {
  it.effect("beforeTool denies a call: the model reads the message as an error result and the run goes on", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: {
          beforeTool: (call) =>
            Effect.succeed(call.name === "echo" ? Hooks.deny("echo is switched off; answer without it.") : undefined)
        }
      })
      const { events, exit } = yield* runEvents(agent.runStream("go"))
      assert.isTrue(exit._tag === "Success")
      assert.deepStrictEqual(
        toolResultEvents(events).map((e) => [e.content, e.is_error]),
        [["echo is switched off; answer without it.", true]]
      )
      const requests = yield* (yield* Mock.Recorder).requests
      assert.deepStrictEqual(
        resultsSeen(requests, 1).map((r) => [r.tool_use_id, r.content, r.is_error]),
        [["toolu_mock_0_0", "echo is switched off; answer without it.", true]]
      )
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect("beforeTool replaces the input; afterTool sees the result and replaces it", () =>
    Effect.gen(function* () {
      const after: Array<string> = []
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: [
          { beforeTool: () => Effect.succeed(Hooks.replaceInput({ text: "HELLO" })) },
          {
            afterTool: ({ input, result, durationMs }) =>
              Effect.sync(() => {
                after.push(`${JSON.stringify(input)} -> ${result.content} (${durationMs >= 0})`)
                return Hooks.replaceResult(`${result.content} (checked)`)
              })
          }
        ]
      })
      assert.strictEqual(yield* agent.run("go"), "Tool said: echo: HELLO (checked)")
      assert.deepStrictEqual(after, ['{"text":"HELLO"} -> echo: HELLO (true)'])
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect("afterTurn sees each turn with its tool results, and may stop the run", () =>
    Effect.gen(function* () {
      const turns: Array<string> = []
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: {
          afterTurn: ({ turn, response, results }) =>
            Effect.sync(() => {
              turns.push(`${turn}:${response.stopReason}:${results.map((r) => r.content).join()}`)
              return undefined
            })
        }
      })
      yield* agent.run("go")
      assert.deepStrictEqual(turns, ["1:tool_use:echo: hello", "2:end_turn:"])

      const stopping = yield* Agent.make({
        tools: [echo],
        hooks: { afterTurn: ({ turn }) => Effect.succeed(turn === 1 ? Hooks.stop("one turn is enough") : undefined) }
      })
      const error = yield* Effect.flip(stopping.run("go"))
      assert.strictEqual(error._tag, "RunStopped")
      if (error._tag === "RunStopped") assert.strictEqual(error.hook, "afterTurn")
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect("a failing or dying hook is HookFailed naming the hook and the tool, and the history stays valid", () =>
    Effect.gen(function* () {
      class Audit extends Schema.TaggedError<Audit>()("Audit", { message: Schema.String }) {}
      const failing = yield* Agent.make({
        tools: [echo],
        hooks: { beforeTool: () => Effect.fail(new Audit({ message: "audit log unreachable" })) }
      })
      const session = yield* failing.session()
      const error = yield* Effect.flip(session.ask("go"))
      assert.strictEqual(error._tag, "HookFailed")
      if (error._tag === "HookFailed") {
        assert.strictEqual(error.hook, "beforeTool")
        assert.strictEqual(error.tool, "echo")
        assert.include(error.message, "Audit: audit log unreachable")
      }
      assertValidHistory(yield* session.history)

      const dying = yield* Agent.make({ hooks: { afterTurn: () => Effect.die(new Error("bug in hook")) } })
      const died = yield* Effect.flip(dying.run("go"))
      assert.strictEqual(died._tag, "HookFailed")
      assert.include(died.message, "died: bug in hook")
    }).pipe(Effect.provide(echoOnce))
  )

  it.effect("hooks get the services given at Agent.make, and an ask's hooks run after the agent's", () =>
    Effect.gen(function* () {
      class Log extends Context.Service<Log, { readonly lines: Array<string> }>()("test/Log") {}
      const lines: Array<string> = []
      const agent = yield* Agent.make({
        tools: [echo],
        hooks: {
          beforeTool: (call) =>
            Effect.flatMap(Effect.service(Log), (log) => Effect.sync(() => void log.lines.push(`agent:${call.name}`)))
        }
      }).pipe(Effect.provide(Layer.succeed(Log, { lines })))
      yield* agent.run("go", {
        hooks: { beforeTool: (call) => Effect.sync(() => void lines.push(`ask:${call.name}`)) }
      })
      assert.deepStrictEqual(lines, ["agent:echo", "ask:echo"])
    }).pipe(Effect.provide(echoOnce))
  )
})

describe("guardrails through the agent", () => {
  it.effect("redaction masks emails and keys in what the model, the stream and the history see", () =>
    Effect.gen(function* () {
      const lookup = Tool.make("lookup", {
        description: "Looks a customer up.",
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("Ana Lima <ana@example.com>, token sk-live-abcdefghijklmnopqrst")
      })
      const agent = yield* Agent.make({ tools: [lookup], hooks: [Guardrails.redact()] })
      const session = yield* agent.session()
      const { events } = yield* runEvents(session.askStream("who?"))
      const masked = "Ana Lima <[email]>, token [api key]"
      assert.deepStrictEqual(
        toolResultEvents(events).map((e) => e.content),
        [masked]
      )
      const requests = yield* (yield* Mock.Recorder).requests
      assert.strictEqual(resultsSeen(requests, 1)[0]!.content, masked)
      assert.notInclude(JSON.stringify(yield* session.history), "ana@example.com")
    }).pipe(
      Effect.provide(
        Mock.layer({
          turns: [
            Mock.toolCall("lookup"),
            Mock.reply(({ lastToolResults }) => ({ text: String(lastToolResults[0]?.content) }))
          ]
        })
      )
    )
  )

  it.effect(
    "the SQL cost guard denies a cross join over the limit from DuckDB's plan, and the cheaper query runs",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({ hooks: [Guardrails.sqlCostGuard({ maxRows: 100_000 })] })
        const session = yield* agent.session()
        yield* session.put(
          "orders",
          Array.from({ length: 2_000 }, (_, i) => ({ id: i, region: ["EU", "US", "APAC"][i % 3] }))
        )
        const { events } = yield* runEvents(session.askStream("Pairs of orders?"))
        const results = toolResultEvents(events)
        assert.strictEqual(results.length, 2)
        assert.isTrue(results[0]!.is_error)
        assert.include(String(results[0]!.content), "about 4,000,000 rows")
        assert.isFalse(results[1]!.is_error)
        assert.include(String(results[1]!.content), '"rowCount":3')
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.toolCall("sql", { query: "SELECT * FROM orders a CROSS JOIN orders b" }),
              Mock.toolCall("sql", { query: "SELECT region, count(*) AS n FROM orders GROUP BY ALL" }),
              Mock.text("Three regions.")
            ]
          })
        )
      )
  )
})
