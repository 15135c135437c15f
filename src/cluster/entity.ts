/**
 * The handlers of the `Session` entity on a runner.
 *
 * The entity opens its session (`SessionHost.open`) on the first call that needs it, in the
 * entity's own scope: when the entity is passivated (idle for `maxIdleTime`) or its shard moves,
 * the scope closes and the session's resources (its DuckDB) are released. A failed open is not
 * kept: the next call tries again.
 *
 * `Ask` and `Put` run one at a time (the entity's default); `Interrupt` and `History` are
 * `Rpc.fork`ed, so they run while an ask does.
 *
 * An `Ask` whose id already has an event log in the store is never run again: the cluster re-sends
 * a streaming call whose runner died to the shard's next owner with the same payload. Its stored
 * events are replayed (the caller drops the ones it saw, by id), then its stored end: a completed
 * ask ends with `Done`, an ask cut off in flight with `AskInterrupted`.
 *
 * @internal
 */
import { Deferred, Duration, Effect, Exit, type Layer, Option, Schema, Scope, Semaphore, Stream } from "effect"
import * as Arr from "effect/Array"
import { Entity, type Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"
import * as Usage from "../core/Usage.js"
import * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import * as SessionEntity from "./SessionEntity.js"
import { type Hosted, SessionHost, usageSince } from "./SessionHost.js"

/** The ask an entity runs now. */
interface Running {
  readonly askId: string
  /** Completed by `Interrupt`. */
  readonly interrupt: Deferred.Deferred<void>
  /** Completed when the ask's stream ended, however. */
  readonly ended: Deferred.Deferred<void>
}

/**
 * The entity's handlers as a layer (registers the entity with `Sharding`).
 * @internal
 */
export const layer = (options: {
  readonly maxIdleTime: Duration.Input
}): Layer.Layer<never, never, SessionHost | SessionStore.SessionStore | Sharding.Sharding> =>
  SessionEntity.Session.toLayer(handlers, {
    maxIdleTime: options.maxIdleTime,
    // a defect fails its own call; it does not restart the session and replay its calls
    disableFatalDefects: true
  })

/**
 * The handlers of one entity, built each time it starts on a runner: at its first call, and again
 * after it was passivated or its shard moved.
 */
const handlers = Effect.gen(function* () {
  const entity = yield* makeEntityState
  return SessionEntity.Session.of({
    Ask: ({ payload }) => ask(entity, payload.askId, payload.prompt),
    Interrupt: () => Rpc.fork(interrupt(entity)),
    History: () => Rpc.fork(history(entity)),
    Put: ({ payload }) => put(entity, payload)
  })
})

/** What the handlers of one entity share. */
interface EntityState {
  readonly key: SessionStore.SessionKey
  /** The entity's id (the `session` of a `Done`). */
  readonly session: string
  /** The address of the runner the entity lives on, `host:port`. */
  readonly runner: string
  readonly store: SessionStore.Service
  /** The entity's session, opened in the entity's scope by the first call that needs it. */
  readonly hosted: Effect.Effect<Hosted, StoreError>
  /** The ask it runs now. */
  running: Running | undefined
}

/** The state of the entity being started, from its address, the host, the store and its scope. */
const makeEntityState = Effect.gen(function* () {
  const address = yield* Entity.CurrentAddress
  const runnerAddress = yield* Entity.CurrentRunnerAddress
  const key = SessionEntity.keyOf(address.entityId)
  const host = yield* SessionHost
  const store = yield* SessionStore.SessionStore
  const scope = yield* Effect.scope
  const state: EntityState = {
    key,
    session: address.entityId,
    runner: `${runnerAddress.host}:${runnerAddress.port}`,
    store,
    hosted: openOnce(Scope.provide(host.open(key), scope)),
    running: undefined
  }
  return state
})

/** `Ask`: an ask whose id already has an event log is replayed from it; a new one runs. */
const ask = (
  entity: EntityState,
  askId: string,
  prompt: string
): Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const session = yield* entity.hosted
      const previous = yield* entity.store
        .readEvents(entity.key, askId)
        .pipe(Effect.catchIf(isNotFound, () => Effect.succeed(undefined)))
      if (previous !== undefined) {
        return replayAsk(entity.store, entity.key, { askId, runner: entity.runner, session: entity.session }, previous)
      }
      return yield* run(entity, session, askId, prompt)
    })
  )

/**
 * Runs a new ask as the entity's running one (so `Interrupt` can stop it): its events, then its
 * `Done`, interrupted when it was stopped before its last event.
 */
const run = (entity: EntityState, session: Hosted, askId: string, prompt: string) =>
  Effect.gen(function* () {
    const current: Running = {
      askId,
      interrupt: yield* Deferred.make<void>(),
      ended: yield* Deferred.make<void>()
    }
    entity.running = current
    const usageBefore = yield* session.usage
    // an interrupt that comes after the ask's last event does not make it interrupted
    let finished = false
    const done = Effect.gen(function* () {
      const status: SessionEntity.DoneStatus = finished ? "completed" : "interrupted"
      const usage = usageSince(yield* session.usage, usageBefore)
      return { _tag: "Done", askId, status, usage, runner: entity.runner, session: entity.session } as const
    })
    return session.ask(askId, prompt).pipe(
      Stream.map((logged): SessionEntity.AskChunk => ({ _tag: "Event", id: logged.id, event: logged.event })),
      Stream.concat(
        Stream.fromEffectDrain(
          Effect.sync(() => {
            finished = true
          })
        )
      ),
      Stream.interruptWhen(Deferred.await(current.interrupt)),
      Stream.concat(Stream.fromEffect(done)),
      Stream.ensuring(
        Effect.suspend(() => {
          if (entity.running === current) entity.running = undefined
          return Deferred.succeed(current.ended, undefined)
        })
      )
    )
  })

/** `Interrupt`: stops the running ask and waits until it ended; its id, or `null` when none ran. */
const interrupt = (entity: EntityState): Effect.Effect<string | null> =>
  Effect.suspend(() => {
    const current = entity.running
    if (current === undefined) return Effect.succeed(null)
    return Deferred.succeed(current.interrupt, undefined).pipe(
      Effect.andThen(Deferred.await(current.ended)),
      Effect.as(current.askId)
    )
  })

/** `History`: the session's conversation and usage, where it runs, and its running ask. */
const history = (entity: EntityState): Effect.Effect<SessionEntity.HistoryReply, StoreError> =>
  Effect.gen(function* () {
    const session = yield* entity.hosted
    const history = yield* session.history
    const usage = yield* session.usage
    const askId = entity.running?.askId
    return { history, usage, runner: entity.runner, ...(askId === undefined ? {} : { running: askId }) }
  })

/** `Put`: stores a JSON value in the session under a handle name; the name it got. */
const put = (entity: EntityState, payload: Rpc.Payload<typeof SessionEntity.Put>) =>
  Effect.flatMap(entity.hosted, (session) =>
    session.put(payload.name, payload.value, {
      description: payload.description,
      overwrite: payload.overwrite
    })
  )

const isNotFound = (error: StoreError): boolean => error.reason === "NotFound"

/** Runs `open` once it succeeds; a failure is returned to its caller and the next call tries again. */
const openOnce = <A, E>(open: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let opened: Option.Option<A> = Option.none()
  const lock = Semaphore.makeUnsafe(1)
  return Effect.suspend(() =>
    Option.isSome(opened)
      ? Effect.succeed(opened.value)
      : lock.withPermits(1)(
          Effect.suspend(() =>
            Option.isSome(opened)
              ? Effect.succeed(opened.value)
              : Effect.tap(open, (value) =>
                  Effect.sync(() => {
                    opened = Option.some(value)
                  })
                )
          )
        )
  )
}

const decodeError = Schema.decodeUnknownExit(SessionEntity.AskError)

/**
 * A stored ask replayed: its events, then its end. An ask with no end was cut off by its runner's
 * death: its log is ended as interrupted, and the stream fails with `AskInterrupted`.
 */
const replayAsk = (
  store: SessionStore.Service,
  key: SessionStore.SessionKey,
  where: { readonly askId: string; readonly runner: string; readonly session: string },
  page: SessionStore.EventsPage
): Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError> => {
  const events = Stream.fromIterable(
    Arr.map(
      page.events,
      (stored): SessionEntity.AskChunk => ({ _tag: "Event", id: stored.id, event: stored.event as never })
    )
  )
  const end = page.end
  if (end === undefined) {
    const error = new SessionEntity.AskInterrupted({
      askId: where.askId,
      tenant: key.tenant,
      sessionId: key.id,
      message:
        `Ask "${where.askId}" was cut off: the runner that ran it stopped. The session kept every step ` +
        "committed before that (read its history); ask again to go on."
    })
    const record = store.endAsk(key, where.askId, {
      status: "interrupted",
      error: Schema.encodeUnknownSync(SessionEntity.AskError)(error) as Schema.Json
    })
    return Stream.concat(
      events,
      Stream.fromEffect(Effect.andThen(Effect.ignore(record, { log: true }), Effect.fail(error)))
    )
  }
  if (end.status === "completed" || (end.status === "interrupted" && end.error === undefined)) {
    const done = {
      _tag: "Done",
      ...where,
      status: end.status,
      usage: Usage.empty
    } as const satisfies SessionEntity.AskDone
    return Stream.concat(events, Stream.succeed(done))
  }
  const decoded = decodeError(end.error)
  return Stream.concat(events, Exit.isSuccess(decoded) ? Stream.fail(decoded.value) : Stream.die(end.error))
}

/** The idle time after which a session's entity is passivated by default. */
export const defaultMaxIdleTime = Duration.minutes(5)
