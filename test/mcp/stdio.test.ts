import { spawn } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { Effect } from "effect"

const textOf = (result: unknown): string =>
  ((result as { content: unknown }).content as Array<{ type: string; text?: string }>)
    .map((block) => block.text ?? "")
    .join("")

/** A script as a subprocess speaking MCP on its stdio, closed with the scope. */
const connectStdio = (script = "scratchpad/mcp.ts") =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const client = new Client({ name: "sdk-test", version: "1.0.0" })
      const stderr: Array<string> = []
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ["--import", "tsx", script],
        stderr: "pipe"
      })
      transport.stderr?.on("data", (chunk) => stderr.push(String(chunk)))
      await client.connect(transport)
      return { client, stderr }
    }),
    ({ client }) => Effect.promise(() => client.close())
  )

describe("Mcp.layerStdio with the official SDK client", () => {
  it.live("lists the tools, runs sql over the handle the script put, and returns errors as tool errors", () =>
    Effect.gen(function* () {
      const { client, stderr } = yield* connectStdio()
      assert.include(client.getInstructions() ?? "", "sales")
      const { tools } = yield* Effect.promise(() => client.listTools())
      assert.deepStrictEqual(
        tools.map((tool) => tool.name),
        ["list_variables", "sql", "javascript", "chart"]
      )
      assert.deepStrictEqual(tools.find((tool) => tool.name === "sql")!.inputSchema.required, ["query"])

      const byRegion = yield* Effect.promise(() =>
        client.callTool({
          name: "sql",
          arguments: { query: "SELECT region, sum(units) AS units FROM sales GROUP BY ALL ORDER BY region" }
        })
      )
      assert.isFalse(byRegion.isError)
      const { columns, rows } = JSON.parse(textOf(byRegion))
      assert.deepStrictEqual(columns, ["region", "units"])
      assert.deepStrictEqual(
        rows.map((row: Array<unknown>) => row[0]),
        ["East", "North", "South", "West"]
      )

      const failed = yield* Effect.promise(() =>
        client.callTool({ name: "javascript", arguments: { code: "throw new Error('boom')" } })
      )
      assert.isTrue(failed.isError)
      assert.include(textOf(failed), "boom")
      const bad = yield* Effect.promise(() => client.callTool({ name: "sql", arguments: { sql: "SELECT 1" } }))
      assert.isTrue(bad.isError)
      assert.include(textOf(bad), 'Invalid input for tool "sql"')
      // the server wrote nothing besides protocol messages: no warnings, no logs
      assert.deepStrictEqual(stderr, [])
    }).pipe(Effect.scoped)
  )
})

describe("Mcp.layerStdio logging", () => {
  it.live("a tool's logs go to stderr and leave the protocol on stdout intact", () =>
    Effect.gen(function* () {
      const { client, stderr } = yield* connectStdio("test/mcp/loggingStdioServer.ts")
      const result = yield* Effect.promise(() => client.callTool({ name: "shout", arguments: { text: "hi" } }))
      assert.isFalse(result.isError)
      assert.strictEqual(textOf(result), "HI")
      assert.include(stderr.join(""), "shouting hi")
    }).pipe(Effect.scoped)
  )
})

describe("older MCP clients over stdio", () => {
  const initialize = (protocolVersion: string) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion, capabilities: {}, clientInfo: { name: "old", version: "1" } }
    })

  it.live("are served 2024-11-05 over stdio", () =>
    Effect.gen(function* () {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(process.execPath, ["--import", "tsx", "scratchpad/mcp.ts"], { stdio: "pipe" })),
        (child) =>
          Effect.callback<void>((resume) => {
            if (child.exitCode !== null) return resume(Effect.void)
            child.once("exit", () => resume(Effect.void))
            child.stdin.end()
          })
      )
      const firstLine = Effect.callback<string>((resume) => {
        let buffer = ""
        child.stdout.on("data", (chunk) => {
          buffer += String(chunk)
          const end = buffer.indexOf("\n")
          if (end !== -1) resume(Effect.succeed(buffer.slice(0, end)))
        })
      })
      child.stdin.write(`${initialize("2024-11-05")}\n`)
      const reply = JSON.parse(yield* firstLine)
      assert.strictEqual(reply.result.protocolVersion, "2024-11-05")
      assert.strictEqual(reply.result.serverInfo.name, "data-harness")
    }).pipe(Effect.scoped)
  )
})
