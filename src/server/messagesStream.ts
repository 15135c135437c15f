/**
 * An agent ask's events as ONE Anthropic message: the first turn's `message_start`, every
 * turn's content blocks numbered across the message, the harness's tool calls as `mcp_tool_use`
 * and their results as `mcp_tool_result` blocks, and at the end one `message_delta` (the last
 * turn's stop reason, usage summed over the turns) and `message_stop`.
 * @internal
 */
import type { HarnessError, StreamEvent } from "../index.js"
import { SERVER_NAME } from "./messagesConversation.js"

/**
 * An event of the Anthropic stream; `discard` (not sent) tells the accumulator to drop the
 * blocks from `from` on.
 * @internal
 */
export type Out = { readonly type: string; readonly [key: string]: unknown }

interface Counters {
  input_tokens: number
  output_tokens: number
  cache_read_input_tokens: number
  cache_creation_input_tokens: number
}

const zero = (): Counters => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0
})

/** Counters that arrived (a number) replace the turn's; absent or null ones leave them. */
const mergeInto = (counters: Counters, wire: unknown): void => {
  if (typeof wire !== "object" || wire === null) return
  for (const key of Object.keys(counters) as Array<keyof Counters>) {
    const value = (wire as Record<string, unknown>)[key]
    if (typeof value === "number") counters[key] = value
  }
}

/**
 * Folds an ask's events into the events of one message. `done` turns true when the message is
 * complete before the ask is (the model called a tool of the caller's and the harness's own
 * calls of that turn have their results).
 * @internal
 */
export class MessageTranslator {
  private started = false
  private nextIndex = 0
  private turnStart = 0
  private readonly indexes = new Map<number, number>()
  private readonly total = zero()
  private turn = zero()
  private stopReason: string | null = "end_turn"
  private stopSequence: string | null = null
  private clientCalls = 0
  private pendingResults = 0
  private readonly clientIds = new Set<string>()
  done = false
  finished = false

  constructor(
    private readonly id: string,
    private readonly clientTools: ReadonlySet<string>
  ) {}

  push(event: StreamEvent.StreamEvent): ReadonlyArray<Out> {
    switch (event.type) {
      case "message_start":
        return this.messageStart(event)
      case "content_block_start": {
        const index = this.nextIndex++
        this.indexes.set(event.index, index)
        return [{ type: "content_block_start", index, content_block: this.startBlock(event.content_block) }]
      }
      case "content_block_delta":
        return [{ ...event, index: this.indexes.get(event.index) ?? event.index }]
      case "content_block_stop":
        return [{ ...event, index: this.indexes.get(event.index) ?? event.index }]
      case "message_delta":
        mergeInto(this.turn, event.usage)
        this.stopReason = event.delta.stop_reason ?? this.stopReason
        this.stopSequence = event.delta.stop_sequence ?? null
        return []
      case "message_stop":
        for (const key of Object.keys(this.total) as Array<keyof Counters>) this.total[key] += this.turn[key]
        this.turn = zero()
        if (this.clientCalls > 0 && this.pendingResults === 0) this.done = true
        return []
      case "tool_result":
        return this.toolResult(event)
      case "discard":
        this.nextIndex = Math.max(this.nextIndex, this.turnStart)
        return [{ type: "discard", from: this.turnStart }]
      // the Messages API has no such events
      case "approval_request":
      case "compaction":
        return []
    }
  }

  private messageStart(event: StreamEvent.MessageStart): ReadonlyArray<Out> {
    this.turn = zero()
    mergeInto(this.turn, event.message.usage)
    this.indexes.clear()
    this.turnStart = this.nextIndex
    this.clientCalls = 0
    this.pendingResults = 0
    if (this.started) return []
    this.started = true
    return [
      {
        type: "message_start",
        message: {
          id: this.id,
          type: "message",
          role: "assistant",
          model: event.message.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...this.turn }
        }
      }
    ]
  }

  private startBlock(block: StreamEvent.StartBlock): Record<string, unknown> {
    if (block.type !== "tool_use") return block
    const use = block as { readonly id: string; readonly name: string }
    if (this.clientTools.has(use.name)) {
      this.clientCalls++
      this.clientIds.add(use.id)
      return { type: "tool_use", id: use.id, name: use.name, input: {} }
    }
    this.pendingResults++
    return { type: "mcp_tool_use", id: use.id, name: use.name, server_name: SERVER_NAME, input: {} }
  }

  private toolResult(event: StreamEvent.ToolResult): ReadonlyArray<Out> {
    if (this.clientIds.has(event.tool_use_id)) return []
    this.pendingResults = Math.max(0, this.pendingResults - 1)
    if (this.clientCalls > 0 && this.pendingResults === 0) this.done = true
    const index = this.nextIndex++
    const content = typeof event.content === "string" ? [{ type: "text", text: event.content }] : event.content
    return [
      {
        type: "content_block_start",
        index,
        content_block: { type: "mcp_tool_result", tool_use_id: event.tool_use_id, is_error: event.is_error, content }
      },
      { type: "content_block_stop", index }
    ]
  }

  /** The message's end: its stop reason (the last turn's, or `override`) and its summed usage. */
  finish(override?: string): ReadonlyArray<Out> {
    this.finished = true
    for (const key of Object.keys(this.total) as Array<keyof Counters>) this.total[key] += this.turn[key]
    this.turn = zero()
    return [
      {
        type: "message_delta",
        delta: {
          stop_reason: override ?? (this.done ? "tool_use" : this.stopReason),
          stop_sequence: this.stopSequence
        },
        usage: { ...this.total }
      },
      { type: "message_stop" }
    ]
  }
}

/**
 * Folds the events of one message into the message, as `finalMessage()` does; the blocks of a
 * discarded attempt are dropped.
 * @internal
 */
export class MessageAccumulator {
  private message: Record<string, unknown> | undefined
  private readonly blocks = new Map<number, Record<string, unknown>>()
  private readonly json = new Map<number, string>()

  pushAll(events: ReadonlyArray<Out>): void {
    for (const event of events) this.push(event)
  }

  push(event: Out): void {
    switch (event.type) {
      case "message_start":
        this.message = { ...(event.message as Record<string, unknown>) }
        return
      case "content_block_start":
        this.blocks.set(event.index as number, { ...(event.content_block as Record<string, unknown>) })
        return
      case "content_block_delta":
        this.delta(event.index as number, event.delta as Record<string, unknown>)
        return
      case "content_block_stop": {
        const index = event.index as number
        const block = this.blocks.get(index)
        const json = this.json.get(index)
        if (block !== undefined && json !== undefined) block.input = json.length === 0 ? {} : JSON.parse(json)
        return
      }
      case "message_delta": {
        if (this.message === undefined) return
        Object.assign(this.message, event.delta as object)
        this.message.usage = event.usage
        return
      }
      case "discard":
        for (const index of [...this.blocks.keys()]) if (index >= (event.from as number)) this.blocks.delete(index)
        return
    }
  }

  private delta(index: number, delta: Record<string, unknown>): void {
    const block = this.blocks.get(index)
    if (block === undefined) return
    switch (delta.type) {
      case "text_delta":
        block.text = `${block.text ?? ""}${delta.text}`
        return
      case "input_json_delta":
        this.json.set(index, `${this.json.get(index) ?? ""}${delta.partial_json}`)
        return
      case "thinking_delta":
        block.thinking = `${block.thinking ?? ""}${delta.thinking}`
        return
      case "signature_delta":
        block.signature = delta.signature
        return
      case "citations_delta":
        block.citations = [...((block.citations as Array<unknown>) ?? []), delta.citation]
        return
    }
  }

  /** The whole message. */
  result(): Record<string, unknown> {
    const content = [...this.blocks.entries()].sort(([a], [b]) => a - b).map(([, block]) => block)
    return { ...this.message, content }
  }
}

/**
 * A harness error as the Anthropic API's error type and status.
 * @internal
 */
export const anthropicError = (
  error: HarnessError.HarnessError
): { readonly status: number; readonly type: string; readonly message: string } => {
  if (error._tag === "Timeout") return { status: 504, type: "timeout_error", message: error.message }
  if (error._tag === "InvalidOptions") return { status: 400, type: "invalid_request_error", message: error.message }
  if (error._tag !== "ProviderError") return { status: 500, type: "api_error", message: error.message }
  switch (error.reason) {
    case "InvalidRequest":
      return { status: 400, type: "invalid_request_error", message: error.message }
    case "RequestTooLarge":
      return { status: 413, type: "request_too_large", message: error.message }
    case "RateLimited":
      return { status: 429, type: "rate_limit_error", message: error.message }
    case "Overloaded":
      return { status: 529, type: "overloaded_error", message: error.message }
    default:
      // the upstream's credentials, a missing model, a dropped connection: the server's problem
      return {
        status: 500,
        type: "api_error",
        message: `The model provider failed (${error.reason}): ${error.message}`
      }
  }
}
