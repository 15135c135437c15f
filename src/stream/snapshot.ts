/**
 * The values `Accumulate.snapshots` emits: a {@link Snapshot} of the run after one event, its
 * {@link MessageSnapshot} and {@link ToolCall}s. Each is immutable; what it shows is built from
 * block views (`blockView.ts`) when first read, then kept.
 *
 * @internal (the interfaces are public through `Accumulate`)
 */
import type * as Message from "../core/Message.js"
import type { AnyStopReason, NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Usage from "../core/Usage.js"
import { type InputView, TextView, type View } from "./blockView.js"

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
  readonly stopReason: AnyStopReason | undefined
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
export interface CallRecord {
  readonly id: string
  readonly name: string
  readonly index: number
  readonly json: string
  readonly input: unknown
}

export const wholeCall = (record: CallRecord, result: StreamEvent.ToolResult | undefined): ToolCall => ({
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

// snapshots

export class MessageView implements MessageSnapshot {
  private built: ReadonlyArray<Message.ContentBlock> | undefined = undefined
  private joined: string | undefined = undefined
  constructor(
    readonly id: string,
    readonly model: string,
    private readonly views: ReadonlyArray<View | undefined>,
    readonly stopReason: AnyStopReason | undefined,
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

export class RunSnapshot implements Snapshot {
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
