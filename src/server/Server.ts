/**
 * The HTTP server: the session API (with its OpenAPI document at `/openapi.json`), resumable
 * event streams, and the Anthropic-compatible `POST /v1/messages`, for the tenants of a token
 * table, over the `Provider` in context.
 *
 * `Server.layer(options)` listens on a port. `Server.routes(options)` is the same API as routes
 * of an `HttpRouter`, for an app that serves more beside it: merge your own route layers (a web
 * page, `McpServer.layerHttp`) into one `HttpRouter.serve`, or pass them as `options.routes`,
 * where they can use `ServerSessions` (a tenant's sessions) and {@link authenticate}.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { Anthropic } from "data-harness"
 * import { Server, Tenancy } from "data-harness/server"
 *
 * const page = HttpRouter.add("GET", "/", HttpServerResponse.html("<h1>analyst</h1>"))
 * const server = Server.layer({
 *   port: 8787,
 *   tokens: [{ tenant: "acme", token: process.env.ACME_TOKEN! }],
 *   system: "You are a data analyst.",
 *   routes: page
 * }).pipe(Layer.provide(Anthropic.layerConfig()))
 * Layer.launch(server).pipe(Effect.runFork)
 * ```
 * @since 0.2.0
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Duration, Effect, type FileSystem, Layer, type Path, Redacted } from "effect"
import {
  type Etag,
  type HttpPlatform,
  HttpRouter,
  HttpServer,
  type HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { Provider, SessionStore } from "../index.js"
import * as EventLog from "./EventLog.js"
import { jsonErrors } from "./httpErrors.js"
import { messagesHandlers } from "./messagesHandlers.js"
import { Api } from "./ServerApi.js"
import * as ServerSessions from "./ServerSessions.js"
import { authenticationLayer, invalidInputLayer, sessionHandlers } from "./sessionHandlers.js"
import * as Tenancy from "./Tenancy.js"

/**
 * Options of {@link routes} and {@link layer}.
 * @since 0.2.0
 */
export interface Options extends ServerSessions.Options {
  /** Who may call: a token table, or grants to build one from. */
  readonly tokens: Tenancy.Tokens | ReadonlyArray<Tenancy.TokenGrant>
  /** How often an idle event stream gets a `: keepalive` comment (default 15 seconds; `false` for never). */
  readonly keepAlive?: Duration.Input | false | undefined
}

/**
 * Options of {@link layer}.
 * @since 0.2.0
 */
export interface ServeOptions extends Options {
  /** Default 8787; 0 picks a free port (read it from `HttpServer.HttpServer`'s `address`). */
  readonly port?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /**
   * Where sessions are kept across restarts: a `SessionStore` layer (e.g.
   * `SessionStore.layerFileSystem({ directory })`). The sessions' history, usage, handles and
   * uploads go to it, a session is loaded from it when a request names it after a restart, and
   * its event log is kept there too (`EventLog.layerStore()`), so `Last-Event-ID` works across a
   * restart. Default: none (sessions live as long as the server).
   */
  readonly store?: Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError> | undefined
  /** The event log (default `EventLog.layerStore()` with a `store`, else `EventLog.layerMemory()`). */
  readonly eventLog?: Layer.Layer<EventLog.EventLog> | undefined
  /**
   * More routes served beside the API: route layers on the `HttpRouter` (e.g. `HttpRouter.add(...)`,
   * `McpServer.layerHttp(...)`), which may use the server's `ServerSessions`, `EventLog` and `Provider`.
   */
  readonly routes?: Layer.Layer<never, never, ExtraRoutesContext> | undefined
  /** How long shutdown waits for open responses (default 1 second: event streams never end by themselves). */
  readonly gracefulShutdownTimeout?: Duration.Input | undefined
}

/**
 * What routes passed as `ServeOptions.routes` may use.
 * @since 0.2.0
 */
export type ExtraRoutesContext =
  | HttpRouter.HttpRouter
  | ServerSessions.ServerSessions
  | EventLog.EventLog
  | Provider.Provider
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | FileSystem.FileSystem
  | Path.Path
  // what route handlers ask for per request
  | HttpRouter.Request.From<"Requires", ServerSessions.ServerSessions | EventLog.EventLog | Provider.Provider>

const tokensOf = (tokens: Options["tokens"]): Tenancy.Tokens => ("lookup" in tokens ? tokens : Tenancy.tokens(tokens))

/**
 * The API as routes on the `HttpRouter`, with the OpenAPI document at `/openapi.json` and the
 * JSON errors and request size limit as global router middleware. Needs `ServerSessions` (see
 * `ServerSessions.layer`) and the `EventLog`.
 * @since 0.2.0
 */
export const routes = (
  options: Options
): Layer.Layer<
  never,
  never,
  | HttpRouter.HttpRouter
  | ServerSessions.ServerSessions
  | EventLog.EventLog
  | Provider.Provider
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | FileSystem.FileSystem
  | Path.Path
> => {
  const limits: Tenancy.Limits = { ...Tenancy.defaultLimits, ...options.limits }
  const tokens = tokensOf(options.tokens)
  const keepAlive =
    options.keepAlive === false ? undefined : Duration.fromInputUnsafe(options.keepAlive ?? Duration.seconds(15))
  const handlerOptions = { maxUploadBytes: limits.maxUploadBytes, keepAlive }
  const groups = Layer.mergeAll(
    sessionHandlers(handlerOptions).pipe(Layer.provide([authenticationLayer(tokens), invalidInputLayer])),
    messagesHandlers({ tokens, agent: options.agent })
  )
  return Layer.mergeAll(
    HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(Layer.provide(groups)),
    jsonErrors(limits.maxRequestBytes)
  )
}

/**
 * The server listening on `host:port`, with its sessions and event log, over the `Provider` in
 * context. Releasing the layer stops listening, interrupts running asks and releases every
 * session.
 * @since 0.2.0
 */
export const layer = (
  options: ServeOptions
): Layer.Layer<
  HttpServer.HttpServer | ServerSessions.ServerSessions | EventLog.EventLog,
  HttpServerError.ServeError | SessionStore.StoreError,
  Provider.Provider
> => {
  const app = options.routes === undefined ? routes(options) : Layer.mergeAll(routes(options), options.routes)
  const store = options.store
  const sessionsAndLog =
    store === undefined
      ? Layer.provideMerge(ServerSessions.layer(options), options.eventLog ?? EventLog.layerMemory())
      : Layer.provideMerge(ServerSessions.layer(options), options.eventLog ?? EventLog.layerStore()).pipe(
          Layer.provide(store)
        )
  return HttpRouter.serve(app, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(sessionsAndLog),
    Layer.provideMerge(
      NodeHttpServer.layer(createServer, {
        port: options.port ?? 8787,
        host: options.host ?? "127.0.0.1",
        gracefulShutdownTimeout: options.gracefulShutdownTimeout ?? Duration.seconds(1)
      })
    )
  )
}

/** The token a request presents: a bearer, an `x-api-key`, or the `dh_token` cookie. */
const presented = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const authorization = request.headers.authorization
  if (authorization !== undefined && /^bearer /i.test(authorization)) return authorization.slice(7).trim()
  const apiKey = request.headers["x-api-key"]
  if (apiKey !== undefined && apiKey.length > 0) return apiKey
  return request.cookies.dh_token
}

/**
 * Router middleware for routes mounted beside the API (a page's data routes, MCP): it takes the
 * same tokens and schemes as the API, answers 401 without one, and provides the request's
 * `Tenancy.Tenant`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { Server, ServerSessions, Tenancy } from "data-harness/server"
 * const tokens = Tenancy.tokens([{ tenant: "acme", token: "..." }])
 * const mine = HttpRouter.add("GET", "/my/sessions", Effect.gen(function*() {
 *   const tenant = yield* Tenancy.Tenant
 *   const sessions = yield* ServerSessions.ServerSessions
 *   return HttpServerResponse.jsonUnsafe((yield* sessions.list(tenant.id)).map((s) => s.id))
 * })).pipe(Layer.provide(Server.authenticate(tokens).layer))
 * Server.layer({ tokens, routes: mine })
 * ```
 * @since 0.2.0
 */
export const authenticate = (tokens: Options["tokens"]) => {
  const table = tokensOf(tokens)
  return HttpRouter.middleware<{ provides: Tenancy.Tenant }>()((effect) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const token = presented(request)
      const tenant = token === undefined ? undefined : table.lookup(Redacted.make(token))
      return tenant === undefined
        ? Effect.succeed(
            HttpServerResponse.jsonUnsafe(
              {
                _tag: "Unauthorized",
                message:
                  "Missing or unknown token: send `Authorization: Bearer <token>` (or `x-api-key: <token>`) with a token the server is configured with."
              },
              { status: 401 }
            )
          )
        : Effect.provideService(effect, Tenancy.Tenant, { id: tenant })
    })
  )
}

/**
 * The URL the server listens on, e.g. `http://127.0.0.1:8787`.
 * @since 0.2.0
 */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = Effect.map(HttpServer.HttpServer, (server) =>
  HttpServer.formatAddress(server.address)
)
