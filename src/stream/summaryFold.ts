/**
 * The fold behind `Accumulate.summary`: the run's turns (each folded as `Provider.collect` folds
 * it), its counts, and the times of its first token and first tool call on Effect's `Clock`.
 *
 * It keeps what the run produced (the turns' content, the tool results), never the events: the
 * deltas of a turn are joined into flat strings 32 at a time by its `TurnAccumulator`, so memory
 * grows with the text, not with the number of deltas (bench/snapshots.ts).
 *
 * @internal
 */
import { type Clock, Duration, Option } from "effect"
import type { ProviderError } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type { AnyStopReason, NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import { RunFold } from "./runFold.js"

/**
 * What a whole event stream amounted to.
 * @since 0.2.0
 */
export interface Summary {
  /** The text of the last turn (a run's answer). */
  readonly text: string
  /** The content blocks of the last turn. */
  readonly content: ReadonlyArray<Message.ContentBlock>
  /** Every completed turn, in order; attempts that were discarded and retried are not among them. */
  readonly turns: ReadonlyArray<NormalizedResponse>
  /** Why the last turn stopped. */
  readonly stopReason: Option.Option<AnyStopReason>
  /** The usage of the completed turns, summed. */
  readonly usage: Usage.Usage
  /** The harness's `tool_result` events, in order. */
  readonly toolResults: ReadonlyArray<StreamEvent.ToolResult>
  /** Every event, harness events included. */
  readonly events: number
  /** The `content_block_delta` events (text, thinking, tool input, ...; discarded attempts' too). */
  readonly deltas: number
  /** How many turn attempts were discarded (a retry after partial output). */
  readonly discarded: number
  /** From the start of the run (the sink's start) to the end of the stream. */
  readonly duration: Duration.Duration
  /** Until the first non-empty text or thinking delta. */
  readonly timeToFirstToken: Option.Option<Duration.Duration>
  /** Until the model started its first tool call (the `content_block_start` of a `tool_use`). */
  readonly timeToFirstToolCall: Option.Option<Duration.Duration>
}

const isToken = (event: StreamEvent.ContentBlockDelta): boolean => {
  const delta = event.delta as { readonly type: string; readonly text?: string; readonly thinking?: string }
  return (
    (delta.type === "text_delta" && delta.text!.length > 0) ||
    (delta.type === "thinking_delta" && delta.thinking!.length > 0)
  )
}

export class SummaryFold {
  private readonly run = new RunFold("provider")
  private readonly started: bigint
  private firstToken: bigint | undefined = undefined
  private firstToolCall: bigint | undefined = undefined
  private discarded = 0

  constructor(private readonly clock: Clock.Clock) {
    this.started = clock.monotonicTimeNanosUnsafe()
  }

  /** Applies the events of one chunk, all of which arrived now. */
  applyAll(events: ReadonlyArray<StreamEvent.StreamEvent>): ProviderError | undefined {
    const run = this.run
    for (const event of events) {
      const step = run.apply(event)
      if (typeof step !== "string") return step
      if (step === "block") this.time(event)
      else if (step === "discarded") this.discarded++
    }
    return undefined
  }

  /** Records the first token and the first tool call, reading the clock only for them. */
  private time(event: StreamEvent.StreamEvent): void {
    if (this.firstToken === undefined && event.type === "content_block_delta" && isToken(event)) {
      this.firstToken = this.clock.monotonicTimeNanosUnsafe()
    } else if (
      this.firstToolCall === undefined &&
      event.type === "content_block_start" &&
      event.content_block.type === "tool_use"
    ) {
      this.firstToolCall = this.clock.monotonicTimeNanosUnsafe()
    }
  }

  private since(at: bigint | undefined): Option.Option<Duration.Duration> {
    return at === undefined ? Option.none() : Option.some(Duration.nanos(at - this.started))
  }

  /** The summary at the end of the stream; an error when it ended in the middle of a turn. */
  end(): Summary | ProviderError {
    const run = this.run
    const unfinished = run.unfinished()
    if (unfinished !== undefined) return unfinished
    const last = run.turns[run.turns.length - 1]
    return {
      text: last === undefined ? "" : Message.textOf(last.content),
      content: last?.content ?? [],
      turns: run.turns,
      stopReason: last === undefined ? Option.none() : Option.some(last.stopReason),
      usage: run.turns.reduce((usage, turn) => Usage.add(usage, turn.usage), Usage.empty),
      toolResults: run.results,
      events: run.events,
      deltas: run.deltas,
      discarded: this.discarded,
      duration: Duration.nanos(this.clock.monotonicTimeNanosUnsafe() - this.started),
      timeToFirstToken: this.since(this.firstToken),
      timeToFirstToolCall: this.since(this.firstToolCall)
    }
  }
}
