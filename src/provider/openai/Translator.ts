/**
 * Turns Chat Completions chunks into the harness's events, exactly as an Anthropic turn streams:
 * `message_start`, content blocks one after the other (`content_block_start`, deltas,
 * `content_block_stop`), then `message_delta` (stop reason, usage) and `message_stop`.
 *
 * | chunk field (choice 0) | events |
 * | --- | --- |
 * | `delta.content` (a string, or Mistral's `text` parts) | a `text` block of `text_delta`s |
 * | `delta.refusal` | text of a `text` block; the stop reason becomes `refusal` |
 * | `delta.reasoning_content`, `delta.reasoning`, `reasoning_details` text, Mistral `thinking` parts | a `thinking` block of `thinking_delta`s |
 * | a `reasoning_details` signature | a `signature_delta` of the thinking block |
 * | a `reasoning.encrypted` detail | a `redacted_thinking` block (`data`) |
 * | `delta.tool_calls[i]` | one `tool_use` block per call (by `index`; a call without one by `id`), its `arguments` as `input_json_delta`s |
 * | `finish_reason` | closes the open blocks; `stop` `end_turn`, `tool_calls` `tool_use`, `length` `max_tokens`, `content_filter` `refusal`, others as sent |
 * | `usage` (the last one that is not `null`) | `message_delta.usage`: uncached input, output, cached input as cache reads |
 *
 * `message_delta` and `message_stop` come at `[DONE]` (or the end of the body), because usage often
 * arrives after `finish_reason`. A stream that never sends `finish_reason` ends `tool_use` when it
 * made tool calls, else `end_turn`. Servers send reasoning twice over (`reasoning` and the
 * same text in `reasoning_details`): the details' text is used only when no string field carried
 * that delta's reasoning. Only choice 0 is read.
 *
 * A tool block is closed when the next block starts if its arguments are complete JSON; one
 * whose arguments are still incomplete (a server that interleaves parallel calls) stays open until
 * the finish, so nothing is cut.
 * @internal
 */
import type * as StreamEvent from "../../core/StreamEvent.js"
import type * as Chunk from "./Chunk.js"
import { generatedId, hasReasoning, isComplete, reasoningOf, stopReasonOf, wireUsageOf } from "./chunkFields.js"

type Event = StreamEvent.ProviderEvent
type Mutable = { [key: string]: unknown }

/** A tool call's block. */
interface ToolState {
  /** Its block's index; -1 until its name has arrived and the block started. */
  index: number
  readonly id: string
  closed: boolean
  /** Its arguments so far (to decide whether the block can close before the finish). */
  json: string
}

/** The text or thinking block events are being added to. */
interface OpenBlock {
  readonly kind: "text" | "thinking"
  readonly index: number
}

/**
 * The chunk-to-event translator of one turn. Events go to {@link ChunkTranslator.out}, which the
 * reader hands on and replaces.
 * @internal
 */
export class ChunkTranslator {
  /** Events not yet handed on. */
  out: Array<Event> = []
  /** `finish_reason` arrived. */
  finishReason: string | undefined = undefined
  /** `message_stop` was emitted. */
  stopped = false
  /** Why the chunks do not make a valid turn, once they do not. */
  failure: string | undefined = undefined
  private started = false
  private id: string | undefined = undefined
  private model: string | undefined = undefined
  private next = 0
  private open: OpenBlock | undefined = undefined
  /** The block last started, when it is a tool call. */
  private currentTool: ToolState | undefined = undefined
  private readonly tools = new Map<number | string, ToolState>()
  private lastToolKey: number | string | undefined = undefined
  private toolCount = 0
  private refused = false
  private stopSequence: string | undefined = undefined
  private usage: Chunk.ChunkUsage | undefined = undefined
  /** Chunks not yet attached to an event, with `raw` on. */
  private pendingRaw: Array<unknown> | undefined

  constructor(
    private readonly requestedModel: string,
    /** Attach the chunks to the events (`raw` option). */
    raw: boolean
  ) {
    this.pendingRaw = raw ? [] : undefined
  }

  private emit(event: Mutable): void {
    const pending = this.pendingRaw
    if (pending !== undefined && pending.length > 0) {
      event.raw = pending
      this.pendingRaw = []
    }
    this.out.push(event as unknown as Event)
  }

  /** Applies one validated chunk. */
  chunk(chunk: Chunk.Chunk): void {
    this.pendingRaw?.push(chunk)
    if (this.id === undefined && typeof chunk.id === "string" && chunk.id !== "") this.id = chunk.id
    if (this.model === undefined && typeof chunk.model === "string" && chunk.model !== "") this.model = chunk.model
    const usage = chunk.usage ?? chunk.x_groq?.usage
    if (usage != null) this.usage = usage
    const choices = chunk.choices
    if (choices == null || choices.length === 0) return
    const choice = choices.length === 1 ? choices[0]! : choices.find((c) => c.index == null || c.index === 0)
    if (choice === undefined || (choice.index != null && choice.index !== 0)) return
    if (!this.started) this.start()
    const delta = choice.delta
    if (delta != null) {
      const content = delta.content
      // the per-token case first: text only
      if (typeof content === "string" && delta.tool_calls == null && !hasReasoning(delta)) {
        if (content !== "") this.text(content)
        if (delta.refusal != null && delta.refusal !== "") this.refusal(delta.refusal)
      } else this.delta(delta)
    }
    const finish = choice.finish_reason
    if (finish != null) this.finish(finish, choice.stop_reason)
  }

  private start(): void {
    this.started = true
    this.emit({
      type: "message_start",
      message: {
        id: this.id ?? generatedId("chatcmpl"),
        type: "message",
        role: "assistant",
        model: this.model ?? this.requestedModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 }
      }
    })
  }

  private delta(delta: Chunk.Delta): void {
    const reasoning = reasoningOf(delta)
    if (reasoning !== "") this.thinking(reasoning)
    const details = delta.reasoning_details
    if (details != null && details.length > 0) this.details(details, reasoning !== "")
    const content = delta.content
    if (typeof content === "string") {
      if (content !== "") this.text(content)
    } else if (content != null) this.parts(content)
    if (delta.refusal != null && delta.refusal !== "") this.refusal(delta.refusal)
    const calls = delta.tool_calls
    if (calls != null) for (let i = 0; i < calls.length; i++) this.toolCall(calls[i]!)
  }

  /** `reasoning_details`: their text when no string field carried this delta's reasoning, signatures, encrypted data. */
  private details(details: ReadonlyArray<Chunk.ReasoningDetail>, textGiven: boolean): void {
    for (const detail of details) {
      if (detail.type === "reasoning.encrypted" && detail.data != null && detail.data !== "") {
        this.closeCurrent()
        const index = this.next++
        this.emit({
          type: "content_block_start",
          index,
          content_block: { type: "redacted_thinking", data: detail.data }
        })
        this.emit({ type: "content_block_stop", index })
        continue
      }
      if (!textGiven) {
        const text = detail.text ?? detail.summary
        if (text != null && text !== "") this.thinking(text)
      }
      if (detail.signature != null && detail.signature !== "") {
        if (this.open?.kind !== "thinking") this.openBlock("thinking")
        this.emit({
          type: "content_block_delta",
          index: this.open!.index,
          delta: { type: "signature_delta", signature: detail.signature }
        })
      }
    }
  }

  /** Mistral's content parts: `text` and `thinking`. */
  private parts(parts: ReadonlyArray<Chunk.ContentPart>): void {
    for (const part of parts) {
      if (part.type === "text") {
        if (part.text != null && part.text !== "") this.text(part.text)
      } else if (part.type === "thinking") {
        const thinking = part.thinking
        if (typeof thinking === "string") {
          if (thinking !== "") this.thinking(thinking)
        } else if (thinking != null) {
          for (const inner of thinking) if (inner.text != null && inner.text !== "") this.thinking(inner.text)
        }
      }
    }
  }

  private text(text: string): void {
    const open = this.open
    const index = open !== undefined && open.kind === "text" ? open.index : this.openBlock("text")
    this.emit({ type: "content_block_delta", index, delta: { type: "text_delta", text } })
  }

  private refusal(text: string): void {
    this.refused = true
    this.text(text)
  }

  private thinking(thinking: string): void {
    const open = this.open
    const index = open !== undefined && open.kind === "thinking" ? open.index : this.openBlock("thinking")
    this.emit({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking } })
  }

  /** Closes the current block and starts a text or thinking block; returns its index. */
  private openBlock(kind: "text" | "thinking"): number {
    this.closeCurrent()
    const index = this.next++
    this.open = { kind, index }
    this.emit({
      type: "content_block_start",
      index,
      content_block: kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" }
    })
    return index
  }

  /** Closes the block last started: a text or thinking block always, a tool block once its arguments are complete. */
  private closeCurrent(): void {
    const open = this.open
    if (open !== undefined) {
      this.open = undefined
      this.emit({ type: "content_block_stop", index: open.index })
    }
    const tool = this.currentTool
    if (tool !== undefined) {
      this.currentTool = undefined
      if (isComplete(tool.json)) this.closeTool(tool)
    }
  }

  private closeTool(tool: ToolState): void {
    if (tool.closed) return
    tool.closed = true
    this.emit({ type: "content_block_stop", index: tool.index })
  }

  /** The key of a tool-call delta: its `index`, or (without one) a new call for a new `id`, else the last call. */
  private toolKey(call: Chunk.ToolCallDelta): number | string {
    if (call.index != null) return call.index
    const id = call.id
    const last = this.lastToolKey === undefined ? undefined : this.tools.get(this.lastToolKey)
    if (last !== undefined && (id == null || id === "" || id === last.id)) return this.lastToolKey!
    return `call:${this.toolCount}`
  }

  private toolCall(call: Chunk.ToolCallDelta): void {
    const key = this.toolKey(call)
    this.lastToolKey = key
    const fn = call.function
    const args = fn?.arguments
    const json = args == null ? "" : typeof args === "string" ? args : JSON.stringify(args)
    let tool = this.tools.get(key)
    if (tool === undefined) {
      tool = {
        index: -1,
        id: call.id != null && call.id !== "" ? call.id : generatedId("call"),
        closed: false,
        json: ""
      }
      this.toolCount++
      this.tools.set(key, tool)
    }
    if (tool.index === -1) {
      // the block starts with the call's name; arguments before it wait
      tool.json += json
      const name = fn?.name
      if (name != null && name !== "") this.startTool(tool, name)
      return
    }
    if (json === "") return
    if (tool.closed) {
      // complete already: a server that sends the whole arguments again is ignored
      if (json !== tool.json) {
        this.failure ??= `more arguments for tool call ${tool.id} after its arguments were complete JSON`
      }
      return
    }
    // a call that continues after a text or thinking block started: that block ends
    if (tool !== this.currentTool && this.open !== undefined) this.closeCurrent()
    tool.json += json
    this.emit({
      type: "content_block_delta",
      index: tool.index,
      delta: { type: "input_json_delta", partial_json: json }
    })
  }

  private startTool(tool: ToolState, name: string): void {
    this.closeCurrent()
    tool.index = this.next++
    this.currentTool = tool
    this.emit({
      type: "content_block_start",
      index: tool.index,
      content_block: { type: "tool_use", id: tool.id, name, input: {} }
    })
    if (tool.json !== "") {
      this.emit({
        type: "content_block_delta",
        index: tool.index,
        delta: { type: "input_json_delta", partial_json: tool.json }
      })
    }
  }

  private finish(reason: string, stopReason: unknown): void {
    this.finishReason = reason
    if (reason === "stop" && typeof stopReason === "string" && stopReason !== "") this.stopSequence = stopReason
    this.closeAll()
  }

  private closeAll(): void {
    this.closeCurrent()
    for (const tool of this.tools.values()) {
      // a call whose name never came still gets its block: the harness answers it as an unknown tool
      if (tool.index === -1) this.startTool(tool, "")
      this.closeCurrent()
      this.closeTool(tool)
    }
  }

  /**
   * The end of the turn (`[DONE]`, or the end of a body after `finish_reason`): closes what is
   * open and emits `message_delta` and `message_stop`.
   */
  end(): void {
    if (this.stopped) return
    if (!this.started) this.start()
    this.closeAll()
    const finish = this.finishReason
    let stopReason = finish === undefined ? (this.toolCount > 0 ? "tool_use" : "end_turn") : stopReasonOf(finish)
    if (this.refused && stopReason === "end_turn") stopReason = "refusal"
    if (this.stopSequence !== undefined && stopReason === "end_turn") stopReason = "stop_sequence"
    const delta: Mutable = {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: stopReason === "stop_sequence" ? this.stopSequence! : null }
    }
    if (this.usage !== undefined) delta.usage = wireUsageOf(this.usage)
    this.emit(delta)
    this.emit({ type: "message_stop" })
    this.stopped = true
  }
}
