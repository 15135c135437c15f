import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { Tool, Variables } from "../../src/index.js"
import * as Mcp from "../../src/mcp/Mcp.js"
import { salesSession } from "./fixtures.js"

/** Starts `Mcp.layerServer` in the current scope; its URL. */
const serve = <R = never>(options: Mcp.ServerOptions<R>) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Mcp.layerServer(options))
    const server = context.mapUnsafe.get(HttpServer.HttpServer.key) as HttpServer.HttpServer["Service"]
    return `${HttpServer.formatAddress(server.address)}/mcp`
  })

/** An official SDK client connected over streamable HTTP, closed with the scope. */
const connect = (url: string, headers?: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const client = new Client({ name: "sdk-test", version: "1.0.0" })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined)
      )
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )

const textOf = (result: unknown): string =>
  ((result as { content: unknown }).content as Array<{ type: string; text?: string }>)
    .map((block) => block.text ?? "")
    .join("")

describe("Mcp.layerHttp with the official SDK client", () => {
  it.live("lists the data tools with their input schemas", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const client = yield* connect(yield* serve({ session }))
      const { tools } = yield* Effect.promise(() => client.listTools())
      assert.deepStrictEqual(
        tools.map((tool) => tool.name),
        ["list_variables", "sql", "javascript", "chart"]
      )
      const sql = tools.find((tool) => tool.name === "sql")!
      assert.strictEqual(sql.inputSchema.type, "object")
      assert.deepStrictEqual(sql.inputSchema.required, ["query"])
      assert.deepStrictEqual(Object.keys(sql.inputSchema.properties ?? {}), ["query", "save_as"])
      assert.include(sql.description, "read-only SQL")
      assert.deepStrictEqual(client.getServerVersion()?.name, "data-harness")
    }).pipe(Effect.scoped)
  )

  it.live("charts a handle: a short confirmation, and the chart kept as a handle with its data inlined", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const client = yield* connect(yield* serve({ session }))
      const result = yield* Effect.promise(() =>
        client.callTool({
          name: "chart",
          arguments: {
            data: "sales",
            mark: { type: "bar" },
            encoding: {
              x: { field: "region", type: "nominal" },
              y: { field: "revenue", type: "quantitative", aggregate: "sum" }
            }
          }
        })
      )
      assert.isFalse(result.isError, textOf(result))
      const confirmation = JSON.parse(textOf(result)) as { chart: string; rows: number }
      assert.strictEqual(confirmation.rows, 3)
      const kept = (yield* session.handles).find((handle) => handle.name === confirmation.chart)
      assert.isDefined(kept)
      const bad = yield* Effect.promise(() =>
        client.callTool({
          name: "chart",
          arguments: { data: "sales", mark: { type: "bar" }, encoding: { x: { field: "nope", type: "nominal" } } }
        })
      )
      assert.isTrue(bad.isError)
      assert.include(textOf(bad), "nope")
    }).pipe(Effect.scoped)
  )

  it.live("runs sql over a handle put before, and a saved result persists across calls", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const client = yield* connect(yield* serve({ session }))
      const result = yield* Effect.promise(() =>
        client.callTool({
          name: "sql",
          arguments: {
            query: "SELECT region, sum(revenue) AS total FROM sales GROUP BY region ORDER BY region",
            save_as: "totals"
          }
        })
      )
      assert.isFalse(result.isError)
      const inline = JSON.parse(textOf(result).split("\n")[0]!)
      assert.deepStrictEqual(inline.rows, [
        ["EU", 150],
        ["US", 80]
      ])
      // the saved handle is in the session, and the next call sees it
      assert.deepStrictEqual(
        (yield* session.handles).map((handle) => handle.name),
        ["sales", "totals"]
      )
      const next = yield* Effect.promise(() =>
        client.callTool({ name: "javascript", arguments: { code: "totals.map((row) => row.total)" } })
      )
      assert.isFalse(next.isError)
      assert.include(textOf(next), "[150,80]")
      const listed = yield* Effect.promise(() => client.callTool({ name: "list_variables", arguments: {} }))
      assert.include(textOf(listed), '"totals"')
    }).pipe(Effect.scoped)
  )

  it.live("a failing call is a tool error with the tool's message, and the session goes on", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const client = yield* connect(yield* serve({ session }))
      const missing = yield* Effect.promise(() =>
        client.callTool({ name: "sql", arguments: { query: "SELECT * FROM nowhere" } })
      )
      assert.isTrue(missing.isError)
      assert.include(textOf(missing), "nowhere")
      const write = yield* Effect.promise(() =>
        client.callTool({ name: "sql", arguments: { query: "DROP TABLE sales" } })
      )
      assert.isTrue(write.isError)
      assert.include(textOf(write), "read-only")
      const ok = yield* Effect.promise(() =>
        client.callTool({ name: "sql", arguments: { query: "SELECT count(*) AS n FROM sales" } })
      )
      assert.isFalse(ok.isError)
      assert.deepStrictEqual(JSON.parse(textOf(ok)).rows, [[3]])
    }).pipe(Effect.scoped)
  )

  it.live("bad arguments are a tool error that names the problem, not a protocol error", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const client = yield* connect(yield* serve({ session }))
      const missing = yield* Effect.promise(() => client.callTool({ name: "sql", arguments: {} }))
      assert.isTrue(missing.isError)
      assert.include(textOf(missing), 'Invalid input for tool "sql"')
      assert.include(textOf(missing), "query")
      const wrongType = yield* Effect.promise(() => client.callTool({ name: "sql", arguments: { query: 42 } }))
      assert.isTrue(wrongType.isError)
      assert.include(textOf(wrongType), "Expected string")
    }).pipe(Effect.scoped)
  )

  it.live("serves the tools it is given, with their services", () =>
    Effect.gen(function* () {
      class Greeting extends Context.Service<Greeting, { readonly word: string }>()("test/Greeting") {}
      const greet = Tool.make("greet", {
        description: "Greets.",
        parameters: Schema.Struct({ name: Schema.String }),
        handler: ({ name }) => Effect.map(Greeting, ({ word }) => `${word}, ${name}`)
      })
      const session = yield* salesSession
      const client = yield* connect(
        yield* serve({ session, tools: [greet] }).pipe(Effect.provideService(Greeting, { word: "hello" }))
      )
      const { tools } = yield* Effect.promise(() => client.listTools())
      assert.deepStrictEqual(
        tools.map((tool) => tool.name),
        ["greet"]
      )
      const result = yield* Effect.promise(() => client.callTool({ name: "greet", arguments: { name: "Ada" } }))
      assert.strictEqual(textOf(result), "hello, Ada")
    }).pipe(Effect.scoped)
  )
})

describe("Mcp.layerHttp authorization", () => {
  const authorize = (token: Redacted.Redacted<string>) => Effect.succeed(Redacted.value(token) === "tok-a")

  it.live("answers 401 without a token or with a refused one, and serves a good one", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const url = yield* serve({ session, authorize })
      const initialize = (headers: Record<string, string>) =>
        Effect.promise(() =>
          fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 1,
              method: "initialize",
              params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } }
            })
          })
        )
      const none = yield* initialize({})
      assert.strictEqual(none.status, 401)
      assert.strictEqual(none.headers.get("www-authenticate"), 'Bearer realm="mcp"')
      assert.include(yield* Effect.promise(() => none.text()), "Authorization: Bearer")
      const wrong = yield* initialize({ authorization: "Bearer tok-b" })
      assert.strictEqual(wrong.status, 401)
      const body = yield* Effect.promise(() => wrong.text())
      assert.notInclude(body, "tok-b")

      const client = yield* connect(url, { authorization: "Bearer tok-a" })
      const result = yield* Effect.promise(() =>
        client.callTool({ name: "sql", arguments: { query: "SELECT count(*) AS n FROM sales" } })
      )
      assert.deepStrictEqual(JSON.parse(textOf(result)).rows, [[3]])
    }).pipe(Effect.scoped)
  )

  it.live("the SDK client fails to connect without the token", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const url = yield* serve({ session, authorize })
      const exit = yield* Effect.exit(connect(url))
      assert.isTrue(exit._tag === "Failure")
    }).pipe(Effect.scoped)
  )
})

describe("Mcp.layerHttp mounted in a larger server", () => {
  it.live(
    "two sessions at two paths keep their own tools and data, next to other routes; auth guards only its own",
    () =>
      Effect.gen(function* () {
        const a = yield* salesSession
        const b = yield* salesSession
        yield* b.data.remove("sales")
        yield* b.put("orders", [{ id: 1 }])
        const routes = Layer.mergeAll(
          Mcp.layerHttp({
            session: a,
            path: "/a/mcp",
            authorize: (token) => Effect.succeed(Redacted.value(token) === "tok-a")
          }),
          Mcp.layerHttp({ session: b, path: "/b/mcp", tools: [Variables.listVariables], name: "orders" }),
          HttpRouter.add("GET", "/health", HttpServerResponse.text("ok"))
        )
        const context = yield* Layer.build(
          HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
            Layer.provideMerge(NodeHttpServer.layerServer(createServer, { port: 0, host: "127.0.0.1" }))
          )
        )
        const server = context.mapUnsafe.get(HttpServer.HttpServer.key) as HttpServer.HttpServer["Service"]
        const base = HttpServer.formatAddress(server.address)

        const health = yield* Effect.promise(() => fetch(`${base}/health`))
        assert.strictEqual(health.status, 200)
        const unauthorized = yield* Effect.exit(connect(`${base}/a/mcp`))
        assert.strictEqual(unauthorized._tag, "Failure")

        const clientA = yield* connect(`${base}/a/mcp`, { authorization: "Bearer tok-a" })
        const clientB = yield* connect(`${base}/b/mcp`)
        assert.strictEqual(clientB.getServerVersion()?.name, "orders")
        assert.deepStrictEqual(
          (yield* Effect.promise(() => clientA.listTools())).tools.map((tool) => tool.name),
          ["list_variables", "sql", "javascript", "chart"]
        )
        assert.deepStrictEqual(
          (yield* Effect.promise(() => clientB.listTools())).tools.map((tool) => tool.name),
          ["list_variables"]
        )
        const listedA = textOf(yield* Effect.promise(() => clientA.callTool({ name: "list_variables", arguments: {} })))
        const listedB = textOf(yield* Effect.promise(() => clientB.callTool({ name: "list_variables", arguments: {} })))
        assert.include(listedA, '"sales"')
        assert.notInclude(listedA, '"orders"')
        assert.include(listedB, '"orders"')
        assert.notInclude(listedB, '"sales"')
      }).pipe(Effect.scoped)
  )

  it.live("a tool that cannot be served fails the layer with InvalidOptions", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const scalar = Tool.make("scalar", {
        description: "Takes a bare string.",
        parameters: Schema.String,
        handler: (text) => text
      })
      const error = yield* Effect.flip(serve({ session, tools: [scalar] }))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.include(error.message, "Schema.Struct")
      const duplicate = yield* Effect.flip(
        serve({ session, tools: [Variables.listVariables, Variables.listVariables] })
      )
      assert.strictEqual(duplicate._tag, "InvalidOptions")
      assert.include(duplicate.message, "list_variables")
    }).pipe(Effect.scoped)
  )
})

describe("older MCP clients", () => {
  const initialize = (protocolVersion: string) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion, capabilities: {}, clientInfo: { name: "old", version: "1" } }
    })

  it.live("are served 2025-03-26 over HTTP", () =>
    Effect.gen(function* () {
      const session = yield* salesSession
      const url = yield* serve({ session })
      const response = yield* Effect.promise(() =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: initialize("2025-03-26")
        })
      )
      assert.strictEqual(response.status, 200)
      const body = yield* Effect.promise(() => response.text())
      assert.include(body, '"protocolVersion":"2025-03-26"')
    }).pipe(Effect.scoped)
  )
})
