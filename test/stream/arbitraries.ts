/**
 * Random runs for the accumulation property tests: turns of text, thinking and tool calls with
 * random JSON inputs, each payload split into deltas at random points, as a provider streams
 * them; a turn that hits `max_tokens` in the middle of its last tool call; attempts that stop
 * part-way and are discarded; `tool_result` events after the turns that call tools.
 */
import * as fc from "fast-check"
import type { StreamEvent } from "../../src/index.js"

export type BlockSpec =
  | { readonly type: "text"; readonly text: string; readonly cuts: ReadonlyArray<number> }
  | {
      readonly type: "thinking"
      readonly thinking: string
      readonly signature: string
      readonly cuts: ReadonlyArray<number>
    }
  | {
      readonly type: "tool_use"
      readonly name: string
      readonly input: Readonly<Record<string, unknown>>
      readonly pretty: boolean
      readonly cuts: ReadonlyArray<number>
    }

export interface TurnSpec {
  readonly blocks: ReadonlyArray<BlockSpec>
  readonly stopReason: "end_turn" | "tool_use" | "stop_sequence"
  readonly inputTokens: number
  readonly outputTokens: number
  /** Cut the last tool call's JSON at this point (modulo its length) and stop with `max_tokens`. */
  readonly truncateAt: number | undefined
}

export interface AttemptSpec {
  readonly turn: TurnSpec
  /** Set: the attempt stops after this many of its events (modulo) and is discarded. */
  readonly discardAfter: number | undefined
}

/** Split points: a few, or enough for more than 32 deltas in a block (the views join 32 at a time). */
const cuts = fc.oneof(
  fc.array(fc.nat({ max: 10_000 }), { maxLength: 12 }),
  fc.array(fc.nat({ max: 10_000 }), { minLength: 40, maxLength: 120 })
)

/** Strings with the characters that matter to JSON and to UTF-16 (escapes, quotes, astral). */
const tricky = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', "\\", "\n", "{", "}", "[", "]", ",", ":", " ", "é", "😀", "\u2028"),
    fc.string({ minLength: 1, maxLength: 1 })
  ),
  maxLength: 40
})

/** Text long enough, at times, for many deltas. */
const text = fc.oneof(tricky, fc.string({ minLength: 100, maxLength: 400 }))

const jsonInput = fc.dictionary(
  tricky,
  fc.oneof(fc.jsonValue({ maxDepth: 3 }), tricky, fc.double({ noNaN: true, noDefaultInfinity: true })),
  { maxKeys: 5 }
) as fc.Arbitrary<Record<string, unknown>>

export const block: fc.Arbitrary<BlockSpec> = fc.oneof(
  fc.record({ type: fc.constant("text" as const), text, cuts }),
  fc.record({ type: fc.constant("thinking" as const), thinking: text, signature: fc.base64String(), cuts }),
  fc.record({
    type: fc.constant("tool_use" as const),
    name: fc.constantFrom("sql", "javascript", "answer"),
    input: jsonInput,
    pretty: fc.boolean(),
    cuts
  })
)

export const turn: fc.Arbitrary<TurnSpec> = fc.record({
  blocks: fc.array(block, { minLength: 0, maxLength: 4 }),
  stopReason: fc.constantFrom("end_turn" as const, "tool_use" as const, "stop_sequence" as const),
  inputTokens: fc.nat({ max: 100_000 }),
  outputTokens: fc.nat({ max: 10_000 }),
  truncateAt: fc.option(fc.nat({ max: 10_000 }), { nil: undefined })
})

export const run: fc.Arbitrary<ReadonlyArray<AttemptSpec>> = fc.array(
  fc.record({ turn, discardAfter: fc.option(fc.nat({ max: 10_000 }), { freq: 4, nil: undefined }) }),
  { minLength: 1, maxLength: 4 }
)

/** `text` split at the given points (modulo its length), in order; never an empty piece. */
export const split = (text: string, points: ReadonlyArray<number>): Array<string> => {
  if (text.length === 0) return []
  const at = [...new Set(points.map((p) => p % text.length).filter((p) => p > 0))].sort((a, b) => a - b)
  const pieces: Array<string> = []
  let from = 0
  for (const point of [...at, text.length]) {
    pieces.push(text.slice(from, point))
    from = point
  }
  return pieces
}

/** The JSON a tool call's input streams as (cut short when the turn is truncated there). */
export const jsonOf = (spec: Extract<BlockSpec, { type: "tool_use" }>, truncateAt?: number): string => {
  const json = spec.pretty ? JSON.stringify(spec.input, null, 2) : JSON.stringify(spec.input)
  return truncateAt === undefined ? json : json.slice(0, truncateAt % (json.length + 1))
}

/** The id of the tool call at `index` of turn `turn`. */
export const callId = (turn: number, index: number) => `toolu_${turn}_${index}`

/** The events of one whole turn, as a provider streams them. */
export const turnEvents = (spec: TurnSpec, number: number): Array<StreamEvent.ProviderEvent> => {
  const lastTool = spec.blocks.findLastIndex((b) => b.type === "tool_use")
  const truncated = spec.truncateAt !== undefined && lastTool !== -1
  const events: Array<Record<string, unknown>> = [
    {
      type: "message_start",
      message: {
        id: `msg_${number}`,
        type: "message",
        role: "assistant",
        model: "model-x",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: spec.inputTokens, output_tokens: 1 }
      }
    }
  ]
  spec.blocks.forEach((b, index) => {
    const delta = (d: Record<string, unknown>) => events.push({ type: "content_block_delta", index, delta: d })
    switch (b.type) {
      case "text":
        events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } })
        for (const text of split(b.text, b.cuts)) delta({ type: "text_delta", text })
        break
      case "thinking":
        events.push({
          type: "content_block_start",
          index,
          content_block: { type: "thinking", thinking: "", signature: "" }
        })
        for (const thinking of split(b.thinking, b.cuts)) delta({ type: "thinking_delta", thinking })
        delta({ type: "signature_delta", signature: b.signature })
        break
      case "tool_use": {
        events.push({
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: callId(number, index), name: b.name, input: {} }
        })
        const json = jsonOf(b, truncated && index === lastTool ? spec.truncateAt : undefined)
        for (const partial_json of split(json, b.cuts)) delta({ type: "input_json_delta", partial_json })
        break
      }
    }
    events.push({ type: "content_block_stop", index })
  })
  // a truncated turn ends at its cut tool call
  if (truncated) {
    const stop = events.findIndex((e) => e.type === "content_block_stop" && e.index === lastTool)
    events.length = stop + 1
  }
  events.push({
    type: "message_delta",
    delta: { stop_reason: truncated ? "max_tokens" : spec.stopReason, stop_sequence: null },
    usage: { output_tokens: spec.outputTokens }
  })
  events.push({ type: "message_stop" })
  return events as Array<StreamEvent.ProviderEvent>
}

/** The tool results the harness would emit after a turn: one per call, in order. */
export const resultEvents = (spec: TurnSpec, number: number): Array<StreamEvent.ToolResult> =>
  spec.blocks.flatMap((b, index) =>
    b.type === "tool_use"
      ? [
          {
            type: "tool_result" as const,
            tool_use_id: callId(number, index),
            tool_name: b.name,
            content: `result of ${callId(number, index)}`,
            is_error: index % 2 === 1
          }
        ]
      : []
  )

/** One attempt of a run, as it streams: a whole turn and its results, or a part and a discard. */
export interface Attempt {
  readonly number: number
  /** Every event of the attempt's turn, whole (what it would have been). */
  readonly whole: ReadonlyArray<StreamEvent.ProviderEvent>
  /** The events that were streamed. */
  readonly events: ReadonlyArray<StreamEvent.StreamEvent>
  readonly discarded: boolean
}

/** The attempts of a run and all its events in order. */
export const runEvents = (
  specs: ReadonlyArray<AttemptSpec>
): { readonly attempts: ReadonlyArray<Attempt>; readonly events: ReadonlyArray<StreamEvent.StreamEvent> } => {
  const attempts = specs.map((spec, number): Attempt => {
    const whole = turnEvents(spec.turn, number)
    if (spec.discardAfter === undefined) {
      return { number, whole, events: [...whole, ...resultEvents(spec.turn, number)], discarded: false }
    }
    // at least message_start, never message_stop
    const kept = 1 + (spec.discardAfter % (whole.length - 1))
    return {
      number,
      whole,
      events: [...whole.slice(0, kept), { type: "discard", attempt: 1, reason: "Overloaded" }],
      discarded: true
    }
  })
  return { attempts, events: attempts.flatMap((a) => a.events) }
}
