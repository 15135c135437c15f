/**
 * The fold behind `Accumulate.snapshots`: after each event, an immutable {@link Snapshot} of the
 * run so far: the turn in progress with its tool input parsed so far, the tool call being
 * streamed, the completed turns, the tool results attached to their calls.
 *
 * Cost per event: O(1) for the views plus O(blocks of the turn) to copy the list of views (a turn
 * has a handful of blocks). Nothing is joined or parsed until a snapshot is read: reading a
 * message's text costs the length of the text so far, reading a tool input in progress the
 * length of its JSON so far (see `blockView.ts`). A consumer that reads every snapshot's text or
 * input pays that per event; one that reads, say, the throttled snapshots of a UI, pays it per
 * read.
 *
 * @internal
 */
import type { ProviderError } from "../core/HarnessError.js"
import type { NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type { TurnAccumulator } from "../core/TurnAccumulator.js"
import { type Fields, InputView, Rope, type View, WholeView } from "./blockView.js"
import { RunFold } from "./runFold.js"
import { type CallRecord, type MessageSnapshot, MessageView, RunSnapshot, type Snapshot } from "./snapshot.js"

/** Whether a block is a call the snapshots follow: a streamed input with a string id and name. */
const isCall = (block: Fields | undefined, json: string | undefined): block is Fields =>
  block !== undefined && json !== undefined && typeof block.id === "string" && typeof block.name === "string"

/** The per-run state behind the snapshots; {@link apply} makes one snapshot per event. */
export class SnapshotFold {
  private readonly run: RunFold
  /** The views of the current turn's blocks, by index; replaced entry by entry. */
  private views: Array<View | undefined> = []
  private ropes: Array<Rope | undefined> = []
  /** The index of the tool call being streamed. */
  private open: number | undefined = undefined
  private message: MessageSnapshot | undefined = undefined
  private runCalls: ReadonlyArray<CallRecord> = []
  private turnCalls: ReadonlyArray<CallRecord> = []
  private results: ReadonlyMap<string, StreamEvent.ToolResult> = new Map()

  constructor(provider: string) {
    this.run = new RunFold(provider)
  }

  apply(event: StreamEvent.StreamEvent): Snapshot | ProviderError {
    const run = this.run
    const step = run.apply(event)
    if (typeof step !== "string") return step
    switch (event.type) {
      case "message_start":
        this.start(run.turn!)
        break
      case "content_block_start":
        this.startBlock(run.turn!, event.index)
        break
      case "content_block_delta":
        this.delta(run.turn!, event)
        break
      case "content_block_stop":
        this.stopBlock(run.turn!, event.index)
        break
      case "message_delta":
        this.message = this.messageOf(run.turn!, false)
        break
      case "message_stop":
        this.stop(run.turns[run.turns.length - 1]!)
        break
      case "discard":
        this.reset()
        this.message = undefined
        break
      case "tool_result":
        this.results = new Map(this.results).set(event.tool_use_id, event)
        break
    }
    const open = this.open === undefined ? undefined : (this.views[this.open] as InputView)
    return new RunSnapshot(
      event,
      run.events,
      this.message,
      run.turns,
      this.results,
      open,
      this.runCalls,
      this.turnCalls
    )
  }

  private reset(): void {
    this.views = []
    this.ropes = []
    this.open = undefined
    this.turnCalls = []
  }

  private messageOf(turn: TurnAccumulator, complete: boolean): MessageSnapshot {
    return new MessageView(
      turn.id ?? "",
      turn.model ?? "",
      this.views.slice(),
      turn.stopReason,
      turn.stopSequence,
      turn.usage,
      complete
    )
  }

  /** A turn starts, perhaps with whole blocks in its `message_start`. */
  private start(turn: TurnAccumulator): void {
    this.reset()
    turn.blocks.forEach((block, index) => {
      if (block === undefined) return
      const whole = { ...block }
      this.views[index] = new WholeView(whole)
      if (block.type === "tool_use") this.addCall(whole, index, JSON.stringify(whole.input ?? {}))
    })
    this.message = this.messageOf(turn, false)
  }

  private startBlock(turn: TurnAccumulator, index: number): void {
    const base: Fields = { ...turn.blocks[index]! }
    if (base.type === "text" || base.type === "thinking") {
      const rope = new Rope(base[base.type] as string)
      this.ropes[index] = rope
      this.views[index] = rope.view(base, base.type)
    } else if (turn.json[index] !== undefined) {
      this.views[index] = new InputView(base, index, "")
      if (isCall(base, "")) this.open = index
    } else {
      this.views[index] = new WholeView(base)
    }
    this.message = this.messageOf(turn, false)
  }

  /** The per-token path: text, thinking and tool input deltas touch only their block's view. */
  private delta(turn: TurnAccumulator, event: StreamEvent.ContentBlockDelta): void {
    const index = event.index
    const view = this.views[index]!
    const delta = event.delta as { readonly type: string; readonly [key: string]: unknown }
    const rope = this.ropes[index]
    if (delta.type === "text_delta" || delta.type === "thinking_delta") {
      const key = delta.type === "text_delta" ? "text" : "thinking"
      // as the turn's fold: a text delta on a thinking block (or the reverse) is ignored
      if (rope === undefined || view.base.type !== key) return
      rope.push(delta[key] as string)
      this.views[index] = rope.view(view.base, key)
    } else if (delta.type === "input_json_delta" && view instanceof InputView) {
      this.views[index] = new InputView(view.base, index, turn.json[index]!)
    } else {
      // signature, citations, compaction, a newer API's delta: the block's other fields changed
      const base: Fields = { ...turn.blocks[index]! }
      this.views[index] =
        rope !== undefined
          ? rope.view(base, base.type as "text" | "thinking")
          : view instanceof InputView
            ? new InputView(base, index, turn.json[index]!)
            : new WholeView(base)
    }
    this.message = this.messageOf(turn, false)
  }

  private stopBlock(turn: TurnAccumulator, index: number): void {
    const whole = { ...turn.blocks[index]! }
    this.views[index] = new WholeView(whole)
    this.ropes[index] = undefined
    const json = turn.json[index]
    if (isCall(whole, json)) this.addCall(whole, index, json!)
    if (this.open === index) this.open = undefined
    this.message = this.messageOf(turn, false)
  }

  private addCall(block: Fields, index: number, json: string): void {
    const record = { id: block.id as string, name: block.name as string, index, json, input: block.input }
    this.turnCalls = [...this.turnCalls, record]
  }

  /**
   * The turn is whole: its blocks as their views show them, its other fields as the folded
   * response has them (the stop reason defaults to `end_turn` there).
   */
  private stop(response: NormalizedResponse): void {
    this.message = new MessageView(
      response.id ?? "",
      response.model ?? "",
      this.views.slice(),
      response.stopReason,
      response.stopSequence,
      response.usage,
      true
    )
    this.runCalls = [...this.runCalls, ...this.turnCalls]
    this.views = []
    this.ropes = []
    this.open = undefined
    this.turnCalls = []
  }
}
