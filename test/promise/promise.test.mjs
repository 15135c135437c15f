/**
 * The Promise API as plain JavaScript uses it: no Effect import, Promises and `for await`. Runs
 * agents with the scripted model and with the real Anthropic provider (its SDK over real sockets)
 * against a local server; a `break` out of `for await` and an `AbortSignal` interrupt a run as a
 * fiber interruption does (the server sees the socket closed, the history is repaired, the next
 * ask works); tools with Zod and Valibot schemas side by side; errors are `Error`s with `_tag`.
 */
import { toStandardJsonSchema } from "@valibot/to-json-schema"
import * as v from "valibot"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import {
  ApprovalNotPending,
  anthropic,
  createAgent,
  InvalidAnswer,
  InvalidOptions,
  image,
  mock,
  ProviderError,
  text,
  textDelta,
  tool
} from "../../src/promise/index.ts"
import * as AnthropicServer from "../utils/anthropicServer.ts"
import * as Faults from "../utils/faults.ts"

const PIECES = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"]
/** A text turn written slowly: 32 bytes every 15 ms. */
const slow = () => ({ sse: Faults.textSse(PIECES), chunkSize: 32, delayMs: 15 })

const servers = []
const startServer = async (...replies) => {
  const server = await AnthropicServer.start({ replies })
  servers.push(server)
  return server
}
/** Agents disposed after each test, as `await using` would (`Symbol.asyncDispose`). */
const agents = []
const disposed = (agent) => {
  agents.push(agent)
  return agent
}
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent[Symbol.asyncDispose]()))
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const claude = (server) => anthropic({ model: "claude-test", apiKey: "sk-test", baseURL: server.url })

const roles = (messages) => messages.map((message) => message.role)

describe("the Promise API with the scripted model", () => {
  it("runs a tool with a Zod schema and one with a Valibot schema side by side", async () => {
    const add = tool({
      name: "add",
      description: "Adds two numbers.",
      parameters: z.object({ a: z.number(), b: z.number() }),
      handler: async ({ a, b }) => a + b
    })
    const shout = tool({
      name: "shout",
      description: "Upper-cases a word.",
      parameters: toStandardJsonSchema(v.object({ word: v.string() })),
      handler: async ({ word }) => word.toUpperCase()
    })
    const agent = disposed(
      createAgent({
        builtinTools: false,
        tools: [add, shout],
        provider: mock({
          turns: [
            {
              toolCalls: [
                { name: "add", input: { a: 2, b: 3 } },
                { name: "shout", input: { word: "hi" } },
                { name: "add", input: { a: "two" } }
              ]
            },
            ({ lastToolResults }) => ({ text: lastToolResults.map((result) => result.content).join(" | ") })
          ]
        })
      })
    )
    const reply = await agent.run("Go.")
    const [sum, loud, invalid] = reply.split(" | ")
    expect(sum).toBe("5")
    expect(loud).toBe("HI")
    expect(invalid).toContain('Invalid input for tool "add"')
    expect(add.inputSchema).toMatchObject({ type: "object", required: ["a", "b"] })
    expect(shout.inputSchema).toMatchObject({ type: "object", required: ["word"] })
  })

  it("a session keeps data and history; streams events; closes", async () => {
    const agent = createAgent({
      provider: mock({
        turns: [
          { toolCalls: [{ name: "sql", input: { query: "SELECT sum(revenue) AS total FROM sales" } }] },
          ({ lastToolResults }) => ({ text: `Result: ${lastToolResults[0].content}` })
        ]
      })
    })
    const session = await agent.session()
    expect(await session.put("sales", [{ revenue: 120 }, { revenue: 80 }])).toBe("sales")
    const texts = []
    for await (const event of session.stream("What is the total?")) {
      const delta = textDelta(event)
      if (delta !== undefined) texts.push(delta)
    }
    expect(texts.join("")).toContain("200")
    expect(roles(await session.history())).toEqual(["user", "assistant", "user", "assistant"])
    expect((await session.usage()).inputTokens).toBeGreaterThan(0)
    await session.close()
    await expect(session.ask("again")).rejects.toBeInstanceOf(InvalidOptions)
    await agent.close()
  })

  it("a needsApproval tool pauses the stream at approval_request; approve runs it, deny is what the model reads", async () => {
    const sent = []
    const email = tool({
      name: "send_email",
      description: "Sends an email.",
      parameters: z.object({ to: z.string() }),
      handler: async ({ to }) => {
        sent.push(to)
        return `sent to ${to}`
      },
      needsApproval: { reason: "emails leave the company", when: ({ to }) => !to.endsWith("@us.example") }
    })
    const agent = disposed(
      createAgent({
        tools: [email],
        provider: mock({
          turns: [
            { toolCalls: [{ name: "send_email", input: { to: "ana@example.com" }, id: "toolu_1" }] },
            ({ lastToolResults }) => ({ text: `Result: ${lastToolResults[0].content}` }),
            { toolCalls: [{ name: "send_email", input: { to: "bo@example.com" }, id: "toolu_2" }] },
            ({ lastToolResults }) => ({ text: `Result: ${lastToolResults[0].content}` }),
            { toolCalls: [{ name: "send_email", input: { to: "cy@us.example" }, id: "toolu_3" }] },
            ({ lastToolResults }) => ({ text: `Result: ${lastToolResults[0].content}` })
          ]
        })
      })
    )
    const session = await agent.session()
    const requests = []
    const run = async (prompt, decide) => {
      const texts = []
      for await (const event of session.stream(prompt)) {
        if (event.type === "approval_request") {
          requests.push(event)
          expect((await session.approvals()).map((p) => [p.toolUseId, p.tool, p.reason])).toEqual([
            [event.tool_use_id, "send_email", "emails leave the company"]
          ])
          expect(sent).toEqual(sent.filter((to) => to !== event.input.to))
          await decide(event.tool_use_id)
        }
        const delta = textDelta(event)
        if (delta !== undefined) texts.push(delta)
      }
      return texts.join("")
    }
    expect(await run("Email Ana.", (id) => session.approve(id))).toBe("Result: sent to ana@example.com")
    expect(await run("Email Bo.", (id) => session.deny(id, "Not Bo."))).toBe(
      "Result: This tool call was denied: Not Bo."
    )
    // `when` lets this one through without asking
    expect(await run("Email Cy.", () => Promise.reject(new Error("not asked")))).toBe("Result: sent to cy@us.example")
    expect(requests.map((r) => r.tool_use_id)).toEqual(["toolu_1", "toolu_2"])
    expect(sent).toEqual(["ana@example.com", "cy@us.example"])
    expect(await session.approvals()).toEqual([])
    const late = await session.approve("toolu_1").catch((error) => error)
    expect(late).toBeInstanceOf(ApprovalNotPending)
    expect(late._tag).toBe("ApprovalNotPending")
  })

  it("errors are Error subclasses with _tag, message and isRetryable", async () => {
    const agent = disposed(
      createAgent({
        provider: mock({ turns: [{ fail: { reason: "Overloaded", message: "busy" } }] }),
        retry: false
      })
    )
    const error = await agent.run("hi").catch((e) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(ProviderError)
    expect(error._tag).toBe("ProviderError")
    expect(error.isRetryable).toBe(true)
    expect(error.message).toBe("busy")

    const invalid = await agent.run("hi", { temperature: 9 }).catch((e) => e)
    expect(invalid).toBeInstanceOf(Error)
    expect(invalid._tag).toBe("InvalidOptions")
    expect(invalid.option).toBe("temperature")
    expect(invalid.isRetryable).toBe(false)

    const badPrompt = await agent.run([text("see"), image({ url: "ftp://x/y.png" })]).catch((e) => e)
    expect(badPrompt._tag).toBe("InvalidOptions")
    expect(badPrompt.option).toBe("prompt[1]")

    const noProvider = createAgent({})
    const missing = await noProvider.run("hi").catch((e) => e)
    expect(missing._tag).toBe("InvalidOptions")
    expect(missing.option).toBe("provider")
    await noProvider.close()
  })

  it("a typed answer with a Zod schema: a refused answer goes back, the valid one is the value", async () => {
    const agent = disposed(
      createAgent({
        answer: z.object({ total: z.number() }),
        provider: mock({
          turns: [
            { toolCalls: [{ name: "answer", input: { total: "200" } }] },
            { toolCalls: [{ name: "answer", input: { total: 200 } }] },
            { text: "The total is 200." }
          ]
        })
      })
    )
    const result = await agent.runResult("Total?")
    expect(result.value).toEqual({ total: 200 })
    expect(result.text).toBe("The total is 200.")

    const strict = disposed(
      createAgent({
        answer: z.object({ total: z.number() }),
        answerRetries: 0,
        provider: mock({ turns: [{ toolCalls: [{ name: "answer", input: { total: "x" } }] }] })
      })
    )
    const error = await strict.runResult("Total?").catch((e) => e)
    expect(error).toBeInstanceOf(InvalidAnswer)
    expect(error._tag).toBe("InvalidAnswer")
  })
})

describe("the Promise API with the real Anthropic provider", () => {
  it("a break out of for await closes the socket; the history is repaired and the next ask works", async () => {
    const server = await startServer(slow(), { sse: Faults.textSse(["Done."]) })
    const agent = disposed(createAgent({ provider: claude(server), builtinTools: false, retry: false }))
    const session = await agent.session()
    let deltas = 0
    for await (const event of session.stream("Count slowly.")) {
      if (textDelta(event) !== undefined && ++deltas === 1) break
    }
    expect(await server.outcome(0)).toBe("clientClosed")
    expect(await session.ask("next")).toBe("Done.")
    const sent = server.requests[1].body.messages
    expect(roles(sent)).toEqual(["user", "assistant", "user"])
    expect(PIECES.join("").startsWith(sent[1].content.map((block) => block.text).join(""))).toBe(true)
    expect(sent[2].content[0].text).toBe("next")
  })

  it("an AbortSignal interrupts an ask (a promise) and a stream; each rejects with the signal's reason", async () => {
    const server = await startServer(slow(), slow(), { sse: Faults.textSse(["Done."]) })
    const agent = disposed(createAgent({ provider: claude(server), builtinTools: false, retry: false }))
    const session = await agent.session()

    const controller = new AbortController()
    const asked = session.ask("Count slowly.", { signal: controller.signal })
    await server.request(0)
    controller.abort()
    const error = await asked.catch((e) => e)
    expect(error.name).toBe("AbortError")
    expect(await server.outcome(0)).toBe("clientClosed")

    const streaming = new AbortController()
    const seen = []
    const reading = (async () => {
      for await (const event of session.stream("Count again.", { signal: streaming.signal })) {
        seen.push(event.type)
        if (textDelta(event) !== undefined) streaming.abort()
      }
    })()
    const streamError = await reading.catch((e) => e)
    expect(streamError.name).toBe("AbortError")
    expect(seen).toContain("content_block_delta")
    expect(await server.outcome(1)).toBe("clientClosed")

    // an already aborted signal: nothing is sent
    await expect(session.ask("never", { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" })
    expect(await session.ask("next")).toBe("Done.")
    expect(server.requests.length).toBe(3)
    const last = server.requests[2].body.messages
    expect(last.at(-1).content.at(-1).text).toBe("next")
    expect(roles(last).every((role, i) => role === (i % 2 === 0 ? "user" : "assistant"))).toBe(true)
  })

  it("agent.stream runs in a fresh session; closing the agent ends a stream in progress", async () => {
    const server = await startServer(slow())
    const agent = createAgent({ provider: claude(server), builtinTools: false, retry: false })
    const iterator = agent.stream("Count slowly.")[Symbol.asyncIterator]()
    const first = await iterator.next()
    expect(first.value.type).toBe("message_start")
    await agent.close()
    expect(await server.outcome(0)).toBe("clientClosed")
    expect((await iterator.next()).done).toBe(true)
    await expect(agent.run("again")).rejects.toMatchObject({ _tag: "InvalidOptions" })
  })
})
