/**
 * Serving a session's tools over MCP: the registration of our `Tool.Tool`s with effect's
 * `McpServer`, and its streamable-HTTP and stdio transports. Re-exported by `Mcp.ts`.
 */

import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import { Context, Effect, Layer, Logger, Redacted } from "effect"
import { McpProtocol, McpSchema, McpServer } from "effect/ai"
import { HttpRouter, type HttpServer, type HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Data from "../data/Data.js"
import * as Chart from "../tools/Chart.js"
import * as DataTools from "../tools/DataTools.js"
import type * as Tool from "../tools/Tool.js"
import * as Variables from "../tools/Variables.js"
import { VERSION } from "./version.js"

// options

/**
 * What a served MCP endpoint works on and shows.
 * @since 0.1.0
 */
export interface ServeOptions<R = never> {
  /**
   * The session whose data the tools work on (an `agent.session()`, or anything holding a
   * `Data.Store` as `data`). Handles put into it are visible to every call; handles the tools
   * save (`sql` with `save_as`, JavaScript's `save`) stay in it for later calls.
   */
  readonly session: { readonly data: Data.Store }
  /**
   * The tools served (default: `list_variables` and the data tools, `DataTools.all`). Every tool
   * is listed, hidden ones too: MCP clients choose their tools themselves.
   */
  readonly tools?: ReadonlyArray<Tool.Tool<R>> | undefined
  /** The server name MCP clients see (default `"data-harness"`). */
  readonly name?: string | undefined
  /** The server version MCP clients see (default the library's version). */
  readonly version?: string | undefined
  /** Instructions sent to the client at initialisation, e.g. what the data is. */
  readonly instructions?: string | undefined
}

/**
 * Options of the streamable-HTTP endpoint.
 * @since 0.1.0
 */
export interface HttpOptions<R = never> extends ServeOptions<R> {
  /** Where the endpoint is mounted (default `"/mcp"`). */
  readonly path?: HttpRouter.PathInput | undefined
  /**
   * Checks the bearer token of every request before MCP sees it: `true` lets it through. A
   * request without an `Authorization: Bearer <token>` header, or whose token is refused, gets
   * `401` with `WWW-Authenticate: Bearer`. Without `authorize` the endpoint is open: bind it to
   * localhost, or mount it behind your own authentication.
   */
  readonly authorize?: ((token: Redacted.Redacted<string>) => Effect.Effect<boolean>) | undefined
  /**
   * Browser origins allowed to call the endpoint. A request with an `Origin` header not listed
   * here is refused (DNS-rebinding protection); requests without one (non-browser clients) pass.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
}

/**
 * Options of the standalone HTTP server.
 * @since 0.1.0
 */
export interface ServerOptions<R = never> extends HttpOptions<R> {
  /** The port to listen on (default `0`: a free port; read it from `HttpServer.HttpServer`). */
  readonly port?: number | undefined
  /** The interface to bind (default `"127.0.0.1"`). */
  readonly host?: string | undefined
}

/** Protocol revisions served: the official SDK's latest first, older ones for older clients. */
const httpProtocols = [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18, McpProtocol.v2025_03_26] as const
/** Over stdio the oldest revision works too (Claude Desktop still offers it). */
const stdioProtocols = [...httpProtocols, McpProtocol.v2024_11_05] as const

/** MCP's rule for tool names. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/

/**
 * The tools served when none are given: `list_variables`, the data tools (`sql`, `javascript`)
 * and `chart` (its result is a short confirmation; the chart is kept as a handle with its data
 * inlined, which `list_variables`, `sql` and `javascript` can read).
 * @since 0.1.0
 */
export const defaultTools = (): ReadonlyArray<Tool.Tool> => [Variables.listVariables, ...DataTools.all, Chart.chart]

// registration

/** The tool's input schema as MCP wants it (an object root), or why it cannot be served. */
const inputSchemaOf = (tool: Tool.Any): McpSchema.ToolJson | InvalidOptions => {
  const schema = tool.inputSchema
  if (schema.type === "object") return schema as McpSchema.ToolJson
  // a recursive root is a `$ref` to an object definition: MCP still wants `type: "object"` beside it
  if (schema.type === undefined && typeof schema.$ref === "string") {
    return { ...schema, type: "object" } as McpSchema.ToolJson
  }
  return new InvalidOptions({
    option: "tools",
    message:
      `Tool "${tool.name}" takes ${JSON.stringify(schema.type)} input, but MCP tools take an object. ` +
      `Declare its parameters as a Schema.Struct.`
  })
}

/** The tools checked for MCP: object inputs, valid and distinct names. */
const checkTools = (tools: ReadonlyArray<Tool.Any>): Effect.Effect<ReadonlyArray<Tool.Any>, InvalidOptions> =>
  Effect.gen(function* () {
    const seen = new Set<string>()
    for (const tool of tools) {
      if (!TOOL_NAME.test(tool.name)) {
        return yield* new InvalidOptions({
          option: "tools",
          message: `Tool name ${JSON.stringify(tool.name)} is not valid for MCP: use 1 to 128 of A-Z a-z 0-9 _ - .`
        })
      }
      if (seen.has(tool.name)) {
        return yield* new InvalidOptions({
          option: "tools",
          message: `Two tools are named "${tool.name}"; MCP needs distinct names. Rename or drop one.`
        })
      }
      seen.add(tool.name)
      const schema = inputSchemaOf(tool)
      if (schema instanceof InvalidOptions) return yield* schema
    }
    return tools
  })

/**
 * Registers each tool with the `McpServer` in context. A call decodes and runs the tool against
 * the session's data exactly as the agent loop does; its `Outcome` becomes the MCP result (text
 * content, `isError` on failure), so bad input and failing tools are tool errors, never protocol
 * errors.
 */
const register = <R>(options: ServeOptions<R>) =>
  Effect.gen(function* () {
    const server = yield* McpServer.McpServer
    const tools = yield* checkTools((options.tools ?? defaultTools()) as ReadonlyArray<Tool.Any>)
    const services = yield* Effect.context<R>()
    const data = options.session.data
    let calls = 0
    const context = (): Tool.Context => ({
      toolUseId: `mcp_${++calls}`,
      data,
      // every served tool is listed already, and an MCP call has no run to answer
      reveal: () => Effect.void,
      setAnswer: () => Effect.void
    })
    for (const tool of tools) {
      yield* server.addTool({
        tool: new McpSchema.Tool({
          name: tool.name,
          description: tool.description,
          inputSchema: inputSchemaOf(tool) as McpSchema.ToolJson
        }),
        annotations: Context.empty(),
        handle: (payload) =>
          tool.call(payload, context()).pipe(
            Effect.provideContext(services),
            Effect.map(
              (outcome) =>
                new McpSchema.CallToolResult({
                  content: [{ type: "text", text: outcome.content }],
                  isError: outcome.isError
                })
            )
          )
      })
    }
  })

// authentication

const unauthorized = (message: string) =>
  HttpServerResponse.jsonUnsafe(
    { error: { type: "authentication_error", message } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="mcp"' } }
  )

/** The bearer token of an `Authorization` header, if it carries one. */
const bearerToken = (header: string | undefined): string | undefined => {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match === null ? undefined : match[1]
}

/** Route middleware that refuses a request unless `authorize` accepts its bearer token. */
const requireBearer = (authorize: (token: Redacted.Redacted<string>) => Effect.Effect<boolean>) =>
  HttpRouter.middleware((httpEffect) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const token = bearerToken(request.headers.authorization)
      if (token === undefined) {
        return unauthorized("This MCP endpoint needs an Authorization: Bearer <token> header.")
      }
      if (!(yield* authorize(Redacted.make(token)))) return unauthorized("The bearer token was refused.")
      return yield* httpEffect
    })
  ).layer

// layers

/**
 * A streamable-HTTP MCP endpoint serving a session's tools, as routes on the `HttpRouter` in
 * context: merge it with other routes in `HttpRouter.serve`, or run it alone with
 * {@link layerServer}. Fails with `InvalidOptions` when a tool cannot be served (a non-object
 * input, a duplicate or invalid name).
 *
 * Each layer has its own MCP server, so several sessions can be served at different paths.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Mcp } from "data-harness"
 *
 * const routes = Layer.mergeAll(
 *   Mcp.layerHttp({ session, path: "/mcp", authorize: (token) => Effect.succeed(isKnown(token)) }),
 *   otherRoutes
 * )
 * const app = HttpRouter.serve(routes)
 * ```
 * @since 0.1.0
 */
export const layerHttp = <R = never>(
  options: HttpOptions<R>
): Layer.Layer<never, InvalidOptions, HttpRouter.HttpRouter | R> => {
  const mcp = McpServer.layerHttp({
    name: options.name ?? "data-harness",
    version: options.version ?? VERSION,
    instructions: options.instructions,
    path: options.path ?? "/mcp",
    protocols: httpProtocols,
    allowedOrigins: options.allowedOrigins,
    allowSessionTermination: true,
    registrations: Layer.effectDiscard(register(options))
  })
  const guarded = options.authorize === undefined ? mcp : mcp.pipe(Layer.provide(requireBearer(options.authorize)))
  // fresh: effect's McpServer registry is one memoized layer; each endpoint gets its own
  return Layer.fresh(guarded) as Layer.Layer<never, InvalidOptions, HttpRouter.HttpRouter | R>
}

/**
 * A standalone HTTP server (Node's `http`) with the MCP endpoint of {@link layerHttp} at
 * `path` (default `/mcp`), on `host` (default `127.0.0.1`) and `port` (default a free one).
 * Provides `HttpServer.HttpServer`, whose `address` says where it listens; the server stops when
 * the layer's scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpServer } from "effect/http"
 * import { Mcp } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* HttpServer.HttpServer
 *   console.log(`MCP at ${HttpServer.formatAddress(server.address)}/mcp`)
 *   return yield* Effect.never
 * }).pipe(Effect.provide(Mcp.layerServer({ session, port: 3333 })))
 * ```
 * @since 0.1.0
 */
export const layerServer = <R = never>(
  options: ServerOptions<R>
): Layer.Layer<HttpServer.HttpServer, InvalidOptions | HttpServerError.ServeError, R> =>
  HttpRouter.serve(layerHttp(options), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layerServer(createServer, { port: options.port ?? 0, host: options.host ?? "127.0.0.1" })
    )
  ) as Layer.Layer<HttpServer.HttpServer, InvalidOptions | HttpServerError.ServeError, R>

/**
 * An MCP server over this process's stdin and stdout (newline-delimited JSON-RPC), for clients
 * that start the server as a subprocess (Claude Desktop, Claude Code, `mcp` CLIs). Effect's
 * logs go to stderr, so stdout carries only protocol messages. Run it with `Layer.launch`; it
 * ends when stdin closes.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node/NodeRuntime"
 * import { Effect, Layer } from "effect"
 * import { Data, Mcp } from "data-harness"
 *
 * Effect.gen(function*() {
 *   const data = yield* Data.makeStore
 *   yield* data.putFile("sales", "data/sales.csv")
 *   return yield* Layer.launch(Mcp.layerStdio({ session: { data } }))
 * }).pipe(NodeRuntime.runMain)
 * ```
 * @since 0.1.0
 */
export const layerStdio = <R = never>(options: ServeOptions<R>): Layer.Layer<never, InvalidOptions, R> =>
  McpServer.layerStdio({
    name: options.name ?? "data-harness",
    version: options.version ?? VERSION,
    instructions: options.instructions,
    protocols: stdioProtocols,
    registrations: Layer.effectDiscard(register(options))
  }).pipe(
    Layer.provide(NodeStdio.layer),
    Layer.provide(Layer.succeed(Logger.LogToStderr, true)),
    Layer.fresh
  ) as Layer.Layer<never, InvalidOptions, R>
