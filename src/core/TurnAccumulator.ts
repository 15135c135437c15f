/**
 * The fold of one turn's events into a response: it starts from `message_start`'s message (usually
 * empty, sometimes already holding blocks and a stop reason), then text deltas joined, tool input
 * JSON joined and parsed at block stop (an empty input meaning `{}`), thinking with its
 * signature, citations appended, a `compaction` block's summary set from its `compaction_delta`,
 * deltas of unknown kinds folded by their shape (string fields appended to the block's field of
 * the same name), usage counters replaced (not summed) as they arrive. A `discard` event (a
 * fallback chain moving on after output) starts the turn over from the next `message_start`; the
 * usage of what it dropped stays counted.
 *
 * Mutable for speed on the per-token path, but local: one accumulator per turn attempt.
 */

import { Schema } from "effect"
import { mergeCounts } from "./counts.js"
import { Partial, ProviderError } from "./HarnessError.js"
import * as Message from "./Message.js"
import { NormalizedResponse } from "./NormalizedResponse.js"
import { parsePartial } from "./partialJson.js"
import type * as StreamEvent from "./StreamEvent.js"
import * as Usage from "./Usage.js"

type MutableBlock = { type: string; [key: string]: unknown }

/** The fields of a `NormalizedResponse`, as the accumulator built them. */
export interface TurnResult {
  readonly id?: string
  readonly model?: string
  readonly stopReason: NormalizedResponse["stopReason"]
  readonly stopSequence?: string | null
  readonly content: Array<Message.ContentBlock>
  readonly usage: Usage.Usage
}

const isContentBlock = Schema.is(Message.ContentBlock)

const tracksInput = (block: MutableBlock) => block.type === "tool_use" || "input" in block

/**
 * Deltas of one block joined into one flat string at a time (see `TurnAccumulator.parts`). Small
 * enough that the deltas are joined while they are fresh in the cache: joining 100 deltas that
 * arrived over two seconds at the end of a turn cost ~10 us per run when 1,000 runs ended
 * together (256 before); large enough to keep the rope short (31,250 nodes for 1,000,000 deltas).
 */
const JOIN_EVERY = 32

export class TurnAccumulator {
  id: string | undefined = undefined
  model: string | undefined = undefined
  started = false
  stopped = false
  stopReason: string | undefined = undefined
  stopSequence: string | null | undefined = undefined
  /**
   * The usage counters so far. A `Usage` is a schema-checked class, and building one for each of
   * the two usage events of every turn was a measurable part of a turn's fixed cost; it is built
   * when read.
   */
  private counters: Usage.Counts | undefined = undefined
  private built: Usage.Usage | undefined = undefined
  /** The usage of the attempts a `discard` dropped (a fallback chain's), counted in {@link usage}. */
  private dropped: Usage.Usage | undefined = undefined
  /** The provider `message_start` named (`message.provider`, set by a fallback chain). */
  private named: string | undefined = undefined
  /** Whether any event of this attempt has been handed on. */
  emitted = false
  readonly blocks: Array<MutableBlock | undefined> = []
  readonly json: Array<string | undefined> = []
  readonly closed: Array<boolean> = []
  /** Blocks whose tool input was cut short and completed from a JSON prefix. */
  readonly truncated = new Set<number>()
  /**
   * Deltas of unknown kinds that could not be folded into their block (see `foldUnknown`): the
   * block was kept as it was; a consumer may log them.
   */
  readonly unfolded: Array<{ readonly index: number; readonly type: string; readonly field: string }> = []
  /**
   * Text and thinking deltas not yet joined into their block. `block.text += delta` would keep
   * every delta alive as a node of a string rope (a 32-byte cons string each, more when the
   * delta strings are not shared: 1,000,000 deltas held ~28 MB of live heap for 5 MB of text,
   * and every scavenge copied them); joined `JOIN_EVERY` at a time they are one flat string per
   * chunk. Blocks are joined whenever they are read.
   */
  private readonly parts: Array<Array<string> | undefined> = []

  constructor(readonly provider: string) {}

  private invalid(message: string): ProviderError {
    const provider = this.answeredBy
    return new ProviderError({
      reason: "InvalidResponse",
      provider,
      message: `The ${provider} stream was malformed: ${message}. This is a provider or proxy fault; report it if it repeats.`,
      partial: this.partial(Usage.empty)
    })
  }

  /** The provider that streams the turn: the one `message_start` named, else the accumulator's. */
  get answeredBy(): string {
    return this.named ?? this.provider
  }

  /** The turn's usage so far, with that of attempts a `discard` dropped. */
  get usage(): Usage.Usage {
    if (this.counters === undefined) return this.dropped ?? Usage.empty
    this.built ??= Usage.make(this.counters)
    return this.dropped === undefined ? this.built : Usage.add(this.dropped, this.built)
  }

  /** Applies a wire usage object as `Usage.merge` does: present counters replace earlier ones. */
  private count(wire: Usage.WireUsage | null | undefined): void {
    if (wire == null) return
    this.counters = mergeCounts(this.counters ?? Usage.empty, wire)
    this.built = undefined
  }

  /** Applies one event; returns a typed error when the event sequence is malformed. */
  apply(event: StreamEvent.ProviderEvent): ProviderError | undefined {
    switch (event.type) {
      case "content_block_delta":
        return this.delta(event)
      case "message_start":
        return this.start(event)
      case "content_block_start": {
        if (!this.started) return this.invalid("content_block_start before message_start")
        const block: MutableBlock = { ...(event.content_block as MutableBlock) }
        if (block.type === "tool_use" && block.input === undefined) block.input = {}
        this.blocks[event.index] = block
        if (tracksInput(block)) this.json[event.index] = ""
        return undefined
      }
      case "content_block_stop":
        return this.stopBlock(event.index)
      case "message_delta": {
        if (!this.started) return this.invalid("message_delta before message_start")
        if (event.delta.stop_reason != null) this.stopReason = event.delta.stop_reason
        if (event.delta.stop_sequence !== undefined) this.stopSequence = event.delta.stop_sequence
        this.count(event.usage)
        if (this.truncated.size > 0 && this.stopReason !== "max_tokens") {
          const index = this.truncated.values().next().value!
          return this.invalid(
            `the input of tool call "${String(this.blocks[index]?.name)}" is incomplete JSON, but the turn did not hit max_tokens`
          )
        }
        return undefined
      }
      case "message_stop": {
        if (!this.started) return this.invalid("message_stop before message_start")
        this.stopped = true
        return undefined
      }
      case "discard":
        this.restart()
        return undefined
    }
  }

  /**
   * A `discard`: what the turn had is dropped (its usage stays counted) and the next
   * `message_start` starts it over. `emitted` stays: the consumer has seen output of this turn.
   */
  private restart(): void {
    this.dropped = this.usage
    this.counters = undefined
    this.built = undefined
    this.id = undefined
    this.model = undefined
    this.named = undefined
    this.started = false
    this.stopped = false
    this.stopReason = undefined
    this.stopSequence = undefined
    this.blocks.length = 0
    this.json.length = 0
    this.closed.length = 0
    this.parts.length = 0
    this.truncated.clear()
    this.unfolded.length = 0
  }

  /** A `content_block_delta`: the per-token path. */
  private delta(event: StreamEvent.ContentBlockDelta): ProviderError | undefined {
    const block = this.blocks[event.index]
    if (block === undefined) return this.invalid(`a delta for block ${event.index}, which was never started`)
    const delta = event.delta as { type: string; [key: string]: unknown }
    switch (delta.type) {
      case "text_delta":
        if (block.type === "text") this.append(event.index, delta.text as string)
        break
      case "input_json_delta":
        this.json[event.index] = (this.json[event.index] ?? "") + (delta.partial_json as string)
        break
      case "thinking_delta":
        if (block.type === "thinking") this.append(event.index, delta.thinking as string)
        break
      case "signature_delta":
        if (block.type === "thinking") block.signature = delta.signature
        break
      case "citations_delta":
        if (block.type === "text") {
          block.citations = [...((block.citations as Array<unknown> | undefined) ?? []), delta.citation]
        }
        break
      case "compaction_delta":
        // as the SDK: the delta carries the block's whole value (`null`: the compaction failed)
        if (block.type === "compaction") {
          block.content = delta.content
          if ("encrypted_content" in delta) block.encrypted_content = delta.encrypted_content
        } else this.foldUnknown(event.index, block, delta)
        break
      default:
        this.foldUnknown(event.index, block, delta)
    }
    return undefined
  }

  /** A `content_block_stop`: text joined, tool input parsed (completed when cut short). */
  private stopBlock(index: number): ProviderError | undefined {
    const block = this.blocks[index]
    if (block === undefined) return this.invalid(`content_block_stop for block ${index}, which was never started`)
    this.closed[index] = true
    this.join(index)
    const json = this.json[index]
    if (json === undefined || json.length === 0) return undefined
    try {
      block.input = JSON.parse(json)
    } catch {
      try {
        block.input = parsePartial(json)
        this.truncated.add(index)
      } catch {
        return this.invalid(
          `the input of tool call "${String(block.name)}" is not valid JSON: ${JSON.stringify(json.slice(0, 200))}`
        )
      }
    }
    return undefined
  }

  /**
   * Starts the turn from `message_start`'s message, as the SDK's `MessageStream` does: usually
   * empty, but it may already hold whole blocks and a stop reason (a tool call made by code the
   * API ran), which are the turn's as they came.
   */
  private start(event: StreamEvent.MessageStart): ProviderError | undefined {
    if (this.started) return this.invalid("a second message_start before message_stop")
    this.started = true
    const message = event.message
    this.id = message.id
    this.model = message.model
    if (message.provider !== undefined) this.named = message.provider
    this.counters = undefined
    this.count(message.usage)
    const content = message.content
    for (let index = 0; index < content.length; index++) {
      const block = content[index]
      if (!isContentBlock(block)) {
        return this.invalid(
          `message_start holds a content block that is not valid: ${JSON.stringify(block)?.slice(0, 200)}`
        )
      }
      this.blocks[index] = { ...(block as MutableBlock) }
      this.closed[index] = true
    }
    if (message.stop_reason != null) this.stopReason = message.stop_reason
    if (message.stop_sequence !== undefined) this.stopSequence = message.stop_sequence
    return undefined
  }

  /**
   * A delta of a kind this fold does not know (a newer API's), folded by its shape into the fields
   * the block already has: a string field is appended to the block's field of the same name (a
   * string, or `null` meaning empty), any other value replaces it. A field the block does not have,
   * or a string for a field that is not one, cannot be folded: the block keeps what it had (as the
   * SDK's `MessageStream`, which ignores deltas it does not know) and the field is listed in
   * {@link unfolded}; the events still carry it.
   */
  private foldUnknown(index: number, block: MutableBlock, delta: { readonly [key: string]: unknown }): void {
    for (const key of Object.keys(delta)) {
      if (key === "type") continue
      const value = delta[key]
      const current = block[key]
      if (!(key in block) || (typeof value === "string" && current !== null && typeof current !== "string")) {
        this.unfolded.push({ index, type: String(delta.type), field: key })
      } else if (typeof value !== "string") block[key] = value
      else block[key] = current === null ? value : (current as string) + value
    }
  }

  private append(index: number, part: string): void {
    const parts = this.parts[index]
    if (parts === undefined) this.parts[index] = [part]
    else if (parts.push(part) >= JOIN_EVERY) this.join(index)
  }

  private join(index: number): void {
    const parts = this.parts[index]
    if (parts === undefined) return
    this.parts[index] = undefined
    const block = this.blocks[index]!
    const key = block.type === "thinking" ? "thinking" : "text"
    block[key] = (block[key] as string) + (parts.length === 1 ? parts[0]! : parts.join(""))
  }

  private joinAll(): void {
    for (let index = 0; index < this.parts.length; index++) this.join(index)
  }

  /** The content blocks of the turn (so far). */
  content(): Array<Message.ContentBlock> {
    this.joinAll()
    const out: Array<Message.ContentBlock> = []
    for (const block of this.blocks) if (block !== undefined) out.push(block as Message.ContentBlock)
    return out
  }

  /**
   * The whole turn as plain fields (what the agent loop needs, without building and checking a
   * `NormalizedResponse`: at the end of every run, under load, that schema pass was one of the
   * largest costs); fails when the stream ended without `message_stop`.
   */
  result(): TurnResult | ProviderError {
    if (!this.stopped) {
      return this.invalid(
        this.started ? "the stream ended without message_stop" : "the stream ended before message_start"
      )
    }
    // optional fields are set one by one: an object literal with conditional spreads cost about
    // 2 µs (each spread after the first is a runtime call), at the end of every turn
    const result: { -readonly [K in keyof TurnResult]: TurnResult[K] } = {
      stopReason: this.stopReason ?? "end_turn",
      content: this.content(),
      usage: this.usage
    }
    if (this.id !== undefined) result.id = this.id
    if (this.model !== undefined) result.model = this.model
    if (this.stopSequence !== undefined) result.stopSequence = this.stopSequence
    return result
  }

  /** The whole response; fails when the stream ended without `message_stop`. */
  response(): NormalizedResponse | ProviderError {
    const result = this.result()
    return result instanceof ProviderError ? result : new NormalizedResponse(result)
  }

  /**
   * What the turn has produced so far: complete blocks and text or thinking in progress; tool
   * calls whose input is not complete are left out. `usage` is the run's usage before this turn.
   */
  partial(runUsage: Usage.Usage): Partial {
    this.joinAll()
    const content: Array<Message.ContentBlock> = []
    this.blocks.forEach((block, index) => {
      if (block === undefined) return
      if (this.json[index] !== undefined && !this.closed[index]) return
      content.push({ ...block } as Message.ContentBlock)
    })
    return new Partial({ text: Message.textOf(content), content, usage: Usage.add(runUsage, this.usage) })
  }
}
