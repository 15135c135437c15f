import { assert, describe, it } from "@effect/vitest"
import { Message } from "../../src/index.js"

const text = (value: string, extra: Record<string, unknown> = {}) => ({ type: "text" as const, text: value, ...extra })
const use = { type: "tool_use" as const, id: "toolu_1", name: "sql", input: {} }

describe("Message.sendable: what may be sent back to the Messages API", () => {
  it("keeps a list without whitespace-only text as the same array", () => {
    const blocks = [text("A"), use]
    assert.strictEqual(Message.sendable(blocks), blocks)
  })

  it("appends a whitespace-only block to the text before it, keeping that block's other fields", () => {
    const cited = text("Winds are from the west.", { citations: [{ type: "web_search_result_location", url: "u" }] })
    assert.deepStrictEqual(Message.sendable([cited, text(" "), text("Fares rise.")]), [
      { ...cited, text: "Winds are from the west. " },
      text("Fares rise.")
    ])
  })

  it("prepends it to the text after it when no text is before it", () => {
    assert.deepStrictEqual(Message.sendable([text("\n\n"), text("Answer")]), [text("\n\nAnswer")])
  })

  it("drops it when no text block is next to it, and leaves other blocks untouched", () => {
    const thinking = { type: "thinking" as const, thinking: "t", signature: "s" }
    assert.deepStrictEqual(Message.sendable([text("\n"), thinking, text(""), use]), [thinking, use])
    assert.deepStrictEqual(Message.sendable([text(" \n\t")]), [])
  })

  it("never leaves a whitespace-only or empty text block, whatever the sequence", () => {
    const pieces = [text(" "), text("x"), text("\n"), use, text(""), text("y"), text("\t")]
    for (let mask = 0; mask < 1 << pieces.length; mask++) {
      const blocks = pieces.filter((_, i) => (mask >> i) & 1)
      const out = Message.sendable(blocks)
      for (const block of out) if (block.type === "text") assert.match((block as { text: string }).text, /\S/)
      // the non-blank text survives, in order
      const joined = (list: ReadonlyArray<{ type: string; text?: string }>) =>
        list.map((b) => (b.type === "text" ? b.text!.trim() : `|${b.type}|`)).join("")
      assert.strictEqual(joined(out), joined(blocks.filter((b) => b.type !== "text" || /\S/.test(b.text))))
    }
  })
})
