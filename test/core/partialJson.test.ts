import { partialParse } from "@anthropic-ai/sdk/_vendor/partial-json-parser/parser.mjs"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { parsePartial } from "../../src/core/partialJson.js"

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false }

const outcome = (parse: (input: string) => unknown, input: string): Outcome => {
  try {
    return { ok: true, value: parse(input) }
  } catch {
    return { ok: false }
  }
}

/** Asserts that our parser and the official SDK's agree on `input`: the same value, or both throw. */
const assertAgrees = (input: string): void => {
  assert.deepStrictEqual(outcome(parsePartial, input), outcome(partialParse, input), `input: ${JSON.stringify(input)}`)
}

const prefixes = (text: string): Array<string> => Array.from({ length: text.length + 1 }, (_, i) => text.slice(0, i))

describe("parsePartial agrees with the SDK's partialParse", () => {
  it("on every prefix of a compact JSON text", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        for (const prefix of prefixes(JSON.stringify(value))) assertAgrees(prefix)
      }),
      { numRuns: 300 }
    )
  })

  it("on every prefix of a pretty-printed JSON text", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        for (const prefix of prefixes(JSON.stringify(value, null, 2))) assertAgrees(prefix)
      }),
      { numRuns: 300 }
    )
  })

  it("on every prefix of a JSON object with escapes and numbers in exponent form", () => {
    const tricky = fc.dictionary(
      fc.string({ unit: fc.constantFrom("a", '"', "\\", "\n", "é", "😀", " ") }),
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean(), fc.constant(null)),
      { maxKeys: 4 }
    )
    fc.assert(
      fc.property(tricky, (value) => {
        for (const prefix of prefixes(JSON.stringify(value))) assertAgrees(prefix)
      }),
      { numRuns: 300 }
    )
  })

  it("on arbitrary text built from JSON characters", () => {
    const text = fc.string({
      unit: fc.constantFrom(
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        '"',
        "\\",
        " ",
        "1",
        "-",
        ".",
        "e",
        "+",
        "t",
        "r",
        "u",
        "n",
        "a",
        "x"
      ),
      maxLength: 24
    })
    fc.assert(fc.property(text, assertAgrees), { numRuns: 2_000 })
  })
})

describe("parsePartial", () => {
  it("drops an unfinished string value together with its key", () => {
    assert.deepStrictEqual(parsePartial('{"a": "hel'), {})
  })

  it("drops a truncated literal", () => {
    assert.deepStrictEqual(parsePartial('{"a": 1, "b": tr'), { a: 1 })
  })

  it("drops a number that may still grow", () => {
    assert.deepStrictEqual(parsePartial("[1, 2"), [1])
  })

  it("keeps a complete string item of an array", () => {
    assert.deepStrictEqual(parsePartial('["x", "y"'), ["x", "y"])
  })

  it("drops a key still waiting for its value", () => {
    assert.deepStrictEqual(parsePartial('{"a": [1, {"b": 2}], "c"'), { a: [1, { b: 2 }] })
    assert.deepStrictEqual(parsePartial('{"a": 1, "c":'), { a: 1 })
  })

  it("parses complete JSON as JSON.parse does", () => {
    const text = '{"a": [1, 2.5, -3e2, true, false, null, "s\\"q"], "b": {}}'
    assert.deepStrictEqual(parsePartial(text), JSON.parse(text))
  })

  it("throws on garbage", () => {
    assert.throws(() => parsePartial("hello"))
    assert.throws(() => parsePartial('{"a": nope}'))
    assert.throws(() => parsePartial("[1, 2]]"))
    assert.throws(() => parsePartial('{"a": 1]'))
    assert.throws(() => parsePartial("@"))
  })
})
