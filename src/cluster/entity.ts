/**
 * The handlers of the `Session` entity on a runner.
 *
 * The entity opens its session (`SessionHost.open`) on the first call that needs it, in the
 * entity's own scope: when the entity is passivated (idle for `maxIdleTime`) or its shard moves,
 * the scope closes and the session's resources (its DuckDB) are released. A failed open is not
 * kept: the next call tries again.
 *
 * `Ask` and `Put` run one at a time (the entity's default); `Interrupt`, `History`, `Approvals`,
 * `Decide` and `Events` are `Rpc.fork`ed, so they run while an ask does. An ask started by a
 * decision runs with no caller, in a fiber of the entity's scope that keeps the entity active.
 *
 * An `Ask` whose id already has an event log in the store is never run again: the cluster re-sends
 * a streaming call whose runner died to the shard's next owner with the same payload. Its stored
 * events are replayed (the caller drops the ones it saw, by id), then its stored end: a completed
 * ask ends with `Done`, an ask cut off in flight with `AskInterrupted`, except one cut off while a
 * call waited for approval, which goes on (see `entityAsk.ts`).
 *
 * @internal
 */
import { Deferred, Duration, Effect, type Layer } from "effect"
import type { Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"
import type * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import { approvals, decide } from "./entityApproval.js"
import { ask, events } from "./entityAsk.js"
import { type EntityState, makeEntityState } from "./entityState.js"
import * as SessionEntity from "./SessionEntity.js"
import type { SessionHost } from "./SessionHost.js"

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
    Put: ({ payload }) => put(entity, payload),
    Approvals: () => Rpc.fork(approvals(entity)),
    Decide: ({ payload }) => Rpc.fork(decide(entity, payload.toolUseId, payload.decision)),
    Events: ({ payload }) => Rpc.fork(events(entity, payload.askId, payload.after))
  })
})

/** `Interrupt`: stops the running ask and waits until it ended; its id, or `null` when none ran. */
const interrupt = (entity: EntityState): Effect.Effect<string | null> =>
  Effect.suspend(() => {
    const current = entity.running
    if (current === undefined) return Effect.succeed(null)
    current.cancelled = true
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

/**
 * `Put`: stores a JSON value in the session under a handle name; the name it got. Between asks:
 * after an ask that runs with no caller (one a decision started).
 */
const put = (entity: EntityState, payload: Rpc.Payload<typeof SessionEntity.Put>) =>
  Effect.gen(function* () {
    const session = yield* entity.hosted
    for (let current = entity.running; current !== undefined; current = entity.running) {
      yield* Deferred.await(current.ended)
    }
    return yield* session.put(payload.name, payload.value, {
      description: payload.description,
      overwrite: payload.overwrite
    })
  })

/** The idle time after which a session's entity is passivated by default. */
export const defaultMaxIdleTime = Duration.minutes(5)
