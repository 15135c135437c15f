/**
 * What the handlers of one `Session` entity share: its address, its session (opened once), the
 * ask it runs, and how an ask starts (one at a time, checked and claimed under one gate).
 * @internal
 */
import { Deferred, Effect, Exit, Option, Scope, Semaphore } from "effect"
import { Entity, type Sharding } from "effect/cluster"
import * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import { AskTape } from "./askTape.js"
import * as SessionEntity from "./SessionEntity.js"
import { type Hosted, SessionHost } from "./SessionHost.js"

/**
 * The ask an entity runs now.
 * @internal
 */
export interface Running {
  readonly askId: string
  /** Completed by `Interrupt`. */
  readonly interrupt: Deferred.Deferred<void>
  /** Completed when the ask's stream ended, however. */
  readonly ended: Deferred.Deferred<void>
  /** Its chunks so far, for the callers that follow it. */
  readonly tape: AskTape
  /** Set by `Interrupt`: the ask is being interrupted, and takes no decision any more. */
  cancelled: boolean
  /** The calls `Decide` decided while it ran. */
  readonly decided: Set<string>
}

/**
 * The state of one entity.
 * @internal
 */
export interface EntityState {
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
  /**
   * Held while a handler decides whether to start an ask and claims it: nothing else starts one
   * meanwhile (`Ask` and `Decide` both start asks).
   */
  readonly gate: Semaphore.Semaphore
  /** Completed (and replaced) each time an ask starts: what a follower of a paused ask waits on. */
  started: Deferred.Deferred<void>
  /**
   * Runs `effect` in a fiber of the entity's scope, keeping the entity active (not passivated for
   * idleness) until it ends: an ask that runs with no caller.
   */
  readonly detach: (effect: Effect.Effect<void>) => Effect.Effect<void>
}

/**
 * The state of the entity being started, from its address, the host, the store and its scope.
 * @internal
 */
export const makeEntityState = Effect.gen(function* () {
  const address = yield* Entity.CurrentAddress
  const runnerAddress = yield* Entity.CurrentRunnerAddress
  const key = SessionEntity.keyOf(address.entityId)
  const host = yield* SessionHost
  const store = yield* SessionStore.SessionStore
  const scope = yield* Effect.scope
  const context = yield* Effect.context<Sharding.Sharding | Entity.CurrentAddress>()
  const keepAlive = (enabled: boolean) => Effect.provideContext(Entity.keepAlive(enabled), context)
  // a keep-alive its previous runner left (it died while an ask ran with no caller) holds nothing
  // here: that ask is gone, so the entity may be released when idle
  yield* keepAlive(false)
  let detached = 0
  const state: EntityState = {
    key,
    session: address.entityId,
    runner: `${runnerAddress.host}:${runnerAddress.port}`,
    store,
    hosted: openOnce(Scope.provide(host.open(key), scope)),
    running: undefined,
    gate: Semaphore.makeUnsafe(1),
    started: Deferred.makeUnsafe<void>(),
    detach: (effect) =>
      Effect.asVoid(
        Effect.forkIn(
          Effect.suspend(() => (detached++ === 0 ? keepAlive(true) : Effect.void)).pipe(
            Effect.andThen(effect),
            Effect.ensuring(Effect.suspend(() => (--detached === 0 ? keepAlive(false) : Effect.void)))
          ),
          scope
        )
      )
  }
  return state
})

/**
 * Makes `askId` the entity's running ask. Call it only under `gate`, having checked that no ask
 * runs.
 * @internal
 */
export const claim = (entity: EntityState, askId: string): Running => {
  const running: Running = {
    askId,
    interrupt: Deferred.makeUnsafe<void>(),
    ended: Deferred.makeUnsafe<void>(),
    tape: new AskTape(),
    cancelled: false,
    decided: new Set()
  }
  entity.running = running
  const started = entity.started
  entity.started = Deferred.makeUnsafe<void>()
  Deferred.doneUnsafe(started, Exit.void)
  return running
}

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
