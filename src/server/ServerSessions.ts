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
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Agent, Provider, type Session, type Usage } from "../index.js"
import { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import { askOutcome } from "./askOutcome.js"
import { AskSlots } from "./askSlots.js"
import * as EventLog from "./EventLog.js"
import type * as ServerEvent from "./ServerEvent.js"
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

// internals

interface Running {
  readonly askId: string
  startId: number
  fiber: Fiber.Fiber<void> | undefined
}

interface Held extends ServerSession {
  readonly scope: Scope.Closeable
  running: Running | undefined
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("base64url")}`

const usageOf = (before: Usage.Usage, after: Usage.Usage): ServerEvent.AskUsage => ({
  input_tokens: after.inputTokens - before.inputTokens,
  output_tokens: after.outputTokens - before.outputTokens,
  cache_read_input_tokens: after.cacheReadTokens - before.cacheReadTokens,
  cache_creation_input_tokens: after.cacheWriteTokens - before.cacheWriteTokens
})

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
  const slots = new AskSlots(limits.maxConcurrentAsks)
  const layerScope = yield* Effect.scope
  const root = options.directory ?? (yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "data-harness-"))))
  if (options.directory === undefined) {
    yield* Effect.addFinalizer(() => Effect.promise(() => Fs.rm(root, { recursive: true, force: true })))
  }
  const byTenant = new Map<string, Map<string, Held>>()
  // closed before the root directory is removed (finalizers run in reverse)
  yield* Effect.addFinalizer(() =>
    Effect.forEach(
      [...byTenant.values()].flatMap((m) => [...m.values()]),
      (held) => release(held),
      {
        concurrency: "unbounded",
        discard: true
      }
    )
  )

  const notFound = (id: string) =>
    new SessionNotFound({
      session_id: id,
      message: `No session ${id}: it was deleted, or never existed for this token. Create one with POST /v1/sessions.`
    })

  const find = (tenant: string, id: string): Effect.Effect<Held, SessionNotFound> => {
    const held = byTenant.get(tenant)?.get(id)
    return held === undefined ? Effect.fail(notFound(id)) : Effect.succeed(held)
  }

  const release = (held: Held) =>
    Effect.andThen(Scope.close(held.scope, Exit.void), log.remove(held.id)).pipe(Effect.uninterruptible)

  /** Sessions being made, per tenant: they count against the limit before they are held. */
  const making = new Map<string, number>()
  const reserve = (tenant: string): boolean => {
    const pending = making.get(tenant) ?? 0
    if ((byTenant.get(tenant)?.size ?? 0) + pending >= limits.maxSessions) return false
    making.set(tenant, pending + 1)
    return true
  }
  const unreserve = (tenant: string) => {
    const pending = (making.get(tenant) ?? 1) - 1
    if (pending <= 0) making.delete(tenant)
    else making.set(tenant, pending)
  }

  const create: Service["create"] = (tenant, createOptions) =>
    Effect.suspend(() => {
      if (!reserve(tenant)) {
        return Effect.fail(
          new TooManyRequests({
            limit: limits.maxSessions,
            message: `This token already holds ${limits.maxSessions} sessions, its limit; delete one first.`
          })
        )
      }
      // uninterruptible: a session half made (its scope forked, its directory made) is never left behind
      return Effect.ensuring(
        Effect.uninterruptible(open(tenant, createOptions?.system)),
        Effect.sync(() => unreserve(tenant))
      )
    })

  const open = (tenant: string, requested: string | undefined) =>
    Effect.gen(function* () {
      const system = requested ?? options.system
      const agent = yield* Agent.make({ ...options.agent, system }).pipe(
        Effect.provideService(Provider.Provider, provider),
        Effect.orDie
      )
      const id = newId("sess")
      const scope = yield* Scope.fork(layerScope, "sequential")
      const directory = Path.join(root, id)
      yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
      yield* Scope.addFinalizer(
        scope,
        Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
      )
      const session = yield* agent.session().pipe(Effect.provideService(Scope.Scope, scope))
      yield* Scope.addFinalizer(scope, session.close)
      const held: Held = {
        id,
        tenant,
        createdAt: new Date(),
        system,
        session,
        directory,
        scope,
        running: undefined,
        runningAsk: () => held.running?.askId
      }
      // looked up only now: another create of the same tenant may have made the map meanwhile
      const mine = byTenant.get(tenant) ?? new Map<string, Held>()
      byTenant.set(tenant, mine)
      mine.set(id, held)
      return held
    })

  const remove: Service["remove"] = (tenant, id) =>
    Effect.flatMap(find(tenant, id), (held) => {
      byTenant.get(tenant)?.delete(id)
      return release(held)
    })

  const runAsk = (held: Held, running: Running, prompt: string) =>
    Effect.gen(function* () {
      const before = yield* held.session.usage
      return yield* held.session.askStream(prompt).pipe(
        Stream.runForEachArray((events) => log.append(held.id, events)),
        Effect.onExit((exit) =>
          Effect.gen(function* () {
            const outcome = askOutcome(exit)
            if (outcome.error?._tag === "InternalError") yield* Effect.logError("ask failed", exit)
            const end: ServerEvent.AskEnd = {
              type: "ask_end",
              ask_id: running.askId,
              usage: usageOf(before, yield* held.session.usage),
              ...outcome
            }
            yield* log.append(held.id, [end])
          })
        )
      )
    }).pipe(
      Effect.ignore,
      Effect.ensuring(
        Effect.sync(() => {
          if (held.running === running) held.running = undefined
          slots.release(held.tenant)
        })
      )
    )

  const ask: Service["ask"] = (tenant, id, prompt) =>
    Effect.flatMap(find(tenant, id), (held) =>
      Effect.suspend((): Effect.Effect<AcceptedAsk, AskInProgress | TooManyRequests> => {
        if (held.running !== undefined) {
          return Effect.fail(
            new AskInProgress({
              ask_id: held.running.askId,
              message:
                `Session ${id} is running ask ${held.running.askId}. Wait for its ask_end ` +
                `(GET /v1/sessions/${id}/events) or interrupt it (POST /v1/sessions/${id}/interrupt).`
            })
          )
        }
        if (!slots.tryTake(tenant)) return Effect.fail(tooManyAsks(limits.maxConcurrentAsks))
        const running: Running = { askId: newId("ask"), startId: 0, fiber: undefined }
        held.running = running
        return Effect.gen(function* () {
          const startId = yield* log.append(held.id, [{ type: "ask_start", ask_id: running.askId, prompt }])
          running.startId = startId
          running.fiber = yield* runAsk(held, running, prompt).pipe(Effect.forkIn(held.scope))
          return { askId: running.askId, startId }
        }).pipe(Effect.uninterruptible)
      })
    )

  const interrupt: Service["interrupt"] = (tenant, id) =>
    Effect.flatMap(find(tenant, id), (held) => {
      const running = held.running
      if (running?.fiber === undefined) return Effect.succeed(undefined)
      return Effect.as(Fiber.interrupt(running.fiber), running.askId)
    })

  const events: Service["events"] = (tenant, id, eventOptions) =>
    Effect.flatMap(find(tenant, id), (held) =>
      Effect.gen(function* () {
        const bounds = yield* log.bounds(held.id)
        const running = held.running
        const after = eventOptions.after ?? (running === undefined ? bounds.last : running.startId - 1)
        if (after < bounds.first - 1) {
          return yield* new EventLog.EventsExpired({
            after,
            oldest: bounds.first,
            message:
              `The events after id ${after} are no longer kept (the oldest kept is ${bounds.first}). ` +
              `Read the session's history (GET /v1/sessions/${id}/history), or resume from a newer id.`
          })
        }
        const all = log.subscribe(held.id, after)
        if (eventOptions.follow === true) return all
        // caught up and nothing running: nothing to wait for
        if (after >= bounds.last && running === undefined) return Stream.empty
        return all.pipe(Stream.takeUntil((entry) => entry.event.type === "ask_end"))
      })
    )

  const service: Service = {
    create,
    get: find,
    list: (tenant) => Effect.sync(() => [...(byTenant.get(tenant)?.values() ?? [])]),
    remove,
    ask,
    interrupt,
    events,
    askSlot: (tenant) =>
      Effect.flatMap(slots.scoped(tenant), (taken) =>
        taken ? Effect.void : Effect.fail(tooManyAsks(limits.maxConcurrentAsks))
      ),
    provider: provider.info,
    limits
  }
  return service
})

const tooManyAsks = (limit: number) =>
  new TooManyRequests({
    limit,
    message: `This token is running ${limit} asks, its limit; wait for one to end or interrupt one.`
  })

/**
 * The sessions service as a layer; needs a `Provider` and an `EventLog`.
 * @since 0.2.0
 */
export const layer = (options?: Options): Layer.Layer<ServerSessions, never, Provider.Provider | EventLog.EventLog> =>
  Layer.effect(ServerSessions, make(options))
