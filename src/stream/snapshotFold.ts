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
import type * as Message from "../core/Message.js"
import type { NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type { TurnAccumulator } from "../core/TurnAccumulator.js"
import type * as Usage from "../core/Usage.js"
import { type Fields, InputView, Rope, TextView, type View, WholeView } from "./blockView.js"
import { RunFold } from "./runFold.js"

// the public shapes (re-exported by Accumulate.ts)

/**
 * A tool call as a snapshot shows it: while its input streams, and once it is whole.
 * @since 0.2.0
 */
export interface ToolCall {
  readonly id: string
  readonly name: string
  /** The index of its block in its turn. */
  readonly index: number
  /** The input JSON as it streamed so far (all of it once `complete`). */
  readonly json: string
  /**
   * The input parsed so far, completed the way the Anthropic SDK completes cut-short JSON: a key
   * whose value is not whole yet is left out (`{}` until the first one is). Once `complete`, the
   * input the tool is called with. Parsed when first read: O(length of `json`).
   */
  readonly input: unknown
  /** Whether its block has stopped. */
  readonly complete: boolean
  /** The harness's `tool_result` for this call, once the tool ran (a session's stream). */
  readonly result: StreamEvent.ToolResult | undefined
}

/**
 * The turn in progress (or just completed), in the shape of a `NormalizedResponse`.
 * @since 0.2.0
 */
export interface MessageSnapshot {
  readonly id: string
  readonly model: string
  /** The content so far: text so far, tool inputs parsed so far. Built when first read. */
  readonly content: ReadonlyArray<Message.ContentBlock>
  /** Its text blocks joined. O(length of the text) when first read. */
  readonly text: string
  /** Unset until the turn's `message_delta` says why it stopped. */
  readonly stopReason: string | undefined
  readonly stopSequence: string | null | undefined
  readonly usage: Usage.Usage
  /** Whether its `message_stop` arrived: then it equals the turn `Provider.collect` folds. */
  readonly complete: boolean
}

/**
 * The run so far, after one event.
 * @since 0.2.0
 */
export interface Snapshot {
  /** The event this snapshot follows. */
  readonly event: StreamEvent.StreamEvent
  /** How many events arrived so far, this one included. */
  readonly events: number
  /**
   * The turn in progress, or the last one completed until the next starts; `undefined` before
   * the first `message_start` and after a `discard` (a retried turn starts over).
   */
  readonly message: MessageSnapshot | undefined
  /** The completed turns, in order (as `Provider.collect` folds each). */
  readonly turns: ReadonlyArray<NormalizedResponse>
  /** The tool call being streamed: its block started and has not stopped (Strands' `current_tool_use`). */
  readonly toolCall: ToolCall | undefined
  /** Every tool call of the run so far, with its result attached once it arrived. */
  readonly toolCalls: ReadonlyArray<ToolCall>
  /** The `tool_result`s so far, by `tool_use_id`. */
  readonly toolResults: ReadonlyMap<string, StreamEvent.ToolResult>
  /**
   * The latest call of the `answer` tool: the structured answer being streamed (its input parsed
   * so far), then whole.
   */
  readonly answer: ToolCall | undefined
}

// tool calls

/** A whole tool call of the run, without its result. */
interface CallRecord {
  readonly id: string
  readonly name: string
  readonly index: number
  readonly json: string
  readonly input: unknown
}

const wholeCall = (record: CallRecord, result: StreamEvent.ToolResult | undefined): ToolCall => ({
  ...record,
  complete: true,
  result
})

class OpenCall implements ToolCall {
  readonly complete = false
  readonly result = undefined
  constructor(private readonly view: InputView) {}
  get id(): string {
    return this.view.base.id as string
  }
  get name(): string {
    return this.view.base.name as string
  }
  get index(): number {
    return this.view.index
  }
  get json(): string {
    return this.view.json
  }
  get input(): unknown {
    return this.view.input()
  }
}

/** Whether a block is a call the snapshots follow: a streamed input with a string id and name. */
const isCall = (block: Fields | undefined, json: string | undefined): block is Fields =>
  block !== undefined && json !== undefined && typeof block.id === "string" && typeof block.name === "string"

// snapshots

class MessageView implements MessageSnapshot {
  private built: ReadonlyArray<Message.ContentBlock> | undefined = undefined
  private joined: string | undefined = undefined
  constructor(
    readonly id: string,
    readonly model: string,
    private readonly views: ReadonlyArray<View | undefined>,
    readonly stopReason: string | undefined,
    readonly stopSequence: string | null | undefined,
    readonly usage: Usage.Usage,
    readonly complete: boolean
  ) {}

  get content(): ReadonlyArray<Message.ContentBlock> {
    if (this.built === undefined) {
      const content: Array<Message.ContentBlock> = []
      for (const view of this.views) if (view !== undefined) content.push(view.block())
      this.built = content
    }
    return this.built
  }

  get text(): string {
    if (this.joined === undefined) {
      let text = ""
      for (const view of this.views) {
        if (view instanceof TextView) {
          if (view.base.type === "text") text += view.text()
        } else if (view?.base.type === "text") text += view.base.text as string
      }
      this.joined = text
    }
    return this.joined
  }
}

class RunSnapshot implements Snapshot {
  private calls: ReadonlyArray<ToolCall> | undefined = undefined
  private openCall: ToolCall | undefined = undefined
  constructor(
    readonly event: StreamEvent.StreamEvent,
    readonly events: number,
    readonly message: MessageSnapshot | undefined,
    readonly turns: ReadonlyArray<NormalizedResponse>,
    readonly toolResults: ReadonlyMap<string, StreamEvent.ToolResult>,
    private readonly open: InputView | undefined,
    private readonly runCalls: ReadonlyArray<CallRecord>,
    private readonly turnCalls: ReadonlyArray<CallRecord>
  ) {}

  get toolCall(): ToolCall | undefined {
    if (this.open === undefined) return undefined
    this.openCall ??= new OpenCall(this.open)
    return this.openCall
  }

  get toolCalls(): ReadonlyArray<ToolCall> {
    if (this.calls === undefined) {
      const calls: Array<ToolCall> = []
      for (const record of this.runCalls) calls.push(wholeCall(record, this.toolResults.get(record.id)))
      for (const record of this.turnCalls) calls.push(wholeCall(record, this.toolResults.get(record.id)))
      const open = this.toolCall
      if (open !== undefined) calls.push(open)
      this.calls = calls
    }
    return this.calls
  }

  get answer(): ToolCall | undefined {
    if (this.open !== undefined && this.open.base.name === "answer") return this.toolCall
    const find = (records: ReadonlyArray<CallRecord>) => records.findLast((record) => record.name === "answer")
    const record = find(this.turnCalls) ?? find(this.runCalls)
    return record === undefined ? undefined : wholeCall(record, this.toolResults.get(record.id))
  }
}

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
