/**
 * Per-call parameters on the wire: a session ask's model parameters, its system addition and the
 * agent's defaults reach the request body the real providers send (`Anthropic.layer` and
 * `OpenAI.layer`, their SDKs over real sockets) to local servers that record every body. A value
 * the provider refuses is an `InvalidOptions` before any request, and the session is unchanged.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, HarnessError, type Message, Tool } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as OpenAI from "../../src/provider/openai/OpenAI.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import * as Faults from "../utils/faults.js"
import * as OpenAIServer from "../utils/openaiServer.js"

const lookup = Tool.make("lookup", {
  description: "Looks a word up.",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => Effect.succeed(`${q}: found`)
})

const SYSTEM = "You are a data analyst."

const anthropicAgent = (server: AnthropicServer.AnthropicServer, options: Agent.Options<never> = {}) =>
  Agent.make({ system: SYSTEM, builtinTools: false, tools: [lookup], retry: false, ...options }).pipe(
    Effect.provide(Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }))
  )

const openaiAgent = (server: OpenAIServer.OpenAIServer, options: Agent.Options<never> = {}) =>
  Agent.make({ system: SYSTEM, builtinTools: false, tools: [lookup], retry: false, ...options }).pipe(
    Effect.provide(OpenAI.layer({ model: "gpt-test", preset: "openai", apiKey: "sk-test", baseURL: server.url }))
  )

describe("per-call parameters reach the Anthropic request body", () => {
  it.live("every parameter of a session ask, and a forced tool choice that holds only until a tool was called", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.toolUseSse("toolu_1", "lookup", { q: "x" }) }, { sse: Faults.textSse(["done"]) })
      const agent = yield* anthropicAgent(server)
      const session = yield* agent.session()
      const text = yield* session.ask("Look x up.", {
        model: "claude-other",
        maxTokens: 2000,
        temperature: 0.3,
        topP: 0.9,
        topK: 40,
        stopSequences: ["END"],
        toolChoice: { type: "tool", name: "lookup", disableParallelToolUse: true },
        metadata: { userId: "user-42" }
      })
      assert.strictEqual(text, "done")
      const [first, second] = server.requests.map((request) => request.body)
      for (const body of [first, second]) {
        assert.strictEqual(body.model, "claude-other")
        assert.strictEqual(body.max_tokens, 2000)
        assert.strictEqual(body.temperature, 0.3)
        assert.strictEqual(body.top_p, 0.9)
        assert.strictEqual(body.top_k, 40)
        assert.deepStrictEqual(body.stop_sequences, ["END"])
        assert.deepStrictEqual(body.metadata, { user_id: "user-42" })
      }
      assert.deepStrictEqual(first.tool_choice, { type: "tool", name: "lookup", disable_parallel_tool_use: true })
      // after the forced call the model chooses freely, or the run could never end
      assert.deepStrictEqual(second.tool_choice, { type: "auto", disable_parallel_tool_use: true })
    })
  )

  it.live("thinking as a budget and as adaptive", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["a"]) }, { sse: Faults.textSse(["b"]) })
      const agent = yield* anthropicAgent(server)
      const session = yield* agent.session()
      yield* session.ask("one", { maxTokens: 4000, thinking: { budgetTokens: 1024 } })
      yield* session.ask("two", { thinking: { type: "adaptive" }, toolChoice: "none" })
      assert.deepStrictEqual(server.requests[0]!.body.thinking, { type: "enabled", budget_tokens: 1024 })
      assert.deepStrictEqual(server.requests[1]!.body.thinking, { type: "adaptive" })
      assert.deepStrictEqual(server.requests[1]!.body.tool_choice, { type: "none" })
    })
  )

  it.live("the agent's parameters are defaults that an ask overrides one by one", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["a"]) }, { sse: Faults.textSse(["b"]) })
      const agent = yield* anthropicAgent(server, { model: "claude-agent", temperature: 0.5, maxTokens: 1500 })
      yield* agent.run("one")
      yield* agent.run("two", { temperature: 0.1 })
      const [one, two] = server.requests.map((request) => request.body)
      assert.deepStrictEqual([one.model, one.temperature, one.max_tokens], ["claude-agent", 0.5, 1500])
      assert.deepStrictEqual([two.model, two.temperature, two.max_tokens], ["claude-agent", 0.1, 1500])
    })
  )

  it.live("a system addition is a second block; the agent's system block keeps its bytes", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["a"]) }, { sse: Faults.textSse(["b"]) }, { sse: Faults.textSse(["c"]) })
      const agent = yield* anthropicAgent(server)
      const session = yield* agent.session()
      yield* session.ask("one")
      yield* session.ask("two", { system: "Answer in French." })
      yield* session.ask("three")
      const [one, two, three] = server.requests.map((request) => request.body)
      assert.strictEqual(one.system.length, 1)
      assert.strictEqual(JSON.stringify(two.system[0]), JSON.stringify(one.system[0]))
      assert.deepStrictEqual(one.system[0], { type: "text", text: SYSTEM, cache_control: { type: "ephemeral" } })
      assert.deepStrictEqual(two.system[1], {
        type: "text",
        text: "Answer in French.",
        cache_control: { type: "ephemeral" }
      })
      // for this ask only
      assert.deepStrictEqual(three.system, one.system)
      assert.notInclude(JSON.stringify(three.messages), "French")
    })
  )

  it.live("a value the API refuses is InvalidOptions before any request; the session is unchanged", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["a"]) }, { sse: Faults.textSse(["b"]) })
      const agent = yield* anthropicAgent(server)
      const session = yield* agent.session()
      yield* session.ask("one")
      const before = yield* session.history
      const usage = yield* session.usage
      // within the range every provider shares (0..2), beyond Anthropic's (0..1)
      for (const options of [
        { temperature: 1.5 },
        { thinking: { budgetTokens: 100 } },
        { stopSequences: [" "] },
        { thinking: { budgetTokens: 2048 }, toolChoice: "any" as const }
      ]) {
        const error = yield* Effect.flip(session.ask("two", options))
        assert.instanceOf(error, HarnessError.InvalidOptions, JSON.stringify(options))
      }
      assert.strictEqual(server.requests.length, 1)
      assert.deepStrictEqual(yield* session.history, before)
      assert.deepStrictEqual(yield* session.usage, usage)
      assert.strictEqual(yield* session.ask("two"), "b")
      assert.deepStrictEqual(
        server.requests[1]!.body.messages.map((m: Message.Message) => m.role),
        ["user", "assistant", "user"]
      )
    })
  )
})

describe("per-call parameters reach the OpenAI request body", () => {
  it.live("every parameter of a session ask, under the names Chat Completions takes", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      server.enqueue(
        {
          sse: OpenAIServer.sse(OpenAIServer.toolCallChunks([{ id: "call_1", name: "lookup", pieces: ['{"q":"x"}'] }]))
        },
        { sse: OpenAIServer.sse(OpenAIServer.textChunks(["done"])) }
      )
      const agent = yield* openaiAgent(server)
      const session = yield* agent.session()
      const text = yield* session.ask("Look x up.", {
        model: "gpt-other",
        maxTokens: 2000,
        temperature: 1.5,
        topP: 0.9,
        stopSequences: ["END"],
        thinking: { budgetTokens: 20_000 },
        toolChoice: { type: "tool", name: "lookup", disableParallelToolUse: true },
        metadata: { userId: "user-42" },
        system: "Answer in French."
      })
      assert.strictEqual(text, "done")
      const [first, second] = server.requests.map((request) => request.body)
      for (const body of [first, second]) {
        assert.strictEqual(body.model, "gpt-other")
        assert.strictEqual(body.max_completion_tokens, 2000)
        assert.strictEqual(body.temperature, 1.5)
        assert.strictEqual(body.top_p, 0.9)
        assert.deepStrictEqual(body.stop, ["END"])
        assert.strictEqual(body.reasoning_effort, "high")
        assert.strictEqual(body.user, "user-42")
        assert.strictEqual(body.parallel_tool_calls, false)
        assert.deepStrictEqual(body.messages[0], { role: "system", content: `${SYSTEM}\n\nAnswer in French.` })
      }
      assert.deepStrictEqual(first.tool_choice, { type: "function", function: { name: "lookup" } })
      assert.strictEqual(second.tool_choice, "auto")
    })
  )

  it.live("topK, which OpenAI does not take, is InvalidOptions before any request; the session is unchanged", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make()
      server.enqueue({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["ok"])) })
      const agent = yield* openaiAgent(server)
      const session = yield* agent.session()
      const error = yield* Effect.flip(session.ask("one", { topK: 5 }))
      assert.instanceOf(error, HarnessError.InvalidOptions)
      assert.strictEqual((error as HarnessError.InvalidOptions).option, "topK")
      assert.strictEqual(server.requests.length, 0)
      assert.deepStrictEqual(yield* session.history, [])
      assert.strictEqual(yield* session.ask("one"), "ok")
    })
  )
})
