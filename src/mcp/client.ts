/**
 * Tools from an MCP server, as our `Tool.Tool`s: a scoped connection with effect's `McpClient`
 * over streamable HTTP or a subprocess's stdio. Re-exported by `Mcp.ts`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Duration, Effect, Layer, Redacted, Schema, type Scope } from "effect"
import { McpClient, type McpClientError, McpProtocol, type McpSchema } from "effect/ai"
import { ChildProcess } from "effect/process"
import type * as Tool from "../tools/Tool.js"
import { VERSION } from "./version.js"

// errors

/**
 * Connecting to an MCP server or listing its tools failed. `reason` is the kind of failure
 * (`TransportError`: unreachable or the process did not start; `HttpError` with `status`;
 * `TimeoutError`; `ProtocolError`; `UnsupportedError`: the server does not speak MCP
 * 2025-11-25; ...). Failures of single tool calls are not this error: they are `is_error` tool
 * results the model reads.
 * @since 0.1.0
 */
export class McpConnectionError extends Schema.TaggedError<McpConnectionError>()("McpConnectionError", {
  /** The server: its URL (without credentials or query) or its command (redacted arguments hidden). */
  server: Schema.String,
  reason: Schema.String,
  status: Schema.optional(Schema.Number),
  message: Schema.String
}) {
  /** Retryable when the server may come back: unreachable, timed out, or a 429/5xx answer. */
  get isRetryable(): boolean {
    if (this.reason === "TransportError" || this.reason === "TimeoutError") return true
    return this.reason === "HttpError" && this.status !== undefined && (this.status === 429 || this.status >= 500)
  }
}

// options

/**
 * Options of both connections.
 * @since 0.1.0
 */
export interface ClientOptions {
  /**
   * Prepended to every remote tool's name (e.g. `"remote_"`), to keep them apart from other
   * tools of the agent (an agent's tool names must be distinct).
   */
  readonly prefix?: string | undefined
  /** Only the remote tools with these (remote) names; default all. */
  readonly include?: ReadonlyArray<string> | undefined
  /**
   * Time limit of one call. Past it the call is cancelled and the model is told. Default none:
   * the agent's `timeouts.tool` applies.
   */
  readonly timeout?: Duration.Input | undefined
  /** Time limit for connecting and listing the tools (default 60 seconds). */
  readonly connectTimeout?: Duration.Input | undefined
}

/**
 * Options of {@link tools}.
 * @since 0.1.0
 */
export interface HttpClientOptions extends ClientOptions {
  /** The streamable-HTTP endpoint, e.g. `http://127.0.0.1:3333/mcp`. */
  readonly url: string | URL
  /** Headers sent with every request, e.g. `{ authorization: Redacted.make("Bearer ...") }`. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

/**
 * Options of {@link toolsFromCommand}.
 * @since 0.1.0
 */
export interface CommandOptions extends ClientOptions {
  /** The working directory of the server process. */
  readonly cwd?: string | undefined
  /** Environment variables of the server process, added to this process's own. */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

// tools

/** Anthropic's (and OpenAI's) rule for tool names; MCP's allows more. */
const MODEL_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** A name the model APIs accept, distinct from those `taken`. */
const modelToolName = (name: string, taken: Set<string>): string => {
  const base = MODEL_TOOL_NAME.test(name) ? name : name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "tool"
  let candidate = base
  for (let n = 2; taken.has(candidate); n++) candidate = `${base.slice(0, 60)}_${n}`
  taken.add(candidate)
  return candidate
}

const formatBytes = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`)

/** One content block as the text the model reads. */
const blockText = (block: McpSchema.ContentBlock): string => {
  switch (block.type) {
    case "text":
      return block.text
    case "image":
    case "audio":
      return `[${block.type} ${block.mimeType}, ${formatBytes(block.data.length)}, not shown]`
    case "resource":
      return "text" in block.resource
        ? block.resource.text
        : `[resource ${block.resource.uri}${block.resource.mimeType ? ` (${block.resource.mimeType})` : ""}, not shown]`
    case "resource_link":
      return `[resource ${block.uri}${block.description ? `: ${block.description}` : ""}]`
  }
}

/** A remote result as the model reads it: its content blocks, or its structured content. */
const outcomeOf = (result: McpSchema.CallToolResult): Tool.Outcome => {
  const text =
    result.content.length > 0
      ? result.content.map(blockText).join("\n")
      : result.structuredContent !== undefined
        ? JSON.stringify(result.structuredContent)
        : "(no output)"
  return { content: text, isError: result.isError === true }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The `Tool.Tool` that calls one remote tool. */
const remoteTool = (
  client: McpClient.McpClient,
  server: string,
  remote: McpSchema.Tool,
  name: string,
  timeout: Duration.Duration | undefined
): Tool.Tool => ({
  name,
  description: remote.description ?? remote.title ?? `The ${remote.name} tool of MCP server ${server}.`,
  inputSchema: remote.inputSchema,
  visible: true,
  timeout,
  call: (input) => {
    const args = input ?? {}
    if (!isRecord(args)) {
      return Effect.succeed({
        content: `Invalid input for tool "${name}": expected an object of arguments, got ${JSON.stringify(args)}.`,
        isError: true
      })
    }
    return client.callTool({ tool: remote, arguments: args }, { timeout }).pipe(
      Effect.map(outcomeOf),
      Effect.catch((error: McpClientError.McpClientError) =>
        Effect.succeed({
          content:
            error.reason._tag === "TimeoutError" && timeout !== undefined
              ? `Tool "${name}" timed out after ${Duration.format(timeout)} and was cancelled.`
              : `Tool "${name}" of MCP server ${server} failed: ${error.message}`,
          isError: true
        })
      )
    )
  }
})

const connectionError = (server: string) => (error: McpClientError.McpClientError) =>
  new McpConnectionError({
    server,
    reason: error.reason._tag,
    status: error.reason._tag === "HttpError" ? error.reason.status : undefined,
    message:
      `Could not use MCP server ${server}: ${error.message}.` +
      (error.reason._tag === "HttpError" && error.reason.status === 401
        ? " It wants credentials: pass headers: { authorization: ... }."
        : error.reason._tag === "UnsupportedError"
          ? " The client speaks MCP 2025-11-25; the server must support it."
          : "")
  })

/** Connects over `transport`, lists the tools, and wraps them. */
const toolsOver = (
  server: string,
  transport: Effect.Effect<McpClient.Transport, McpClientError.McpClientError, Scope.Scope>,
  options: ClientOptions
): Effect.Effect<ReadonlyArray<Tool.Tool>, McpConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout)
    const client = yield* McpClient.make({
      name: "data-harness",
      version: VERSION,
      timeout: options.connectTimeout
    }).pipe(Effect.provideServiceEffect(McpClient.Transport, transport))
    const listed = yield* client.listTools()
    const include = options.include === undefined ? undefined : new Set(options.include)
    const taken = new Set<string>()
    return listed
      .filter((remote) => include === undefined || include.has(remote.name))
      .map((remote) =>
        remoteTool(client, server, remote, modelToolName(`${options.prefix ?? ""}${remote.name}`, taken), timeout)
      )
  }).pipe(Effect.mapError(connectionError(server)))

/** A URL as errors show it: no user, password, query or fragment, which may carry secrets. */
const describeUrl = (url: string | URL): string => {
  try {
    const shown = new URL(url)
    shown.username = ""
    shown.password = ""
    shown.search = ""
    shown.hash = ""
    return shown.href
  } catch {
    return "(an invalid URL)"
  }
}

const plainHeaders = (headers: HttpClientOptions["headers"]): Record<string, string> | undefined =>
  headers === undefined
    ? undefined
    : Object.fromEntries(
        Object.entries(headers).map(([key, value]) => [key, Redacted.isRedacted(value) ? Redacted.value(value) : value])
      )

/**
 * The tools of an MCP server over streamable HTTP, as tools an agent can use. The connection
 * (an MCP session, and its HTTP connections) belongs to the current scope: it is closed when the
 * scope closes, after which calls come back as `is_error` results. Fails with
 * `McpConnectionError` when the server cannot be reached or listed.
 *
 * Remote input is checked by the server: a bad call is an `is_error` result with its message,
 * and so is a call that fails or times out (`timeout`). Names are kept (with `prefix`), made
 * safe for the model APIs (`[A-Za-z0-9_-]{1,64}`) where needed.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Agent, Mcp } from "data-harness"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const remote = yield* Mcp.tools({
 *     url: "http://127.0.0.1:3333/mcp",
 *     headers: { authorization: Redacted.make(`Bearer ${token}`) },
 *     prefix: "warehouse_"
 *   })
 *   const agent = yield* Agent.make({ tools: remote })
 *   return yield* agent.run("How many orders shipped late last week?")
 * }))
 * ```
 * @since 0.1.0
 */
export const tools = (
  options: HttpClientOptions
): Effect.Effect<ReadonlyArray<Tool.Tool>, McpConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = describeUrl(options.url)
    // a keep-alive agent in the caller's scope: one socket serves every call, and it closes
    // with the scope
    const http = yield* Layer.build(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true }))
    const transport = McpClient.http({
      url: options.url,
      protocol: McpProtocol.v2025_11_25,
      headers: plainHeaders(options.headers)
    }).pipe(Effect.provide(http))
    return yield* toolsOver(server, transport, options)
  })

/**
 * The tools of an MCP server started as a subprocess that speaks MCP over stdio (the way Claude
 * Desktop starts servers), as tools an agent can use. Pass secrets as `Redacted` arguments or
 * `env` values: errors show the command with them hidden. The process belongs to the current scope:
 * when the scope closes its stdin is closed, and it is terminated if it does not exit. Fails with
 * `McpConnectionError` when it cannot be started or listed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Mcp } from "data-harness"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const files = yield* Mcp.toolsFromCommand("npx", ["-y", "@modelcontextprotocol/server-filesystem", "/data"])
 *   const agent = yield* Agent.make({ tools: files })
 *   return yield* agent.run("Which files in /data are CSV?")
 * }))
 * ```
 * @since 0.1.0
 */
export const toolsFromCommand = (
  command: string,
  args: ReadonlyArray<string | Redacted.Redacted<string>> = [],
  options: CommandOptions = {}
): Effect.Effect<ReadonlyArray<Tool.Tool>, McpConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = [command, ...args.map((arg) => (Redacted.isRedacted(arg) ? "<redacted>" : arg))].join(" ")
    const services = yield* Layer.build(NodeServices.layer)
    const transport = McpClient.stdio({
      command: ChildProcess.make(command, args, {
        cwd: options.cwd,
        env: options.env,
        extendEnv: true,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe"
      }),
      protocol: McpProtocol.v2025_11_25
    }).pipe(Effect.provide(services))
    return yield* toolsOver(server, transport, options)
  })
