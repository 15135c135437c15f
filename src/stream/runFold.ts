/**
 * The fold of a whole event stream: a provider's one turn, or a session's run of several turns
 * with the harness's `tool_result` and `discard` events between them. Each turn is folded by a
 * `TurnAccumulator` (the fold `Provider.collect` uses, so a turn folded here equals the one
 * `collect` returns); a `discard` drops the turn in progress; a turn is kept once its
 * `message_stop` arrived.
 *
 * Shared by the summary sink and the snapshot stream (`Accumulate.ts`). The lists it holds are
 * replaced, never mutated, when they grow, so a snapshot can keep them as they were.
 *
 * @internal
 */
import type { ProviderError } from "../core/HarnessError.js"
import { NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator } from "../core/TurnAccumulator.js"

/** What {@link RunFold.apply} did with an event, for the folds built on it. */
export type Step = "started" | "stopped" | "discarded" | "result" | "block" | "harness"

export class RunFold {
  /** The turn in progress: from its `message_start` until its `message_stop` or a `discard`. */
  turn: TurnAccumulator | undefined = undefined
  /** Every completed turn, in order; discarded attempts are not among them. */
  turns: ReadonlyArray<NormalizedResponse> = []
  /** The `tool_result` events so far, in order. */
  results: ReadonlyArray<StreamEvent.ToolResult> = []
  /** Events seen so far. */
  events = 0
  /** `content_block_delta` events seen so far (discarded attempts' included). */
  deltas = 0

  constructor(readonly provider: string) {}

  /** Applies one event; a typed error when the event sequence is malformed. */
  apply(event: StreamEvent.StreamEvent): ProviderError | Step {
    this.events++
    switch (event.type) {
      case "tool_result":
        this.results = [...this.results, event]
        return "result"
      case "discard":
        this.turn = undefined
        return "discarded"
      // between turns: nothing of a turn changes
      case "approval_request":
      case "compaction":
        return "harness"
      case "message_start": {
        // a second message_start without a stop is the accumulator's to report
        this.turn ??= new TurnAccumulator(this.provider)
        return this.turn.apply(event) ?? "started"
      }
      case "message_stop": {
        const turn = this.turn ?? new TurnAccumulator(this.provider)
        const error = turn.apply(event)
        if (error !== undefined) return error
        const result = turn.result()
        if (!("stopReason" in result)) return result
        this.turns = [...this.turns, new NormalizedResponse(result)]
        this.turn = undefined
        return "stopped"
      }
      case "content_block_delta":
        this.deltas++
        return this.block(event)
      default:
        return this.block(event)
    }
  }

  /** An event inside a turn; outside one, a fresh accumulator says what is wrong with it. */
  private block(event: StreamEvent.ProviderEvent): ProviderError | Step {
    return (this.turn ?? new TurnAccumulator(this.provider)).apply(event) ?? "block"
  }

  /** The error for a stream that ended in the middle of a turn, if it did. */
  unfinished(): ProviderError | undefined {
    if (this.turn === undefined) return undefined
    const result = this.turn.result()
    return "stopReason" in result ? undefined : result
  }
}
