/**
 * The tool calls of one session that wait for approval: each a `Pending` value and the deferred
 * decision an ask waits on.
 *
 * An entry lives from the call's pause until an ask takes its decision (`register`'s wait ends
 * with it), or until the call is answered otherwise (`release`: the ask ended and answered it).
 * An entry whose ask ended without answering it (a durable pause, see `Approval`) stays: it can
 * be decided with no ask running, and the ask that resumes the session takes that decision.
 * Deciding a call that has no entry, or one already decided, is `ApprovalNotPending`.
 *
 * @internal
 */
import { Deferred, Effect, Exit } from "effect"
import { ApprovalNotPending, type Decision, type Pending } from "./Approval.js"

interface Entry {
  readonly pending: Pending
  readonly decided: Deferred.Deferred<Decision>
  /** Set by `decide`: the decision no ask has taken yet. */
  decision: Decision | undefined
}

/** The waiting calls of one session. */
export class Approvals {
  private readonly waiting = new Map<string, Entry>()

  /**
   * Registers `pending` now (so that it can be decided as soon as its `approval_request` is
   * seen), or finds its entry when the call already waits (a resumed pause); returns the wait for
   * its decision, which removes the entry when it ends with one. An interrupted wait leaves the
   * entry for its ask's end to `release` or keep.
   */
  register(pending: Pending): Effect.Effect<Decision> {
    let entry = this.waiting.get(pending.toolUseId)
    if (entry === undefined) {
      entry = { pending, decided: Deferred.makeUnsafe<Decision>(), decision: undefined }
      this.waiting.set(pending.toolUseId, entry)
    }
    const mine = entry
    return Effect.tap(Deferred.await(mine.decided), () =>
      Effect.sync(() => {
        if (this.waiting.get(pending.toolUseId) === mine) this.waiting.delete(pending.toolUseId)
      })
    )
  }

  /**
   * The calls that wait with no ask running are `waiting` (a session loaded, or reloaded, with a
   * durable pause), each with its decision when it was decided: every other entry goes, and
   * entries already there for them are kept.
   */
  replace(waiting: ReadonlyArray<{ readonly pending: Pending; readonly decision: Decision | undefined }>): void {
    const ids = new Set(waiting.map((call) => call.pending.toolUseId))
    for (const id of [...this.waiting.keys()]) if (!ids.has(id)) this.waiting.delete(id)
    for (const { pending, decision } of waiting) {
      if (this.waiting.has(pending.toolUseId)) continue
      const decided = Deferred.makeUnsafe<Decision>()
      if (decision !== undefined) Deferred.doneUnsafe(decided, Exit.succeed(decision))
      this.waiting.set(pending.toolUseId, { pending, decided, decision })
    }
  }

  /** The calls `ids` were answered (or will never be): their entries go. */
  release(ids: Iterable<string>): void {
    for (const id of ids) this.waiting.delete(id)
  }

  /** Whether `toolUseId` waits (decided or not) for an ask to take it. */
  has(toolUseId: string): boolean {
    return this.waiting.has(toolUseId)
  }

  /** The entry of `toolUseId` (its pending value and any decision not yet taken). */
  get(toolUseId: string): { readonly pending: Pending; readonly decision: Decision | undefined } | undefined {
    return this.waiting.get(toolUseId)
  }

  /**
   * Decides the call `toolUseId`, or fails when none waits undecided under it. `keep` (a session
   * store's commit of the decision) runs first: the call counts as decided while it runs, and
   * waits again if it fails.
   */
  decide<E = never>(
    toolUseId: string,
    decision: Decision,
    keep?: Effect.Effect<void, E>
  ): Effect.Effect<void, ApprovalNotPending | E> {
    return Effect.suspend((): Effect.Effect<void, ApprovalNotPending | E> => {
      const entry = this.waiting.get(toolUseId)
      if (entry === undefined || entry.decision !== undefined) {
        const ids = this.pending.map((pending) => pending.toolUseId)
        const why = entry === undefined ? "No tool call waits" : "The tool call was already decided; none waits"
        return Effect.fail(
          new ApprovalNotPending({
            toolUseId,
            message:
              `${why} for approval under the id "${toolUseId}" in this session ` +
              `(${ids.length === 0 ? "none waits" : `waiting: ${ids.join(", ")}`}). Use the tool_use_id of an approval_request event.`
          })
        )
      }
      entry.decision = decision
      const decided = Effect.asVoid(Deferred.succeed(entry.decided, decision))
      if (keep === undefined) return decided
      return Effect.andThen(
        Effect.onError(keep, () =>
          Effect.sync(() => {
            entry.decision = undefined
          })
        ),
        decided
      )
    })
  }

  /** The calls waiting for a decision now, oldest first. */
  get pending(): ReadonlyArray<Pending> {
    const out: Array<Pending> = []
    for (const entry of this.waiting.values()) if (entry.decision === undefined) out.push(entry.pending)
    return out
  }
}
