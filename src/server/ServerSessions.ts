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
import { Context, Effect, Layer, Option, type Scope, type Stream } from "effect"
import { type Agent, Provider, type Session, SessionStore } from "../index.js"
import type { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import * as EventLog from "./EventLog.js"
import { Registry } from "./registry.js"
import { defaultLimits, type Limits } from "./Tenancy.js"

// models

/**
 * A session held by the server.
 * @since 0.2.0
 */
export interface ServerSession {
  readonly id: string
  readonly tenant: string
  readonly createdAt: Date
  readonly system: string | undefined
  readonly session: Session.Session
  /** Where its uploads are written (removed with the session). */
  readonly directory: string
  /** The id of the ask running now. */
  readonly runningAsk: () => string | undefined
  /** Its event log stream (`EventLog.sessionStream(tenant, id)`). */
  readonly stream: string
  /**
   * Where an uploaded file (written for this purpose) is kept: with a session store, moved into
   * the session's data there (so the handle outlives a restart); the path to put.
   */
  readonly keepUpload: (file: string, format: string) => Effect.Effect<string>
}

/**
 * An ask the server accepted: its id and the log id of its `ask_start`.
 * @since 0.2.0
 */
export interface AcceptedAsk {
  readonly askId: string
  readonly startId: number
}

/**
 * The sessions service.
 * @since 0.2.0
 */
export interface Service {
  readonly create: (
    tenant: string,
    options?: { readonly system?: string | undefined }
  ) => Effect.Effect<ServerSession, TooManyRequests>
  readonly get: (tenant: string, id: string) => Effect.Effect<ServerSession, SessionNotFound>
  readonly list: (tenant: string) => Effect.Effect<ReadonlyArray<ServerSession>>
  /** Interrupts its ask, releases its agent session and removes its uploads and its events. */
  readonly remove: (tenant: string, id: string) => Effect.Effect<void, SessionNotFound>
  /** Starts an ask that runs on in the session's scope; its events go to the log. */
  readonly ask: (
    tenant: string,
    id: string,
    prompt: string
  ) => Effect.Effect<AcceptedAsk, SessionNotFound | AskInProgress | TooManyRequests>
  /** Interrupts the running ask and waits until it ended; the id of the ask it interrupted. */
  readonly interrupt: (tenant: string, id: string) => Effect.Effect<string | undefined, SessionNotFound>
  /**
   * The session's events after `after` (by default from the running ask's start, or from now),
   * then live ones: until the end of the first ask that ends, or with `follow` until the session
   * is deleted.
   */
  readonly events: (
    tenant: string,
    id: string,
    options: { readonly after?: number | undefined; readonly follow?: boolean | undefined }
  ) => Effect.Effect<Stream.Stream<EventLog.Entry, EventLog.EventsExpired>, SessionNotFound | EventLog.EventsExpired>
  /** Holds one of the tenant's ask slots for the scope's life (`/v1/messages` asks count too). */
  readonly askSlot: (tenant: string) => Effect.Effect<void, TooManyRequests, Scope.Scope>
  /** The provider the sessions use. */
  readonly provider: Provider.Info
  readonly limits: Limits
}

/**
 * The server's sessions.
 * @since 0.2.0
 */
export class ServerSessions extends Context.Service<ServerSessions, Service>()("data-harness/server/ServerSessions") {}

/**
 * Options of {@link layer}.
 * @since 0.2.0
 */
export interface Options {
  /** The system prompt of a session created without one. */
  readonly system?: string | undefined
  /** The agent every session runs (tools, `maxTurns`, timeouts, retries); `system` comes per session. */
  readonly agent?: Omit<Agent.Options<never>, "system"> | undefined
  readonly limits?: Partial<Limits> | undefined
  /** Where session directories are made (default: a new directory under the OS temp dir, removed at shutdown). */
  readonly directory?: string | undefined
}

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
