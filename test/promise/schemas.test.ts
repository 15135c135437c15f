/**
 * The Promise API's schemas from TypeScript: tools with an Effect Schema and with a Zod schema
 * side by side (their JSON Schemas derived, their inputs checked, the handlers typed), typed
 * answers (`result.value` typed by the schema), and `await using` releasing the agent.
 */
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { z } from "zod"
import { createAgent, mock, type Result, tool } from "../../src/promise/index.js"

describe("Promise API schemas (TypeScript)", () => {
  it("tools with an Effect Schema and a Zod schema side by side", async () => {
    const calls: Array<string> = []
    const mean = tool({
      name: "mean",
      description: "Arithmetic mean.",
      parameters: Schema.Struct({ values: Schema.Array(Schema.Number) }),
      handler: async ({ values }) => {
        calls.push("mean")
        return values.reduce((a, b) => a + b, 0) / values.length
      }
    })
    const scale = tool({
      name: "scale",
      description: "Multiplies a number.",
      parameters: z.object({ value: z.number(), by: z.number().default(2) }),
      handler: async ({ value, by }) => {
        calls.push("scale")
        return value * by
      }
    })
    // Effect's derivation: numbers are JSON numbers, no extra properties
    expect(mean.inputSchema).toMatchObject({
      type: "object",
      properties: { values: { type: "array", items: { type: "number" } } },
      additionalProperties: false
    })
    expect(scale.inputSchema).toMatchObject({ type: "object", properties: { value: { type: "number" } } })
    await using agent = createAgent({
      builtinTools: false,
      tools: [mean, scale],
      provider: mock({
        turns: [
          {
            toolCalls: [
              { name: "mean", input: { values: [1, 2, 3] } },
              { name: "scale", input: { value: 4 } },
              { name: "mean", input: { values: ["NaN"] } }
            ]
          },
          ({ lastToolResults }) => ({ text: lastToolResults.map((r) => String(r.content)).join(" | ") })
        ]
      })
    })
    const [m, s, bad] = (await agent.run("Go.")).split(" | ")
    expect(m).toBe("2")
    expect(s).toBe("8")
    expect(bad).toContain('Invalid input for tool "mean"')
    expect(calls).toEqual(["mean", "scale"])
  })

  it("a typed answer: the agent's schema types result.value, an ask's schema types that ask", async () => {
    await using agent = createAgent({
      answer: Schema.Struct({ total: Schema.Number }),
      provider: mock({
        turns: [
          { toolCalls: [{ name: "answer", input: { total: 3 } }] },
          { text: "3." },
          { toolCalls: [{ name: "answer", input: { names: ["a", "b"] } }] },
          { text: "a, b." }
        ]
      })
    })
    const session = await agent.session()
    const result = await session.askResult("Total?")
    const total: number | undefined = result.value?.total
    expect(total).toBe(3)
    const names: Result<{ names: Array<string> }> = await session.askResult("Names?", {
      answer: z.object({ names: z.array(z.string()) })
    })
    expect(names.value?.names).toEqual(["a", "b"])
  })

  it("a tool's handler gets a signal that a timeout aborts", async () => {
    let aborted = false
    const wait = tool({
      name: "wait",
      description: "Waits.",
      parameters: z.object({}),
      timeout: 50,
      handler: (_input, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true
            resolve("stopped")
          })
        })
    })
    await using agent = createAgent({
      builtinTools: false,
      tools: [wait],
      provider: mock({
        turns: [
          { toolCalls: [{ name: "wait" }] },
          ({ lastToolResults }) => ({ text: String(lastToolResults[0]?.content) })
        ]
      })
    })
    expect(await agent.run("Wait.")).toContain("timed out")
    expect(aborted).toBe(true)
  })
})
