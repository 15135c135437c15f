/**
 * The server's sessions: each belongs to one tenant, holds an agent session in a `Scope` of its
 * own (closed when the session is deleted or the server stops) and a directory for its uploads,
 * and runs at most one ask at a time in a fiber of that scope. The ask writes its events to the
 * `EventLog`, so it runs on while no client is attached, and any number of clients read them.
 *
 * Routes mounted beside the API (a web page, MCP) use this service to reach a tenant's sessions.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerSessions } from "data-harness/server"
 * const handles = (tenant: string, id: string) =>
 *   Effect.flatMap(ServerSessions.ServerSessions, (sessions) => sessions.get(tenant, id)).pipe(
 *     Effect.flatMap((s) => s.session.handles)
 *   )
 * ```
 * @since 0.2.0
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Context, Effect, Layer, Option } from "effect"
import { Provider, SessionStore } from "../index.js"
import * as EventLog from "./EventLog.js"
import { Registry } from "./registry.js"
import type { Options, Service } from "./serverSessionsService.js"
import { defaultLimits, type Limits } from "./Tenancy.js"

// models

export type { AcceptedAsk, Options, ServerSession, Service } from "./serverSessionsService.js"

/**
 * The server's sessions.
 * @since 0.2.0
 */
export class ServerSessions extends Context.Service<ServerSessions, Service>()("data-harness/server/ServerSessions") {}

// constructors

/**
 * Builds the sessions service over the `Provider` and `EventLog` in context. Everything it holds
 * is released when the scope closes: running asks are interrupted, agent sessions closed,
 * directories removed.
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function* (options: Options = {}) {
  const provider = yield* Provider.Provider
  const log = yield* EventLog.EventLog
  const limits: Limits = { ...defaultLimits, ...options.limits }
  const root = options.directory ?? (yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "data-harness-"))))
  if (options.directory === undefined) {
    yield* Effect.addFinalizer(() => Effect.promise(() => Fs.rm(root, { recursive: true, force: true })))
  }
  const registry = new Registry({
    provider,
    log,
    limits,
    root,
    scope: yield* Effect.scope,
    system: options.system,
    agent: options.agent,
    store: Option.getOrUndefined(yield* Effect.serviceOption(SessionStore.SessionStore))
  })
  // run before the root directory is removed (finalizers run in reverse)
  yield* Effect.addFinalizer(() => registry.releaseAll)
  const service: Service = {
    create: (tenant, createOptions) => registry.create(tenant, createOptions?.system),
    get: (tenant, id) => registry.find(tenant, id),
    list: (tenant) => registry.list(tenant),
    remove: (tenant, id) => registry.remove(tenant, id),
    ask: (tenant, id, prompt) => registry.ask(tenant, id, prompt),
    decide: (tenant, id, toolUseId, decision) => registry.decide(tenant, id, toolUseId, decision),
    interrupt: (tenant, id) => registry.interrupt(tenant, id),
    events: (tenant, id, eventOptions) => registry.events(tenant, id, eventOptions),
    askSlot: (tenant) => registry.askSlot(tenant),
    provider: provider.info,
    limits
  }
  return service
})

/**
 * The sessions service as a layer; needs a `Provider` and an `EventLog`.
 * @since 0.2.0
 */
export const layer = (options?: Options): Layer.Layer<ServerSessions, never, Provider.Provider | EventLog.EventLog> =>
  Layer.effect(ServerSessions, make(options))
