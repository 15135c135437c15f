// @ts-check
/** @import { ContentBlock, Decision, Delta, Message, ServerEvent, ToolCard } from "./types.js" */
/**
 * The conversation on the page, built from the server's events as they stream (`apply`) or from
 * the session's history after a reload (`replay`): prompts, the model's text, each tool call with
 * its input as it is written and its result (a table, a chart, text), a card to approve or deny a
 * call that waits for approval, and how each ask ended.
 */
import { Approvals } from "./approval.js"
import { chartElement } from "./chart.js"
import { h, isRecords, recordTable, table, tryJson } from "./dom.js"

/**
 * The code a partial `sql` or `javascript` input holds so far (`{"query": "SELECT …` cut anywhere).
 * @param {string} json
 * @returns {string | undefined}
 */
const partialCode = (json) => {
  const match = /"(?:query|code)"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(json)
  if (match === null) return undefined
  const text = match[1].replace(/\\(u[0-9a-fA-F]{0,3})?$/, "")
  const decoded = tryJson(`"${text}"`)
  return typeof decoded === "string" ? decoded : text
}

/**
 * The input of a call as the card shows it: the SQL or code itself, else the JSON.
 * @param {string} name
 * @param {unknown} input
 */
const inputText = (name, input) => {
  const fields = /** @type {Record<string, unknown>} */ (typeof input === "object" && input !== null ? input : {})
  if (name === "sql" && typeof fields.query === "string") {
    return fields.save_as === undefined ? fields.query : `${fields.query}\n-- save_as ${String(fields.save_as)}`
  }
  if (name === "javascript" && typeof fields.code === "string") return fields.code
  if (name === "chart" && typeof fields.encoding === "object" && fields.encoding !== null) {
    const mark =
      typeof fields.mark === "object" && fields.mark !== null ? /** @type {any} */ (fields.mark).type : fields.mark
    const data =
      typeof fields.data === "object" && fields.data !== null ? /** @type {any} */ (fields.data).name : fields.data
    const channels = Object.entries(fields.encoding).map(([channel, defs]) => {
      const list = Array.isArray(defs) ? defs : [defs]
      const shown = list.map((d) => (d?.aggregate === undefined ? d?.field : `${d.aggregate}(${d.field ?? ""})`))
      return `${channel}: ${shown.join(", ")}`
    })
    return `${String(mark)} chart of ${String(data)}${fields.title === undefined ? "" : ` "${String(fields.title)}"`}\n${channels.join(" · ")}`
  }
  if (Object.keys(fields).length === 0) return ""
  return JSON.stringify(input)
}

/**
 * A tool result's text (results are strings, or lists of text blocks).
 * @param {string | ReadonlyArray<any>} content
 */
const textOf = (content) =>
  typeof content === "string" ? content : content.map((b) => (typeof b?.text === "string" ? b.text : "")).join("")

/**
 * What a result shows: a table for query results and records, a chart for `chart`, else text.
 * @param {string} sessionId
 * @param {string} tool
 * @param {string} text
 */
const resultBody = (sessionId, tool, text) => {
  const [first = "", ...rest] = text.split("\n")
  if (tool === "sql") {
    const inline = /** @type {any} */ (tryJson(first))
    if (inline !== undefined && Array.isArray(inline.columns) && Array.isArray(inline.rows)) {
      return h(
        "div",
        {},
        table(inline.columns, inline.rows, inline.rowCount),
        rest.length > 0 ? h("p", { class: "note" }, rest.join("\n")) : undefined
      )
    }
  }
  if (tool === "javascript") {
    // "Output:\n<printed lines>" and "Result: <JSON of the last expression>", then notes
    const lines = text.split("\n")
    const at = lines.findIndex((line) => line.startsWith("Result: "))
    const value = at < 0 ? undefined : tryJson(lines[at].slice("Result: ".length))
    if (isRecords(value)) {
      const before = lines.slice(0, at).join("\n")
      const after = lines.slice(at + 1).join("\n")
      return h(
        "div",
        {},
        before.length > 0 ? h("pre", { class: "text" }, before) : undefined,
        recordTable(value),
        after.length > 0 ? h("p", { class: "note" }, after) : undefined
      )
    }
  }
  if (tool === "chart") {
    const confirmation = /** @type {any} */ (tryJson(text))
    if (typeof confirmation?.chart === "string") {
      return h(
        "div",
        {},
        chartElement(sessionId, confirmation.chart),
        typeof confirmation.cut === "string" ? h("p", { class: "note" }, confirmation.cut) : undefined
      )
    }
  }
  const value = tryJson(text)
  if (tool === "list_variables" && Array.isArray(value)) {
    return h(
      "ul",
      { class: "listing" },
      ...value.map((/** @type {any} */ v) =>
        h("li", {}, h("b", {}, String(v.name)), ` ${v.kind}${v.rows === undefined ? "" : `, ${v.rows} rows`}`)
      )
    )
  }
  if (isRecords(value)) return recordTable(value)
  return h("pre", { class: "text" }, text)
}

export class Transcript {
  /**
   * @param {HTMLElement} root
   * @param {() => string} sessionId
   * @param {(toolUseId: string, decision: Decision) => Promise<unknown>} decide posts a decision about a waiting call
   */
  constructor(root, sessionId, decide) {
    this.root = root
    this.sessionId = sessionId
    /** @type {HTMLElement | undefined} the answer of the ask being shown */
    this.answer = undefined
    /** @type {HTMLElement | undefined} the model turn being shown */
    this.turn = undefined
    /** @type {Map<number, { kind: string, element: HTMLElement, card?: ToolCard }>} the blocks of that turn */
    this.blocks = new Map()
    /** @type {Map<string, ToolCard>} every tool call shown, by its id */
    this.cards = new Map()
    /** The calls waiting for approval, each with its card. */
    this.approvals = new Approvals(
      decide,
      (id) => this.cards.get(id),
      () => this.answer ?? this.root
    )
  }

  clear() {
    this.root.replaceChildren()
    this.answer = undefined
    this.turn = undefined
    this.blocks.clear()
    this.cards.clear()
    this.approvals.clear()
  }

  /**
   * Shows one event of an ask (the answer counts them in `data-events`).
   * @param {ServerEvent} event
   * @param {number} [id] its id in the session's log
   */
  apply(event, id) {
    this.approvals.seen(id)
    if (event.type !== "ask_start" && this.answer !== undefined) {
      this.answer.dataset.events = String(Number(this.answer.dataset.events ?? 0) + 1)
    }
    switch (event.type) {
      case "ask_start":
        return this.prompt(event.prompt, event.ask_id, event.resumed === true)
      case "message_start":
        return this.startTurn()
      case "content_block_start":
        return this.startBlock(event.index, event.content_block)
      case "content_block_delta":
        return this.delta(event.index, event.delta)
      case "content_block_stop":
        return this.stopBlock(event.index)
      case "tool_result":
        return this.result(event.tool_use_id, event.content, event.is_error)
      case "approval_request":
        return this.approvals.show(event, id)
      case "discard":
        this.turn?.remove()
        this.turn = undefined
        this.blocks.clear()
        return
      case "ask_end":
        return this.end(event.status, event.error?.message)
      case "error":
        return this.end("failed", event.error.message)
    }
  }

  /**
   * Shows a conversation from the session's history (messages in the Messages API's shapes).
   * @param {ReadonlyArray<Message>} messages
   */
  replay(messages) {
    for (const message of messages) {
      if (message.role === "user") {
        const prompt = message.content
          .map((b) => (b.type === "text" && "text" in b ? b.text : ""))
          .join("")
          .trim()
        if (prompt.length > 0) this.prompt(prompt, "")
        for (const block of message.content) {
          if (block.type === "tool_result" && "tool_use_id" in block) {
            this.result(block.tool_use_id, block.content, block.is_error === true)
          }
        }
        continue
      }
      this.startTurn()
      message.content.forEach((block, index) => {
        this.startBlock(index, block)
        if (block.type === "text" && "text" in block) this.delta(index, { type: "text_delta", text: block.text })
        if (block.type === "thinking" && "thinking" in block) {
          this.delta(index, { type: "thinking_delta", thinking: block.thinking })
        }
        this.stopBlock(index)
      })
    }
    if (this.answer !== undefined) this.answer.dataset.status = "history"
  }

  /**
   * Starts an ask: its prompt, or, for an ask that resumes calls left waiting for approval (it has
   * no prompt), a marker.
   * @param {string} prompt
   * @param {string} askId
   * @param {boolean} [resumed]
   */
  prompt(prompt, askId, resumed = false) {
    if (this.answer !== undefined && this.answer.dataset.status === "running") this.answer.dataset.status = "history"
    this.root.append(
      resumed
        ? h("article", { class: "resumed" }, h("p", {}, "Resumed after the approval decision"))
        : h("article", { class: "prompt" }, h("p", {}, prompt))
    )
    this.answer = h("article", { class: "answer", "data-ask": askId, "data-status": "running", "data-events": 1 })
    this.root.append(this.answer)
    this.turn = undefined
  }

  startTurn() {
    if (this.answer === undefined) this.prompt("", "")
    this.turn = h("div", { class: "turn" })
    this.answer?.append(this.turn)
    this.blocks.clear()
  }

  /**
   * @param {number} index
   * @param {ContentBlock} block
   */
  startBlock(index, block) {
    if (this.turn === undefined) this.startTurn()
    /** @type {HTMLElement} */
    let element
    if (block.type === "tool_use" && "id" in block) {
      const input = h("pre", { class: "input" })
      const result = h("div", { class: "result" }, h("p", { class: "pending" }, "running…"))
      element = h(
        "section",
        { class: "tool", "data-name": block.name, "data-id": block.id, "data-state": "writing" },
        h("header", {}, h("span", { class: "name" }, block.name)),
        input,
        result
      )
      const card = { element, id: block.id, name: block.name, input, result, json: "" }
      this.cards.set(block.id, card)
      this.approvals.place(block.id)
      if (typeof block.input === "object" && block.input !== null && Object.keys(block.input).length > 0) {
        card.json = JSON.stringify(block.input)
      }
      this.blocks.set(index, { kind: "tool", element, card })
    } else if (block.type === "thinking") {
      element = h("details", { class: "thinking" }, h("summary", {}, "thinking"), h("p", {}))
      this.blocks.set(index, { kind: "thinking", element })
    } else {
      element = h("p", { class: "text" })
      this.blocks.set(index, { kind: "text", element })
    }
    this.turn?.append(element)
  }

  /**
   * @param {number} index
   * @param {Delta} delta
   */
  delta(index, delta) {
    const block = this.blocks.get(index)
    if (block === undefined) return
    if (delta.type === "text_delta" && "text" in delta) block.element.append(delta.text)
    else if (delta.type === "thinking_delta" && "thinking" in delta)
      block.element.lastElementChild?.append(delta.thinking)
    else if (delta.type === "input_json_delta" && "partial_json" in delta && block.card !== undefined) {
      block.card.json += delta.partial_json
      block.card.input.textContent = partialCode(block.card.json) ?? block.card.json
    }
  }

  /** @param {number} index */
  stopBlock(index) {
    const card = this.blocks.get(index)?.card
    if (card === undefined) return
    const input = tryJson(card.json === "" ? "{}" : card.json)
    card.input.textContent = inputText(card.name, input ?? card.json)
    card.element.dataset.state = this.approvals.waits(card.id) ? "waiting" : "running"
  }

  /**
   * @param {string} toolUseId
   * @param {string | ReadonlyArray<any>} content
   * @param {boolean} isError
   */
  result(toolUseId, content, isError) {
    this.approvals.answered(toolUseId)
    const card = this.cards.get(toolUseId)
    if (card === undefined) return
    const text = textOf(content)
    card.result.replaceChildren(
      isError ? h("pre", { class: "text error" }, text) : resultBody(this.sessionId(), card.name, text)
    )
    card.element.dataset.state = isError ? "error" : "done"
  }

  /**
   * @param {string} status completed, max_turns, interrupted or failed
   * @param {string | undefined} message
   */
  end(status, message) {
    const answer = this.answer
    if (answer === undefined) return
    answer.dataset.status = status
    for (const card of this.cards.values()) {
      const state = card.element.dataset.state
      if (answer.contains(card.element) && (state === "writing" || state === "running")) {
        card.element.dataset.state = "stopped"
        card.result.replaceChildren(h("p", { class: "pending" }, "not run"))
      }
    }
    const label = {
      completed: undefined,
      max_turns: "Stopped at the turn limit.",
      interrupted: "Interrupted.",
      failed: `Failed: ${message ?? "unknown error"}`
    }[status]
    if (label !== undefined) answer.append(h("footer", { class: `ended ${status}` }, label))
    this.turn = undefined
  }
}
