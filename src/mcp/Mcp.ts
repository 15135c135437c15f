/**
 * MCP (Model Context Protocol) both ways.
 *
 * **Serve** a session's data tools (`list_variables`, `sql`, `javascript`, and any you choose) so
 * that Claude Desktop, Claude Code or any MCP client can query its handles: over streamable HTTP
 * ({@link layerHttp}, routes you mount on your own `HttpRouter`, or {@link layerServer}, a
 * standalone server) or over stdio ({@link layerStdio}). The tools run against that one
 * session's data: handles put into it are visible to every call, and results saved by a call
 * stay for the next. Bad arguments and failing tools come back as MCP tool errors (`isError`),
 * the same text the agent's model would read.
 *
 * **Use** another MCP server's tools in an agent: {@link tools} (streamable HTTP) and
 * {@link toolsFromCommand} (a subprocess over stdio) connect with effect's `McpClient` and give
 * `Tool.Tool`s for `Agent.make({ tools })`. The connection belongs to the current scope.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Agent, Mcp } from "data-harness"
 *
 * // serve: a session's tools on http://127.0.0.1:3333/mcp
 * const serve = Effect.gen(function*() {
 *   const agent = yield* Agent.make()
 *   const session = yield* agent.session()
 *   yield* session.putFile("sales", "data/sales.csv")
 *   return yield* Layer.launch(Mcp.layerServer({ session, port: 3333 }))
 * })
 *
 * // use: a remote server's tools in an agent
 * const ask = Effect.scoped(Effect.gen(function*() {
 *   const remote = yield* Mcp.tools({ url: "http://127.0.0.1:3333/mcp", prefix: "remote_" })
 *   const agent = yield* Agent.make({ tools: remote })
 *   return yield* agent.run("What is the revenue by region?")
 * }))
 * ```
 * @since 0.1.0
 */
export * from "./client.js"
export * from "./server.js"
