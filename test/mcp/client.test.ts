import { execFileSync } from "node:child_process"
import { createServer, type Server } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schedule, Scope } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest } from "effect/http"
import { Agent, Mock, type Tool } from "../../src/index.js"
import * as Mcp from "../../src/mcp/Mcp.js"
import { salesSession } from "./fixtures.js"

/**
 * Our MCP server over the sales session on a random port, mounted next to nothing else, with the
 * method of every request it receives recorded; its URL, the node server and the methods.
 */
const serveRecording = (options: Partial<Mcp.HttpOptions> = {}) =>
  Effect.gen(function* () {
    const session = yield* salesSession
    const methods: Array<string> = []
    const node = createServer()
    const app = HttpRouter.serve(Mcp.layerHttp({ session, ...options }), {
      disableLogger: true,
      disableListenLog: true,
      middleware: (effect) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          methods.push(request.method)
          return effect
        })
    }).pipe(Layer.provideMerge(NodeHttpServer.layerServer(() => node, { port: 0, host: "127.0.0.1" })))
    const context = yield* Layer.build(app)
    const server = context.mapUnsafe.get(HttpServer.HttpServer.key) as HttpServer.HttpServer["Service"]
    return { url: `${HttpServer.formatAddress(server.address)}/mcp`, node, methods, session }
  })

const connections = (node: Server) =>
  Effect.callback<number>((resume) => {
    node.getConnections((_error, count) => resume(Effect.succeed(count)))
  })

const call = (tool: Tool.Tool, input: unknown) =>
  tool.call(input, {
    toolUseId: "toolu_test",
    data: undefined as never,
    reveal: () => Effect.void,
    setAnswer: () => Effect.void
  })

const byName = (tools: ReadonlyArray<Tool.Tool>, name: string) => {
  const tool = tools.find((t) => t.name === name)
  assert.isDefined(tool, `tool ${name}`)
  return tool!
}

describe("Mcp.tools over streamable HTTP", () => {
  it.live("an agent calls a remote MCP tool and answers with its result", () =>
    Effect.gen(function* () {
      const { url } = yield* serveRecording()
      const remote = yield* Mcp.tools({ url, prefix: "remote_" })
      assert.deepStrictEqual(
        remote.map((tool) => tool.name),
        ["remote_list_variables", "remote_sql", "remote_javascript", "remote_chart"]
      )
      assert.deepStrictEqual(byName(remote, "remote_sql").inputSchema.required, ["query"])

      const program = Effect.gen(function* () {
        // the agent's own session has no `sales`: only the remote one does
        const agent = yield* Agent.make({ tools: remote })
        const session = yield* agent.session()
        const result = yield* session.askResult("What is the EU revenue?")
        const requests = yield* (yield* Mock.Recorder).requests
        return { result, requests, history: yield* session.history }
      }).pipe(
        Effect.provide(
          Mock.layer({
            turns: [
              Mock.toolCall("remote_sql", { query: "SELECT sum(revenue) AS eu FROM sales WHERE region = 'EU'" }),
              Mock.reply(({ lastToolResults }) => Mock.text(`EU: ${JSON.stringify(lastToolResults[0]!.content)}`))
            ]
          })
        )
      )
      const { result, requests } = yield* program
      // the model was offered the remote tool with the remote schema
      const offered = requests[0]!.tools?.find((tool) => tool.name === "remote_sql")
      assert.isDefined(offered)
      assert.deepStrictEqual(offered!.input_schema.required, ["query"])
      assert.include(result.text, '\\"rows\\":[[150]]')
    }).pipe(Effect.scoped)
  )

  it.live("remote tool errors and bad arguments are is_error results the model reads", () =>
    Effect.gen(function* () {
      const { url } = yield* serveRecording()
      const remote = yield* Mcp.tools({ url })
      const sql = byName(remote, "sql")
      const failed = yield* call(sql, { query: "SELECT * FROM nowhere" })
      assert.isTrue(failed.isError)
      assert.include(failed.content, "nowhere")
      const bad = yield* call(sql, { query: 1 })
      assert.isTrue(bad.isError)
      assert.include(bad.content, 'Invalid input for tool "sql"')
      const notObject = yield* call(sql, "SELECT 1")
      assert.isTrue(notObject.isError)
      assert.include(notObject.content, "expected an object")
      const ok = yield* call(sql, { query: "SELECT count(*) AS n FROM sales" })
      assert.deepStrictEqual(ok, {
        content: '{"rowCount":1,"columns":["n"],"types":["BIGINT"],"rows":[[3]]}',
        isError: false
      })
    }).pipe(Effect.scoped)
  )

  it.live("closing the scope ends the MCP session and its connections", () =>
    Effect.gen(function* () {
      const { url, node, methods } = yield* serveRecording()
      const scope = yield* Scope.make()
      const remote = yield* Mcp.tools({ url }).pipe(Scope.provide(scope))
      const sql = byName(remote, "sql")
      assert.isFalse((yield* call(sql, { query: "SELECT 1 AS one" })).isError)
      assert.isAbove(yield* connections(node), 0)
      assert.notInclude(methods, "DELETE")

      yield* Scope.close(scope, Exit.void)
      // the client ended its MCP session explicitly
      assert.strictEqual(methods[methods.length - 1], "DELETE")
      // and its sockets are gone (the server notices a closed socket on its next tick)
      const open = yield* connections(node).pipe(
        Effect.repeat({ until: (count) => count === 0, schedule: Schedule.spaced("10 millis"), times: 200 })
      )
      assert.strictEqual(open, 0)
      const after = yield* call(sql, { query: "SELECT 1 AS one" })
      assert.isTrue(after.isError)
      assert.include(after.content, "closed")
    }).pipe(Effect.scoped)
  )

  it.live("sends the given headers, and a refused connection is a typed error that says what to do", () =>
    Effect.gen(function* () {
      const authorize = (token: Redacted.Redacted<string>) => Effect.succeed(Redacted.value(token) === "tok-a")
      const { url } = yield* serveRecording({ authorize })
      const refused = yield* Effect.flip(Mcp.tools({ url }))
      assert.strictEqual(refused._tag, "McpConnectionError")
      assert.strictEqual(refused.reason, "HttpError")
      assert.strictEqual(refused.status, 401)
      assert.isFalse(refused.isRetryable)
      assert.include(refused.message, "credentials")

      const remote = yield* Mcp.tools({ url, headers: { authorization: Redacted.make("Bearer tok-a") } })
      assert.isFalse((yield* call(byName(remote, "sql"), { query: "SELECT 1 AS one" })).isError)
    }).pipe(Effect.scoped)
  )

  it.live("an unreachable server is a retryable McpConnectionError", () =>
    Effect.gen(function* () {
      // a port that was just free
      const node = createServer()
      yield* Effect.callback<void>((resume) => {
        node.listen(0, "127.0.0.1", () => resume(Effect.void))
      })
      const port = (node.address() as { port: number }).port
      yield* Effect.callback<void>((resume) => {
        node.close(() => resume(Effect.void))
      })
      const error = yield* Effect.flip(Mcp.tools({ url: `http://user:pw@127.0.0.1:${port}/mcp?key=secret` }))
      assert.strictEqual(error.reason, "TransportError")
      assert.isTrue(error.isRetryable)
      assert.strictEqual(error.server, `http://127.0.0.1:${port}/mcp`)
      assert.include(error.message, `127.0.0.1:${port}`)
      // credentials in the URL never reach the error
      assert.notInclude(error.message, "secret")
      assert.notInclude(error.message, "pw")
    }).pipe(Effect.scoped)
  )

  it.live("a timeout cancels a slow remote call and says so", () =>
    Effect.gen(function* () {
      const { url } = yield* serveRecording()
      const remote = yield* Mcp.tools({ url, timeout: "200 millis" })
      const javascript = byName(remote, "javascript")
      assert.strictEqual(javascript.timeout?.toString(), "200 millis")
      const slow = yield* call(javascript, { code: "let n = 0; while (true) { n++ }" })
      assert.isTrue(slow.isError)
      assert.include(slow.content, "timed out after 200ms")
    }).pipe(Effect.scoped)
  )
})

/** The processes whose parent is this one, with their command lines. */
const children = (): Array<string> =>
  execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes("scratchpad/mcp.ts"))

describe("Mcp.toolsFromCommand over stdio", () => {
  it.live("runs our stdio server as a subprocess, calls its tools, and ends it with the scope", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const remote = yield* Mcp.toolsFromCommand(process.execPath, ["--import", "tsx", "scratchpad/mcp.ts"]).pipe(
        Scope.provide(scope)
      )
      assert.deepStrictEqual(
        remote.map((tool) => tool.name),
        ["list_variables", "sql", "javascript", "chart"]
      )
      assert.strictEqual(children().length, 1)
      const count = yield* call(byName(remote, "sql"), { query: "SELECT count(*) AS n FROM sales" })
      assert.isFalse(count.isError)
      assert.deepStrictEqual(JSON.parse(count.content).rows, [[200]])

      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(children(), [])
    })
  )

  it.live("a command that does not start is a McpConnectionError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Mcp.toolsFromCommand("/nonexistent/mcp-server", ["--verbose", Redacted.make("--token=secret")])
      )
      assert.strictEqual(error._tag, "McpConnectionError")
      assert.strictEqual(error.server, "/nonexistent/mcp-server --verbose <redacted>")
      assert.include(error.message, "/nonexistent/mcp-server")
      assert.notInclude(error.message, "secret")
    }).pipe(Effect.scoped)
  )
})
