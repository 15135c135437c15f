// @ts-check
/** @import { Decision, ToolCard, WaitingCall } from "./types.js" */
/**
 * A tool call waiting for approval, as a card in the transcript: the tool, why it asks, the input
 * it would run with (as JSON), and **Approve** / **Deny** (with an optional reason, which the model
 * reads). A click posts the decision and shows what came of it: the decision, or the server's
 * refusal (a call that no longer waits is a 409 `ApprovalNotPending`, whose message the card
 * shows). The call's result then comes on its tool card, as for any call.
 *
 * `Approvals` keeps the page's cards, one per call: a call comes from its `approval_request`
 * event and from `GET .../approvals` (after a reload or a reconnect), and is shown once.
 */
import { ApiError } from "./api.js"
import { h } from "./dom.js"

/**
 * Where a card is: `pending` (buttons live), `sending` (the decision is on its way), `approved`,
 * `denied`, `refused` (the server said no: the message is on the card), `closed` (the call stopped
 * waiting without a decision from this page).
 * @typedef {"pending" | "sending" | "approved" | "denied" | "refused" | "closed"} ApprovalState
 */

/**
 * The input as the card shows it: indented JSON.
 * @param {unknown} input
 */
const formatted = (input) => JSON.stringify(input, null, 2) ?? String(input)

/** One call's card: built from its `approval_request` (or its entry in the list), it posts the decision clicked. */
export class ApprovalCard {
  /**
   * @param {WaitingCall} call
   * @param {(decision: Decision) => Promise<unknown>} decide posts the decision
   * @param {() => void} onSettled called when the card stops waiting for a click
   */
  constructor(call, decide, onSettled) {
    this.toolUseId = call.tool_use_id
    this.decide = decide
    this.onSettled = onSettled
    /** @type {number | undefined} the newest event id the page had seen when the card stopped waiting */
    this.settledAt = undefined
    /** Cards shown before this one, and it (see `Approvals.mark`). */
    this.order = 0
    this.approveButton = h("button", { type: "button", class: "approve" }, "Approve")
    this.denyButton = h("button", { type: "button", class: "deny" }, "Deny")
    this.reason = h("input", {
      type: "text",
      class: "deny-reason",
      placeholder: "Reason to deny (optional; the model reads it)",
      "aria-label": "reason to deny"
    })
    this.outcome = h("p", { class: "outcome", role: "status" })
    this.element = h(
      "section",
      { class: "approval", "data-id": call.tool_use_id, "data-tool": call.tool_name, "data-state": "pending" },
      h(
        "header",
        {},
        h("span", { class: "label" }, "Approval needed"),
        " ",
        h("span", { class: "name" }, call.tool_name)
      ),
      call.reason === undefined ? undefined : h("p", { class: "reason" }, call.reason),
      h("pre", { class: "input" }, formatted(call.input)),
      h("div", { class: "decide" }, this.approveButton, this.reason, this.denyButton),
      this.outcome
    )
    this.approveButton.addEventListener("click", () => void this.send({ decision: "approve" }))
    this.denyButton.addEventListener("click", () => void this.sendDenial())
    this.reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault()
        void this.sendDenial()
      }
    })
  }

  /** @returns {ApprovalState} */
  get state() {
    return /** @type {ApprovalState} */ (this.element.dataset.state)
  }

  /** Whether the call still waits for a click on this card. */
  get waiting() {
    return this.state === "pending" || this.state === "sending"
  }

  /**
   * @param {ApprovalState} state
   * @param {string} outcome
   * @param {boolean} [error]
   */
  set(state, outcome, error = false) {
    this.element.dataset.state = state
    this.outcome.textContent = outcome
    this.outcome.classList.toggle("error", error)
    const live = state === "pending"
    this.approveButton.disabled = !live
    this.denyButton.disabled = !live
    this.reason.disabled = !live
    if (!live && state !== "sending") this.onSettled()
  }

  sendDenial() {
    const reason = this.reason.value.trim()
    return this.send(reason.length === 0 ? { decision: "deny" } : { decision: "deny", reason })
  }

  /** @param {Decision} decision */
  async send(decision) {
    if (this.state !== "pending") return
    this.set("sending", decision.decision === "approve" ? "Approving…" : "Denying…")
    try {
      await this.decide(decision)
      if (decision.decision === "approve") this.set("approved", "Approved.")
      else this.set("denied", decision.reason === undefined ? "Denied." : `Denied: ${decision.reason}`)
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) this.set("refused", error.message, true)
      // anything else (the network, a full server) may pass: the buttons come back to try again
      else
        this.set(
          "pending",
          `Could not send the decision: ${error instanceof ApiError ? `${error.tag}: ${error.message}` : String(error)}`,
          true
        )
    }
  }

  /** The call stopped waiting without a decision from this page (decided elsewhere, answered, or its ask moved on). */
  close() {
    if (this.state === "pending") this.set("closed", "No longer waiting for approval.")
  }
}

/** @param {string} text */
const pending = (text) => h("p", { class: "pending" }, text)

/**
 * The approval cards of the conversation, by `tool_use_id`. A card sits in its call's tool card,
 * before the result (until that card is shown, at the end of the answer), and the tool card
 * says "waiting for approval" meanwhile.
 */
export class Approvals {
  /**
   * @param {(toolUseId: string, decision: Decision) => Promise<unknown>} decide posts a decision
   * @param {(toolUseId: string) => ToolCard | undefined} toolCard the call's tool card, once shown
   * @param {() => HTMLElement} end where a card goes until its tool card is shown
   */
  constructor(decide, toolCard, end) {
    this.decide = decide
    this.toolCard = toolCard
    this.end = end
    /** @type {Map<string, ApprovalCard>} */
    this.cards = new Map()
    /** The newest event id seen (a call announced after its card was decided waits again). */
    this.horizon = 0
    this.shown = 0
  }

  clear() {
    this.cards.clear()
    this.horizon = 0
    this.shown = 0
  }

  /**
   * Events up to `id` were seen (by the page, or by the server when the page loaded the session).
   * @param {number | undefined} id
   */
  seen(id) {
    if (id !== undefined && id > this.horizon) this.horizon = id
  }

  /**
   * Shows a call waiting for approval, once: a call already shown keeps its card (moved into its
   * tool card if that came since), unless the event is newer than the card's decision: then the
   * server announces the call again (it lost the decision in a restart) and it gets a new card.
   * @param {WaitingCall} call
   * @param {number | undefined} eventId the event's id; undefined for a call `GET .../approvals` listed
   */
  show(call, eventId) {
    const known = this.cards.get(call.tool_use_id)
    if (known !== undefined) {
      const again = eventId !== undefined && known.settledAt !== undefined && eventId > known.settledAt
      if (!again) return this.place(known)
      known.element.remove()
    }
    const card = new ApprovalCard(
      call,
      (decision) => this.decide(call.tool_use_id, decision),
      () => this.settled(card)
    )
    card.order = ++this.shown
    this.cards.set(call.tool_use_id, card)
    this.place(card)
  }

  /**
   * Puts a call's card where it belongs: in the call's tool card when that is shown (again after
   * a tool card is created), else at the end of the answer.
   * @param {string | ApprovalCard} call
   */
  place(call) {
    const card = typeof call === "string" ? this.cards.get(call) : call
    if (card === undefined) return
    const tool = this.toolCard(card.toolUseId)
    if (tool === undefined) {
      if (card.element.parentElement === null) this.end().append(card.element)
      return
    }
    if (card.element.parentElement !== tool.element) tool.element.insertBefore(card.element, tool.result)
    if (card.waiting) {
      tool.element.dataset.state = "waiting"
      tool.result.replaceChildren(pending("waiting for approval…"))
    }
  }

  /**
   * Whether call `toolUseId` waits for a click on its card.
   * @param {string} toolUseId
   */
  waits(toolUseId) {
    return this.cards.get(toolUseId)?.waiting === true
  }

  /** Whether any card waits for a click. */
  get anyWaiting() {
    for (const card of this.cards.values()) if (card.waiting) return true
    return false
  }

  /**
   * Call `toolUseId` has its result: its card, if it still waited, no longer does.
   * @param {string} toolUseId
   */
  answered(toolUseId) {
    this.cards.get(toolUseId)?.close()
  }

  /** A mark for {@link waiting}: the cards shown so far. */
  mark() {
    return this.shown
  }

  /**
   * Shows the calls `GET .../approvals` listed as waiting, and closes the cards still waiting for
   * a click whose calls it did not list (only those shown before the list was asked for, at
   * `since` from {@link mark}: a call announced meanwhile may be newer than the list).
   * @param {ReadonlyArray<WaitingCall>} calls
   * @param {number} since
   */
  waiting(calls, since) {
    for (const call of calls) this.show(call, undefined)
    const listed = new Set(calls.map((call) => call.tool_use_id))
    for (const card of this.cards.values()) {
      if (card.state === "pending" && card.order <= since && !listed.has(card.toolUseId)) card.close()
    }
  }

  /**
   * A card stopped waiting for a click: its tool card says what happens to the call now.
   * @param {ApprovalCard} card
   */
  settled(card) {
    card.settledAt = this.horizon
    const tool = this.toolCard(card.toolUseId)
    if (tool === undefined || tool.element.dataset.state !== "waiting") return
    if (card.state === "approved" || card.state === "denied") {
      tool.element.dataset.state = "running"
      tool.result.replaceChildren(pending(card.state === "approved" ? "running…" : "denied; the model is told why"))
    } else {
      tool.element.dataset.state = "stopped"
      tool.result.replaceChildren(pending("no longer waiting for approval"))
    }
  }
}
