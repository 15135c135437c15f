/**
 * Tool approval on a `Session` entity: `Approvals` lists the calls waiting, `Decide` approves or
 * denies one.
 *
 * A decision goes to the ask that runs, when one does. When none runs (the ask that paused was
 * interrupted, its caller went away, or its runner died and the session was loaded here from the
 * store), the decision starts an ask that resumes it (`session.resumeStream()`), run by the entity
 * with no caller, so the decided call runs whether or not anyone reads the ask. It goes on under
 * the paused ask's own id when that ask's log has no end (its runner died mid-ask: the log goes
 * on, so a caller that reconnects with that id reads the rest), else under a new id. Its events
 * are in the store's ask log and followed live with `Events`.
 * @internal
 */
import { randomUUID } from "node:crypto"
import { Deferred, Effect, Stream } from "effect"
import type * as Approval from "../control/Approval.js"
import type { StoreError } from "../store/StoreError.js"
import { announcedCalls, resumeDecided, run } from "./entityAsk.js"
import { claim, type EntityState } from "./entityState.js"
import type * as SessionEntity from "./SessionEntity.js"
import type { Hosted } from "./SessionHost.js"

/** `Approvals`: the calls waiting, as they cross the network. */
export const approvals = (entity: EntityState): Effect.Effect<Array<SessionEntity.PendingApproval>, StoreError> =>
  Effect.flatMap(entity.hosted, (session) =>
    Effect.map(session.approvals, (waiting) =>
      waiting.map(
        (call): SessionEntity.PendingApproval => ({
          toolUseId: call.toolUseId,
          tool: call.tool,
          input: call.input as SessionEntity.PendingApproval["input"],
          ...(call.reason === undefined ? {} : { reason: call.reason }),
          requestedAt: call.requestedAt
        })
      )
    )
  )

/** `Decide`: decides call `toolUseId`; the id of the ask that goes on with it. */
export const decide = (
  entity: EntityState,
  toolUseId: string,
  decision: SessionEntity.Decision
): Effect.Effect<string, Approval.ApprovalNotPending | StoreError> =>
  Effect.gen(function* () {
    const session = yield* entity.hosted
    for (;;) {
      const current = entity.running
      // an ask being interrupted would not take the decision: decide once it has ended
      if (current?.cancelled === true) {
        yield* Deferred.await(current.ended)
        continue
      }
      if (current !== undefined) {
        yield* session.decide(toolUseId, decision)
        current.decided.add(toolUseId)
        // its caller went away as the decision came: the ask ended without taking it, so go on with it
        if (Deferred.isDoneUnsafe(current.ended)) {
          const resumed = yield* entity.gate.withPermits(1)(resumeDecided(entity, session, current.decided))
          return resumed ?? entity.running?.askId ?? current.askId
        }
        return current.askId
      }
      const resumed = yield* entity.gate.withPermits(1)(resumeWith(entity, session, toolUseId, decision))
      if (resumed !== undefined) return resumed
    }
  })

/**
 * With no ask running: decides the call and starts the ask that resumes it, with no caller; its
 * id. `undefined` when an ask started meanwhile (the caller decides again).
 */
const resumeWith = (entity: EntityState, session: Hosted, toolUseId: string, decision: SessionEntity.Decision) =>
  Effect.gen(function* () {
    if (entity.running !== undefined) return undefined
    const waiting = yield* session.approvals
    // a call that does not wait: the session's own ApprovalNotPending, which names those that do
    if (!waiting.some((call) => call.toolUseId === toolUseId)) {
      return yield* Effect.andThen(
        session.decide(toolUseId, decision),
        Effect.die("a call that did not wait was decided")
      )
    }
    const askId = (yield* pausedAsk(entity, waiting)) ?? randomUUID()
    yield* session.decide(toolUseId, decision)
    const running = claim(entity, askId)
    yield* entity.detach(Stream.runDrain(run(entity, running, session, session.resume(askId))).pipe(Effect.ignore))
    return askId
  })

/**
 * The newest ask whose log has no end (its runner died) and that announced one of the `waiting`
 * calls: the ask the decision goes on with, under its own id.
 */
const pausedAsk = (entity: EntityState, waiting: ReadonlyArray<Approval.Pending>) =>
  Effect.gen(function* () {
    const ids = new Set(waiting.map((call) => call.toolUseId))
    const asks = yield* Effect.orElseSucceed(entity.store.asks(entity.key), () => [])
    for (const info of [...asks].reverse()) {
      if (info.end !== undefined) continue
      const page = yield* Effect.option(entity.store.readEvents(entity.key, info.askId))
      if (page._tag === "None") continue
      for (const id of announcedCalls(page.value)) if (ids.has(id)) return info.askId
    }
    return undefined
  })
