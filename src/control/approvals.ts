/**
 * The tool calls of one session that wait for approval: each a `Pending` value and the deferred
 * decision its ask waits on. An ask that ends while waiting (interrupted, timed out) removes its
 * entry; deciding an entry that is gone is `ApprovalNotPending`.
 *
 * @internal
 */
import { Deferred, Effect } from "effect"
import { ApprovalNotPending, type Decision, type Pending } from "./Approval.js"

/** The waiting calls of one session. */
export class Approvals {
  private readonly waiting = new Map<
    string,
    { readonly pending: Pending; readonly decided: Deferred.Deferred<Decision> }
  >()

  /**
   * Registers `pending` now (so that it can be decided as soon as its `approval_request` is
   * seen), and returns the wait for its decision; the entry goes when the wait ends, however it
   * ends, or with `release` when the wait never starts.
   */
  register(pending: Pending): { readonly decision: Effect.Effect<Decision>; readonly release: Effect.Effect<void> } {
    const decided = Deferred.makeUnsafe<Decision>()
    this.waiting.set(pending.toolUseId, { pending, decided })
    const release = Effect.sync(() => {
      if (this.waiting.get(pending.toolUseId)?.decided === decided) this.waiting.delete(pending.toolUseId)
    })
    return { decision: Effect.ensuring(Deferred.await(decided), release), release }
  }

  /** Decides the call `toolUseId`, or fails when none waits under it. */
  decide(toolUseId: string, decision: Decision): Effect.Effect<void, ApprovalNotPending> {
    return Effect.suspend(() => {
      const entry = this.waiting.get(toolUseId)
      if (entry === undefined) {
        const ids = [...this.waiting.keys()]
        return Effect.fail(
          new ApprovalNotPending({
            toolUseId,
            message:
              `No tool call waits for approval under the id "${toolUseId}" in this session ` +
              `(${ids.length === 0 ? "none waits" : `waiting: ${ids.join(", ")}`}). Use the tool_use_id of an approval_request event.`
          })
        )
      }
      this.waiting.delete(toolUseId)
      return Deferred.succeed(entry.decided, decision)
    })
  }

  /** The calls waiting now, oldest first. */
  get pending(): ReadonlyArray<Pending> {
    return [...this.waiting.values()].map((entry) => entry.pending)
  }
}
