import { partialParse } from "@anthropic-ai/sdk/_vendor/partial-json-parser/parser.mjs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import * as fc from "fast-check"
import {
  Accumulate,
  type Message,
  type NormalizedResponse,
  Provider,
  type StreamEvent,
  Usage
} from "../../src/index.js"
import { type Attempt, type AttemptSpec, jsonOf, run, runEvents } from "./arbitraries.js"
import { isPrefixCompletion } from "./prefix.js"

interface ResponseLike {
  readonly id?: string | undefined
  readonly model?: string | undefined
  readonly stopReason: string | undefined
  readonly stopSequence?: string | null | undefined
  readonly content: ReadonlyArray<Message.ContentBlock>
  readonly usage: Usage.Usage
}

/** The fields two responses are compared on, as plain data. */
const fields = (response: ResponseLike) => ({
  id: response.id,
  model: response.model,
  stopReason: response.stopReason,
  stopSequence: response.stopSequence,
  content: response.content,
  usage: { ...response.usage }
})

const folded = (attempt: Attempt): NormalizedResponse.NormalizedResponse =>
  Effect.runSync(Provider.collect(Stream.fromArray(attempt.whole)))

const stream = (events: ReadonlyArray<StreamEvent.StreamEvent>, chunk: number) =>
  Stream.fromArray(events).pipe(Stream.rechunk(chunk))

type Block = { readonly type: string; readonly [key: string]: unknown }

/** A block of a message in progress against the same block once whole. */
const assertPrefixBlock = (partial: Block, whole: Block | undefined, where: string) => {
  assert.isDefined(whole, `${where}: a block the whole turn does not have`)
  assert.strictEqual(partial.type, whole!.type, where)
  switch (partial.type) {
    case "text":
      assert.isTrue((whole!.text as string).startsWith(partial.text as string), `${where}: text is not a prefix`)
      break
    case "thinking":
      assert.isTrue((whole!.thinking as string).startsWith(partial.thinking as string), `${where}: thinking`)
      assert.include(["", whole!.signature], partial.signature, `${where}: signature`)
      break
    case "tool_use":
      assert.strictEqual(partial.id, whole!.id, where)
      assert.strictEqual(partial.name, whole!.name, where)
      assert.isTrue(
        isPrefixCompletion(partial.input, whole!.input),
        `${where}: ${JSON.stringify(partial.input)} is not a prefix-completion of ${JSON.stringify(whole!.input)}`
      )
      break
  }
}

/** The whole JSON a tool call of an attempt streams. */
const wholeJson = (spec: AttemptSpec, index: number): string => {
  const block = spec.turn.blocks[index]!
  if (block.type !== "tool_use") throw new Error("not a tool call")
  const lastTool = spec.turn.blocks.findLastIndex((b) => b.type === "tool_use")
  return jsonOf(block, spec.turn.truncateAt !== undefined && index === lastTool ? spec.turn.truncateAt : undefined)
}

const checkSnapshots = (specs: ReadonlyArray<AttemptSpec>, chunk: number) => {
  const { attempts, events } = runEvents(specs)
  const finals = attempts.map(folded)
  const owner = attempts.flatMap((attempt) => attempt.events.map(() => attempt.number))
  const snapshots = Effect.runSync(Stream.runCollect(Accumulate.snapshots(stream(events, chunk))))
  assert.strictEqual(snapshots.length, events.length)

  // what the deltas of each block of the current turn spell so far: the reference for its text
  let soFar = new Map<number, string>()
  snapshots.forEach((snapshot, i) => {
    const where = `event ${i} (${events[i]!.type})`
    const final = finals[owner[i]!]!
    const event = events[i]!
    if (event.type === "message_start" || event.type === "discard") soFar = new Map()
    if (event.type === "content_block_delta") {
      const delta = event.delta as { readonly [key: string]: unknown }
      const piece = delta.text ?? delta.thinking ?? delta.partial_json
      if (typeof piece === "string") soFar.set(event.index, (soFar.get(event.index) ?? "") + piece)
    }
    assert.strictEqual(snapshot.event, events[i])
    assert.strictEqual(snapshot.events, i + 1)
    if (events[i]!.type === "discard") {
      assert.isUndefined(snapshot.message, where)
      assert.isUndefined(snapshot.toolCall, where)
    }
    const message = snapshot.message
    if (message !== undefined) {
      if (message.complete) assert.deepStrictEqual(fields(message), fields(final), where)
      else {
        assert.isAtMost(message.content.length, final.content.length, where)
        message.content.forEach((block, j) => {
          assertPrefixBlock(block as Block, final.content[j] as Block, where)
          if (block.type === "text") assert.strictEqual(block.text, soFar.get(j) ?? "", `${where}: text so far`)
          if (block.type === "thinking") assert.strictEqual(block.thinking, soFar.get(j) ?? "", `${where}: thinking`)
        })
        assert.isTrue(final.text.startsWith(message.text), `${where}: message text`)
      }
    }
    const call = snapshot.toolCall
    if (call !== undefined) {
      const whole = final.content[call.index] as Block
      assert.strictEqual(call.id, whole.id)
      assert.strictEqual(call.name, whole.name)
      assert.isFalse(call.complete)
      assert.strictEqual(call.json, soFar.get(call.index) ?? "", `${where}: json so far`)
      assert.isTrue(wholeJson(specs[owner[i]!]!, call.index).startsWith(call.json), `${where}: json`)
      // parsed exactly as the SDK's MessageStream parses input so far
      assert.deepStrictEqual(call.input, call.json.length === 0 ? {} : partialParse(call.json), where)
      assert.isTrue(isPrefixCompletion(call.input, whole.input), `${where}: input`)
      const next = events[i + 1]
      if (next?.type === "content_block_stop" && next.index === call.index) {
        assert.deepStrictEqual(call.input, whole.input, `${where}: the input just before its block stops`)
      }
    }
    if (events[i]!.type === "tool_result") {
      const result = events[i] as StreamEvent.ToolResult
      assert.strictEqual(snapshot.toolCalls.find((c) => c.id === result.tool_use_id)?.result, result, where)
    }
  })

  const last = snapshots[snapshots.length - 1]!
  const completed = attempts.filter((attempt) => !attempt.discarded)
  assert.deepStrictEqual(
    last.turns.map(fields),
    completed.map((attempt) => fields(finals[attempt.number]!))
  )
  const results = new Map(
    events.filter((e): e is StreamEvent.ToolResult => e.type === "tool_result").map((e) => [e.tool_use_id, e])
  )
  const calls = completed.flatMap((attempt) =>
    finals[attempt.number]!.content.flatMap((block, index) =>
      block.type === "tool_use"
        ? [{ ...(block as Message.ToolUseBlock), index, complete: true, result: results.get(block.id as string) }]
        : []
    )
  )
  assert.deepStrictEqual(
    last.toolCalls.map(({ id, name, index, input, complete, result }) => ({
      id,
      name,
      index,
      input,
      complete,
      result
    })),
    calls.map(({ id, name, index, input, complete, result }) => ({ id, name, index, input, complete, result }))
  )
  const answer = calls.findLast((c) => c.name === "answer")
  assert.strictEqual(last.answer?.id, answer?.id)
  assert.deepStrictEqual(last.answer?.input, answer?.input)
}

const checkSummary = (specs: ReadonlyArray<AttemptSpec>, chunk: number) => {
  const { attempts, events } = runEvents(specs)
  const completed = attempts.filter((attempt) => !attempt.discarded).map(folded)
  const summary = Effect.runSync(Stream.run(stream(events, chunk), Accumulate.summary))
  assert.deepStrictEqual(summary.turns.map(fields), completed.map(fields))
  const last = completed[completed.length - 1]
  assert.strictEqual(summary.text, last?.text ?? "")
  assert.deepStrictEqual(summary.content, last?.content ?? [])
  assert.deepStrictEqual(summary.stopReason, last === undefined ? Option.none() : Option.some(last.stopReason))
  assert.deepStrictEqual({ ...summary.usage }, { ...completed.map((t) => t.usage).reduce(Usage.add, Usage.empty) })
  assert.strictEqual(summary.events, events.length)
  assert.strictEqual(summary.deltas, events.filter((e) => e.type === "content_block_delta").length)
  assert.strictEqual(summary.discarded, attempts.filter((a) => a.discarded).length)
  assert.deepStrictEqual(
    summary.toolResults,
    events.filter((e) => e.type === "tool_result")
  )
}

describe("Accumulate over random runs", () => {
  it("each turn's last snapshot equals the folded response, and every tool input before it is a prefix-completion of the whole", () => {
    fc.assert(fc.property(run, fc.integer({ min: 1, max: 8 }), checkSnapshots), { numRuns: 300 })
  })

  it("the summary holds the folded turns, the last turn's text and stop reason, the summed usage and the counts", () => {
    fc.assert(fc.property(run, fc.integer({ min: 1, max: 8 }), checkSummary), { numRuns: 300 })
  })
})

describe("isPrefixCompletion", () => {
  it("holds for inputs parsed from prefixes of the JSON, and fails for values that are not prefixes", () => {
    assert.isTrue(isPrefixCompletion({}, { a: 1 }))
    assert.isTrue(isPrefixCompletion({ a: [1, { b: "x" }] }, { a: [1, { b: "xy", c: 2 }, 3], d: null }))
    assert.isFalse(isPrefixCompletion({ a: 2 }, { a: 1 }))
    assert.isFalse(isPrefixCompletion({ e: 1 }, { a: 1 }))
    assert.isFalse(isPrefixCompletion([2], [1, 2]))
    assert.isFalse(isPrefixCompletion([1, 2, 3], [1, 2]))
    assert.isFalse(isPrefixCompletion("b", "ab"))
    assert.isFalse(isPrefixCompletion([], {}))
    assert.isFalse(isPrefixCompletion(null, {}))
  })
})
