/**
 * The state behind `ServerSessions`: each tenant's sessions (each in a scope of its own, with a
 * directory for its uploads), the ask each runs, and the tenants' ask slots.
 * @internal
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { Agent, Approval, Provider, type SessionStore, type StreamEvent } from "../index.js"
import type { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import { askOutcome } from "./askOutcome.js"
import { AskSlots } from "./askSlots.js"
import type * as EventLog from "./EventLog.js"
import { sessionStream } from "./EventLog.js"
import {
  cutOff,
  expired,
  inProgress,
  newId,
  notFound,
  tooManyAsks,
  tooManySessions,
  usageOf
} from "./registryReplies.js"
import type * as ServerEvent from "./ServerEvent.js"
import type { AcceptedAsk, Options, ServerSession } from "./serverSessionsService.js"
import type { Limits } from "./Tenancy.js"

/** The ask a session runs: its id, the log id of its `ask_start`, its fiber. */
interface Running {
  readonly askId: string
  startId: number
  fiber: Fiber.Fiber<void> | undefined
  /** Interrupted by a client (`interrupt`, `remove`), not by the server stopping. */
  cancelled?: boolean
  /** Whether it holds one of its tenant's ask slots (an ask continued at load does not). */
  readonly slot: boolean
}

/** A session as the registry holds it. */
interface Held extends ServerSession {
  readonly scope: Scope.Closeable
  running: Running | undefined
}

/**
 * The sessions of every tenant.
 * @internal
 */
export class Registry {
  private readonly byTenant = new Map<string, Map<string, Held>>()
  /** Sessions being made, per tenant: they count against the limit before they are held. */
  private readonly making = new Map<string, number>()
  /** Sessions being loaded from the store, by stream name: one load however many ask for it. */
  private readonly loading = new Map<string, Effect.Effect<Held, SessionNotFound>>()
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
      /** Where sessions are kept across restarts (none: in memory only). */
      readonly store: SessionStore.Service | undefined
    }
  ) {
    this.slots = new AskSlots(deps.limits.maxConcurrentAsks)
  }

  /** The session: held, or (with a store) loaded from the store, once however many ask at once. */
  find(tenant: string, id: string): Effect.Effect<Held, SessionNotFound> {
    return Effect.suspend(() => {
      const held = this.byTenant.get(tenant)?.get(id)
      if (held !== undefined) return Effect.succeed(held)
      const store = this.deps.store
      if (store === undefined) return Effect.fail(notFound(id))
      const key = sessionStream(tenant, id)
      let loading = this.loading.get(key)
      if (loading === undefined) {
        loading = Effect.runSync(Effect.cached(this.load(tenant, id)))
        this.loading.set(key, loading)
      }
      return loading.pipe(Effect.ensuring(Effect.sync(() => this.loading.delete(key))))
    })
  }

  /** The tenant's sessions: held ones, or with a store every stored one (loaded). */
  list(tenant: string): Effect.Effect<ReadonlyArray<ServerSession>> {
    const store = this.deps.store
    if (store === undefined) return Effect.sync(() => [...(this.byTenant.get(tenant)?.values() ?? [])])
    return Effect.flatMap(Effect.orDie(store.list(tenant)), (infos) =>
      Effect.map(
        Effect.forEach(infos, (info) => Effect.option(this.find(tenant, info.id)), { concurrency: 8 }),
        (found) => found.flatMap((held) => (held._tag === "Some" ? [held.value] : []))
      )
    )
  }

  // lifecycle

  create(tenant: string, system: string | undefined): Effect.Effect<ServerSession, TooManyRequests> {
    const store = this.deps.store
    const counted =
      store === undefined
        ? Effect.sync(() => this.byTenant.get(tenant)?.size ?? 0)
        : Effect.map(Effect.orDie(store.list(tenant)), (infos) => infos.length)
    return Effect.flatMap(counted, (count) => {
      if (!this.reserve(tenant, count)) {
        return Effect.fail(tooManySessions(this.deps.limits.maxSessions))
      }
      // uninterruptible: a session half made (its scope forked, its directory made) is never left behind
      return Effect.ensuring(
        Effect.uninterruptible(this.open(tenant, system ?? this.deps.system)),
        Effect.sync(() => this.unreserve(tenant))
      )
    })
  }

  private reserve(tenant: string, count: number): boolean {
    const pending = this.making.get(tenant) ?? 0
    if (count + pending >= this.deps.limits.maxSessions) return false
    this.making.set(tenant, pending + 1)
    return true
  }

  private unreserve(tenant: string): void {
    const pending = (this.making.get(tenant) ?? 1) - 1
    if (pending <= 0) this.making.delete(tenant)
    else this.making.set(tenant, pending)
  }

  /** Makes a session: its agent, its scope, its directory, the agent session in that scope (stored with a store). */
  private open(tenant: string, system: string | undefined): Effect.Effect<Held> {
    const id = newId("sess")
    return this.hold(tenant, id, system, { id, tenant, create: true, metadata: system === undefined ? {} : { system } })
  }

  /** Loads a stored session (after a restart); an ask its last process left open is ended. */
  private load(tenant: string, id: string): Effect.Effect<Held, SessionNotFound> {
    const store = this.deps.store!
    return Effect.gen({ self: this }, function* () {
      const stored = yield* store
        .load({ tenant, id })
        .pipe(
          Effect.catchTag("StoreError", (error) =>
            error.reason === "NotFound" || error.reason === "InvalidInput"
              ? Effect.fail(notFound(id))
              : Effect.die(error)
          )
        )
      const system = typeof stored.metadata?.system === "string" ? stored.metadata.system : undefined
      // uninterruptible: a session held is never left with an ask neither going on nor ended
      return yield* Effect.uninterruptible(
        Effect.tap(this.hold(tenant, id, system, { id, tenant }, stored.createdAt), (held) => this.reopen(held))
      )
    })
  }

  /**
   * A loaded session's ask that its last process left open: one stopped while calls waited for
   * approval goes on where it paused (it waits for their decision, holding no ask slot); any
   * other ended there.
   */
  private reopen(held: Held): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const open = yield* this.deps.log.openAsk(held.stream)
      if (open === undefined) return
      if ((yield* held.session.approvals).length > 0) yield* this.continueAsk(held, open)
      else yield* this.deps.log.append(held.stream, [cutOff(open)])
    })
  }

  /** Holds a session: its agent, its scope, its directory, the agent session (found or made) in that scope. */
  private hold(
    tenant: string,
    id: string,
    system: string | undefined,
    find: Agent.SessionOptions,
    createdAt?: number
  ): Effect.Effect<Held> {
    const deps = this.deps
    return Effect.gen({ self: this }, function* () {
      const agent = yield* Agent.make({ ...deps.agent, system, store: deps.store ?? false }).pipe(
        Effect.provideService(Provider.Provider, deps.provider),
        Effect.orDie
      )
      const scope = yield* Scope.fork(deps.scope, "sequential")
      const directory = Path.join(deps.root, id)
      yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
      yield* Scope.addFinalizer(
        scope,
        Effect.promise(() => Fs.rm(directory, { recursive: true, force: true }))
      )
      // released with the scope whether or not the agent makes sessions scoped resources
      const session = yield* agent.session(find).pipe(
        Effect.provideService(Scope.Scope, scope),
        Effect.onError(() => Scope.close(scope, Exit.void)),
        Effect.orDie
      )
      yield* Scope.addFinalizer(scope, session.close)
      const store = deps.store
      const held: Held = {
        id,
        tenant,
        stream: sessionStream(tenant, id),
        createdAt: new Date(createdAt ?? Date.now()),
        system,
        session,
        directory,
        scope,
        running: undefined,
        runningAsk: () => held.running?.askId,
        keepUpload: (file, format) =>
          store === undefined
            ? Effect.succeed(file)
            : store.importData({ tenant, id }, file, { format, move: true }).pipe(
                Effect.flatMap((ref) => store.dataPath({ tenant, id }, ref)),
                Effect.orDie
              )
      }
      // looked up only now: another create of the same tenant may have made the map meanwhile
      const mine = this.byTenant.get(tenant) ?? new Map<string, Held>()
      this.byTenant.set(tenant, mine)
      mine.set(id, held)
      return held
    })
  }

  /** Releases the session (see {@link release}) and deletes it from the store. */
  remove(tenant: string, id: string): Effect.Effect<void, SessionNotFound> {
    return Effect.flatMap(this.find(tenant, id), (held) => {
      this.byTenant.get(tenant)?.delete(id)
      if (held.running !== undefined) held.running.cancelled = true
      const store = this.deps.store
      const deleted = store === undefined ? Effect.void : Effect.orDie(store.delete({ tenant, id }))
      return Effect.andThen(this.release(held), deleted)
    })
  }

  /** Closes a session's scope (interrupting its ask, which writes its `ask_end`), then drops its events from memory. */
  private release(held: Held): Effect.Effect<void> {
    return Effect.andThen(Scope.close(held.scope, Exit.void), this.deps.log.remove(held.stream)).pipe(
      Effect.uninterruptible
    )
  }

  /**
   * Releases every session (at shutdown). An ask whose tool calls wait for approval is not ended:
   * with a store its pause is durable, and it goes on when its session is loaded again.
   */
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
        if (held.running !== undefined) return Effect.fail(inProgress(id, held.running.askId))
        if (!this.slots.tryTake(tenant)) return Effect.fail(tooManyAsks(this.deps.limits.maxConcurrentAsks))
        return this.start(held, { prompt }, held.session.askStream(prompt))
      })
    )
  }

  /**
   * Decides a call waiting for approval. When no ask runs (the one that paused ended, or the
   * server restarted since), the decision starts an ask that resumes it (`session.resume`); the id
   * of the ask that goes on with the call.
   */
  decide(
    tenant: string,
    id: string,
    toolUseId: string,
    decision: Approval.Decision
  ): Effect.Effect<string, SessionNotFound | Approval.ApprovalNotPending | TooManyRequests> {
    return Effect.flatMap(this.find(tenant, id), (held) =>
      Effect.suspend((): Effect.Effect<string, SessionNotFound | Approval.ApprovalNotPending | TooManyRequests> => {
        const { session } = held
        // a store that cannot keep the decision is the server's failure (500); the call still waits
        const decided = Approval.decide(session, toolUseId, decision).pipe(
          Effect.catchTag("StoreError", (error) => Effect.die(error))
        )
        const running = held.running
        // an ask being interrupted would not take the decision: decide once it has ended
        if (running?.cancelled === true && running.fiber !== undefined) {
          return Effect.andThen(Fiber.await(running.fiber), this.decide(tenant, id, toolUseId, decision))
        }
        // read first: once decided, the ask may run to its end before this answers
        if (running !== undefined) return Effect.as(decided, running.askId)
        return Effect.flatMap(
          session.approvals,
          (waiting): Effect.Effect<string, Approval.ApprovalNotPending | TooManyRequests> => {
            // a call that does not wait is ApprovalNotPending, whatever the slots
            if (!waiting.some((call) => call.toolUseId === toolUseId)) {
              return Effect.andThen(decided, Effect.die("a call that did not wait was decided"))
            }
            if (!this.slots.tryTake(tenant)) return Effect.fail(tooManyAsks(this.deps.limits.maxConcurrentAsks))
            return decided.pipe(
              Effect.tapError(() => Effect.sync(() => this.slots.release(tenant))),
              Effect.andThen(
                Effect.suspend(() => this.start(held, { prompt: "", resumed: true }, session.resumeStream()))
              ),
              Effect.map((accepted) => accepted.askId)
            )
          }
        )
      })
    )
  }

  /**
   * Starts an ask (its slot taken): the session runs it from now (`held.running`), its `ask_start`
   * is logged, then its events in a fiber of the session's scope.
   */
  private start(
    held: Held,
    start: Omit<ServerEvent.AskStart, "type" | "ask_id">,
    events: Stream.Stream<StreamEvent.StreamEvent, unknown>
  ): Effect.Effect<AcceptedAsk> {
    const running: Running = { askId: newId("ask"), startId: 0, fiber: undefined, slot: true }
    held.running = running
    return Effect.gen({ self: this }, function* () {
      running.startId = yield* this.deps.log.append(held.stream, [
        { type: "ask_start", ask_id: running.askId, ...start }
      ])
      // a fiber of the session's scope, not of the request: it runs on without a client
      running.fiber = yield* this.run(held, running, events).pipe(Effect.forkIn(held.scope))
      return { askId: running.askId, startId: running.startId }
    }).pipe(Effect.uninterruptible)
  }

  /**
   * Goes on with ask `askId` of a loaded session, which stopped while calls waited for approval.
   * It holds no ask slot: it waits for a person, and a restart must not fill the tenant's slots.
   */
  private continueAsk(held: Held, askId: string): Effect.Effect<void> {
    const running: Running = { askId, startId: 0, fiber: undefined, slot: false }
    held.running = running
    return Effect.gen({ self: this }, function* () {
      const bounds = yield* this.deps.log.bounds(held.stream)
      const kept = yield* Effect.orElseSucceed(this.deps.log.read(held.stream, bounds.first - 1), () => [])
      const start = kept.find((entry) => entry.event.type === "ask_start" && entry.event.ask_id === askId)
      running.startId = start?.id ?? bounds.last + 1
      running.fiber = yield* this.run(held, running, held.session.resumeStream()).pipe(Effect.forkIn(held.scope))
    }).pipe(Effect.uninterruptible)
  }

  /**
   * Runs an ask, writing its events to the log and, however it ends, its `ask_end`; except when
   * the server stops while its calls wait for approval (with a store, it goes on after the restart).
   */
  private run(
    held: Held,
    running: Running,
    events: Stream.Stream<StreamEvent.StreamEvent, unknown>
  ): Effect.Effect<void> {
    const log = this.deps.log
    return Effect.gen(function* () {
      const before = yield* held.session.usage
      return yield* events.pipe(
        Stream.runForEachArray((events) => log.append(held.stream, events)),
        Effect.onExit((exit) =>
          Effect.gen(function* () {
            // interrupted by the server stopping, its calls still waiting: it goes on after the restart
            const stopped = Exit.hasInterrupts(exit) && running.cancelled !== true
            if (stopped && (yield* held.session.approvals).length > 0) return
            const outcome = askOutcome(exit)
            if (outcome.error?._tag === "InternalError") yield* Effect.logError("ask failed", exit)
            const end: ServerEvent.AskEnd = {
              type: "ask_end",
              ask_id: running.askId,
              usage: usageOf(before, yield* held.session.usage),
              ...outcome
            }
            yield* log.append(held.stream, [end])
          })
        )
      )
    }).pipe(
      Effect.ignore,
      Effect.ensuring(
        Effect.sync(() => {
          if (held.running === running) held.running = undefined
          if (running.slot) this.slots.release(held.tenant)
        })
      )
    )
  }

  /** Interrupts the running ask and waits for its end; the id of the ask it interrupted. */
  interrupt(tenant: string, id: string): Effect.Effect<string | undefined, SessionNotFound> {
    return Effect.flatMap(this.find(tenant, id), (held) => {
      const running = held.running
      if (running?.fiber === undefined) return Effect.succeed(undefined)
      running.cancelled = true
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
        const bounds = yield* log.bounds(held.stream)
        const running = held.running
        const after = options.after ?? (running === undefined ? bounds.last : running.startId - 1)
        if (after < bounds.first - 1) return yield* expired(id, after, bounds.first)
        const all = log.subscribe(held.stream, after)
        if (options.follow === true) return all
        // caught up and nothing running: nothing to wait for
        if (after >= bounds.last && running === undefined) return Stream.empty
        return all.pipe(Stream.takeUntil((entry) => entry.event.type === "ask_end"))
      })
    )
  }
}
