/**
 * The state behind `ServerSessions`: each tenant's sessions (each in a scope of its own, with a
 * directory for its uploads), the ask each runs, and the tenants' ask slots.
 * @internal
 */
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { Agent, Provider, type Usage } from "../index.js"
import { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import { askOutcome } from "./askOutcome.js"
import { AskSlots } from "./askSlots.js"
import * as EventLog from "./EventLog.js"
import type * as ServerEvent from "./ServerEvent.js"
import type { AcceptedAsk, Options, ServerSession } from "./ServerSessions.js"
import type { Limits } from "./Tenancy.js"

/** The ask a session runs: its id, the log id of its `ask_start`, its fiber. */
interface Running {
  readonly askId: string
  startId: number
  fiber: Fiber.Fiber<void> | undefined
}

/** A session as the registry holds it. */
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

const notFound = (id: string) =>
  new SessionNotFound({
    session_id: id,
    message: `No session ${id}: it was deleted, or never existed for this token. Create one with POST /v1/sessions.`
  })

const tooManyAsks = (limit: number) =>
  new TooManyRequests({
    limit,
    message: `This token is running ${limit} asks, its limit; wait for one to end or interrupt one.`
  })

const expired = (id: string, after: number, oldest: number) =>
  new EventLog.EventsExpired({
    after,
    oldest,
    message:
      `The events after id ${after} are no longer kept (the oldest kept is ${oldest}). ` +
      `Read the session's history (GET /v1/sessions/${id}/history), or resume from a newer id.`
  })

/**
 * The sessions of every tenant.
 * @internal
 */
export class Registry {
  private readonly byTenant = new Map<string, Map<string, Held>>()
  /** Sessions being made, per tenant: they count against the limit before they are held. */
  private readonly making = new Map<string, number>()
  private readonly slots: AskSlots

  constructor(
    private readonly deps: {
      readonly provider: Provider.Service
      readonly log: EventLog.Service
      readonly limits: Limits
      /** Where session directories go. */
      readonly root: string
      /** The scope every session's scope is forked from. */
      readonly scope: Scope.Scope
      readonly system: string | undefined
      readonly agent: Options["agent"]
    }
  ) {
    this.slots = new AskSlots(deps.limits.maxConcurrentAsks)
  }

  find(tenant: string, id: string): Effect.Effect<Held, SessionNotFound> {
    const held = this.byTenant.get(tenant)?.get(id)
    return held === undefined ? Effect.fail(notFound(id)) : Effect.succeed(held)
  }

  list(tenant: string): ReadonlyArray<ServerSession> {
    return [...(this.byTenant.get(tenant)?.values() ?? [])]
  }

  // lifecycle

  create(tenant: string, system: string | undefined): Effect.Effect<ServerSession, TooManyRequests> {
    return Effect.suspend(() => {
      if (!this.reserve(tenant)) {
        const limit = this.deps.limits.maxSessions
        return Effect.fail(
          new TooManyRequests({
            limit,
            message: `This token already holds ${limit} sessions, its limit; delete one first.`
          })
        )
      }
      // uninterruptible: a session half made (its scope forked, its directory made) is never left behind
      return Effect.ensuring(
        Effect.uninterruptible(this.open(tenant, system ?? this.deps.system)),
        Effect.sync(() => this.unreserve(tenant))
      )
    })
  }

  private reserve(tenant: string): boolean {
    const pending = this.making.get(tenant) ?? 0
    if ((this.byTenant.get(tenant)?.size ?? 0) + pending >= this.deps.limits.maxSessions) return false
    this.making.set(tenant, pending + 1)
    return true
  }

  private unreserve(tenant: string): void {
    const pending = (this.making.get(tenant) ?? 1) - 1
    if (pending <= 0) this.making.delete(tenant)
    else this.making.set(tenant, pending)
  }

  /** Makes a session: its agent, its scope, its directory, the agent session in that scope. */
  private open(tenant: string, system: string | undefined): Effect.Effect<Held> {
    const deps = this.deps
    return Effect.gen({ self: this }, function* () {
      const agent = yield* Agent.make({ ...deps.agent, system }).pipe(
        Effect.provideService(Provider.Provider, deps.provider),
        Effect.orDie
      )
      const id = newId("sess")
      const scope = yield* Scope.fork(deps.scope, "sequential")
      const directory = Path.join(deps.root, id)
      yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
      yield* Scope.addFinalizer(
        scope,
        Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
      )
      // released with the scope whether or not the agent makes sessions scoped resources
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
      const mine = this.byTenant.get(tenant) ?? new Map<string, Held>()
      this.byTenant.set(tenant, mine)
      mine.set(id, held)
      return held
    })
  }

  remove(tenant: string, id: string): Effect.Effect<void, SessionNotFound> {
    return Effect.flatMap(this.find(tenant, id), (held) => {
      this.byTenant.get(tenant)?.delete(id)
      return this.release(held)
    })
  }

  /** Closes a session's scope (interrupting its ask, which writes its `ask_end`), then drops its events. */
  private release(held: Held): Effect.Effect<void> {
    return Effect.andThen(Scope.close(held.scope, Exit.void), this.deps.log.remove(held.id)).pipe(
      Effect.uninterruptible
    )
  }

  /** Releases every session (at shutdown). */
  get releaseAll(): Effect.Effect<void> {
    return Effect.forEach(
      [...this.byTenant.values()].flatMap((sessions) => [...sessions.values()]),
      (held) => this.release(held),
      { concurrency: "unbounded", discard: true }
    )
  }

  // asks

  ask(
    tenant: string,
    id: string,
    prompt: string
  ): Effect.Effect<AcceptedAsk, SessionNotFound | AskInProgress | TooManyRequests> {
    return Effect.flatMap(this.find(tenant, id), (held) =>
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
        if (!this.slots.tryTake(tenant)) return Effect.fail(tooManyAsks(this.deps.limits.maxConcurrentAsks))
        const running: Running = { askId: newId("ask"), startId: 0, fiber: undefined }
        held.running = running
        return Effect.gen({ self: this }, function* () {
          running.startId = yield* this.deps.log.append(held.id, [{ type: "ask_start", ask_id: running.askId, prompt }])
          // a fiber of the session's scope, not of the request: it runs on without a client
          running.fiber = yield* this.run(held, running, prompt).pipe(Effect.forkIn(held.scope))
          return { askId: running.askId, startId: running.startId }
        }).pipe(Effect.uninterruptible)
      })
    )
  }

  /** Runs an ask, writing its events to the log and, however it ends, its `ask_end`. */
  private run(held: Held, running: Running, prompt: string): Effect.Effect<void> {
    const log = this.deps.log
    return Effect.gen(function* () {
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
          this.slots.release(held.tenant)
        })
      )
    )
  }

  /** Interrupts the running ask and waits for its end; the id of the ask it interrupted. */
  interrupt(tenant: string, id: string): Effect.Effect<string | undefined, SessionNotFound> {
    return Effect.flatMap(this.find(tenant, id), (held) => {
      const running = held.running
      if (running?.fiber === undefined) return Effect.succeed(undefined)
      return Effect.as(Fiber.interrupt(running.fiber), running.askId)
    })
  }

  /** Holds one of the tenant's ask slots for the scope's life. */
  askSlot(tenant: string): Effect.Effect<void, TooManyRequests, Scope.Scope> {
    return Effect.flatMap(this.slots.scoped(tenant), (taken) =>
      taken ? Effect.void : Effect.fail(tooManyAsks(this.deps.limits.maxConcurrentAsks))
    )
  }

  // events

  /**
   * The session's events after `after` (by default from the running ask's `ask_start`, or from
   * now), then live ones: to the end of the first ask that ends, or with `follow` until the
   * session is deleted.
   */
  events(
    tenant: string,
    id: string,
    options: { readonly after?: number | undefined; readonly follow?: boolean | undefined }
  ): Effect.Effect<Stream.Stream<EventLog.Entry, EventLog.EventsExpired>, SessionNotFound | EventLog.EventsExpired> {
    const log = this.deps.log
    return Effect.flatMap(this.find(tenant, id), (held) =>
      Effect.gen(function* () {
        const bounds = yield* log.bounds(held.id)
        const running = held.running
        const after = options.after ?? (running === undefined ? bounds.last : running.startId - 1)
        if (after < bounds.first - 1) return yield* expired(id, after, bounds.first)
        const all = log.subscribe(held.id, after)
        if (options.follow === true) return all
        // caught up and nothing running: nothing to wait for
        if (after >= bounds.last && running === undefined) return Stream.empty
        return all.pipe(Stream.takeUntil((entry) => entry.event.type === "ask_end"))
      })
    )
  }
}
