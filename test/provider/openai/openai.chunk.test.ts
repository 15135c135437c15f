/**
 * The OpenAI-compatible provider's two hand-written hot paths, held to their references: the chunk
 * check against the chunk Schema, and the SSE framing against every way the spec allows a stream
 * to be written.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import fc from "fast-check"
import { Provider } from "../../../src/index.js"
import * as Chunk from "../../../src/provider/openai/Chunk.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

/** A field: absent, `null`, a valid value, or a value of a wrong type. */
const field = <A>(valid: fc.Arbitrary<A>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 6, arbitrary: valid },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant([]), fc.constant({}))
    }
  )

/** A record of `fields`, leaving out the ones that came out `undefined`. */
const struct = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record(fields)
    .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)))

const text = fc.string({ maxLength: 6 })
const count = fc.nat(5_000)

const usage = struct({
  prompt_tokens: field(count),
  completion_tokens: field(count),
  prompt_cache_hit_tokens: field(count),
  prompt_tokens_details: field(struct({ cached_tokens: field(count) }))
})

const textPart = struct({ type: fc.oneof(fc.constant("text"), fc.integer()), text: field(text) })
const contentPart = struct({
  type: fc.oneof(fc.constantFrom("text", "thinking", "image_url"), fc.constant(7)),
  text: field(text),
  thinking: field(fc.oneof(text, fc.array(textPart, { maxLength: 2 })))
})
const detail = struct({
  type: fc.oneof(fc.constantFrom("reasoning.text", "reasoning.encrypted", "reasoning.summary"), fc.constant(null)),
  text: field(text),
  summary: field(text),
  signature: field(text),
  data: field(text)
})
const toolCall = struct({
  index: field(fc.nat(3)),
  id: field(text),
  type: field(fc.constant("function")),
  function: field(
    struct({
      name: field(text),
      arguments: field(fc.oneof(text, fc.dictionary(text, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 })))
    })
  )
})
const delta = struct({
  role: field(fc.constant("assistant")),
  content: field(fc.oneof(text, fc.array(contentPart, { maxLength: 2 }))),
  refusal: field(text),
  reasoning_content: field(text),
  reasoning: field(text),
  reasoning_details: field(fc.array(detail, { maxLength: 2 })),
  tool_calls: field(fc.array(toolCall, { maxLength: 2 }))
})
const choice = struct({
  index: field(fc.nat(1)),
  delta: field(delta),
  finish_reason: field(fc.constantFrom("stop", "tool_calls", "length")),
  stop_reason: fc.oneof(fc.constant(undefined), fc.constant(null), text, fc.integer())
})
const chunk: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 12,
    arbitrary: struct({
      id: field(text),
      model: field(text),
      choices: field(fc.array(choice, { maxLength: 2 })),
      usage: field(usage),
      x_groq: field(struct({ usage: field(usage) }))
    })
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.integer(), text, fc.constant([])) }
)

describe("OpenAI provider: the chunk check", () => {
  it("accepts exactly what the chunk Schema accepts", () => {
    let accepted = 0
    let rejected = 0
    fc.assert(
      fc.property(chunk, (raw) => {
        const fast = Chunk.isChunk(raw)
        const schema = Chunk.decodeChunkStrict(raw) === undefined
        assert.strictEqual(fast, schema, JSON.stringify(raw))
        if (fast) accepted++
        else rejected++
      }),
      { numRuns: 6_000 }
    )
    assert.isAbove(accepted, 300, "the generator reaches valid chunks")
    assert.isAbove(rejected, 300, "and invalid ones")
    // arrays where a struct is wanted
    for (const raw of [{ choices: [[]] }, { choices: [{ delta: [] }] }, { usage: [] }]) {
      assert.strictEqual(Chunk.isChunk(raw), Chunk.decodeChunkStrict(raw) === undefined)
    }
  })
})

describe("OpenAI provider: SSE framing", () => {
  interface Framing {
    readonly eol: "\n" | "\r\n" | "\r"
    readonly dataSpace: boolean
    /** The JSON over two `data:` lines (joined with a newline: the same JSON). */
    readonly splitData: boolean
    /** A comment, an `id:` and a `retry:` line before the message. */
    readonly extras: boolean
  }
  const framing: fc.Arbitrary<Framing> = fc.record({
    eol: fc.constantFrom("\n", "\r\n", "\r"),
    dataSpace: fc.boolean(),
    splitData: fc.boolean(),
    extras: fc.boolean()
  })

  const render = (payloads: ReadonlyArray<unknown>, framings: ReadonlyArray<Framing>): string =>
    [...payloads.map((p) => JSON.stringify(p)), "[DONE]"]
      .map((data, i) => {
        const f = framings[i % framings.length]!
        const line = (value: string) => `data:${f.dataSpace ? " " : ""}${value}${f.eol}`
        const extras = f.extras ? `: keep-alive${f.eol}id: ${i}${f.eol}retry: 1000${f.eol}` : ""
        const cut = data.indexOf(",")
        const body = f.splitData && cut > 0 ? line(data.slice(0, cut + 1)) + line(data.slice(cut + 1)) : line(data)
        return `${extras}${body}${f.eol}`
      })
      .join("")

  it.live("every framing the SSE spec allows, cut anywhere, gives the same events", () =>
    Effect.gen(function* () {
      const payloads = [
        ...OpenAIServer.textChunks(["Hé", "llo ☕", ', "world"\n']),
        OpenAIServer.chunk({
          tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: '{"a":' } }]
        }),
        OpenAIServer.chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] })
      ]
      const server = yield* OpenAIServer.make()
      const provider = yield* Effect.provide(
        Effect.gen(function* () {
          return yield* Provider.Provider
        }),
        OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url })
      )
      const read = (sse: string, chunkSize: number) => {
        server.enqueue({ sse, chunkSize })
        return provider
          .stream({ messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], tools: [] })
          .pipe(
            Stream.runCollect,
            Effect.map((events) => JSON.parse(JSON.stringify([...events])))
          )
      }
      const reference = yield* read(OpenAIServer.sse(payloads), 0)
      assert.isAbove(reference.length, 8)
      const samples = fc.sample(
        fc.tuple(fc.array(framing, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 })),
        { numRuns: 40, seed: 42 }
      )
      for (const [framings, chunkSize] of samples) {
        assert.deepStrictEqual(yield* read(render(payloads, framings), chunkSize), reference)
      }
    }).pipe(Effect.scoped)
  )
})
