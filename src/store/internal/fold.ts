/**
 * A session's state as the fold of its committed steps, and the check that keeps every stored
 * history valid for the API.
 *
 * The rule that makes a crash harmless: a turn whose `tool_use`s have no results yet is a valid
 * stored state. Results are committed after the tools ran (one commit per result or all at once);
 * whatever follows a turn with unanswered `tool_use`s (a user message, another turn, the end of
 * the log) first gets a synthetic error result for each, exactly as the agent answers a `tool_use`
 * that never got its result (`Message.closeToolCalls`, the rule the agent's `repairHistory` uses too). So a loaded history is
 * always sendable: roles alternate, it starts with a user message, and every `tool_use` is
 * answered by exactly one `tool_result` at the start of the next user message.
 *
 * One exception, the durable approval pause: while a pending `tool_use` waits for approval (an
 * `ApprovalRequested` step), the loaded history leaves the last turn's unanswered calls open, and
 * the state lists the waiting ones (`approvals`). Whoever continues the session answers them first:
 * `session.resume` (their results), or a new ask (synthetic results, as above).
 */
import type { Schema } from "effect"
import * as Message from "../../core/Message.js"
import * as Usage from "../../core/Usage.js"
import type { Step, StoredHandle, WaitingApproval } from "../Step.js"

/** What validating the next step needs: the last role and the unanswered `tool_use` ids. */
export interface Tail {
  readonly lastRole: Message.Role | undefined
  readonly pending: ReadonlyArray<string>
}

export const emptyTail: Tail = { lastRole: undefined, pending: [] }

/** Why a step cannot follow the stored ones (the message of an `InvalidStep` error). */
export class Invalid {
  constructor(readonly message: string) {}
}

const synthetic = Message.unansweredResults

const kinds = (content: ReadonlyArray<Message.ContentBlock>, type: string): number =>
  content.reduce((n, block) => (block.type === type ? n + 1 : n), 0)

/**
 * The tail after `step`, or why the step is invalid there. `onMessages` receives the blocks the
 * step appends (synthetic results first), for a fold that keeps the whole history.
 */
export const advance = (
  tail: Tail,
  step: Step,
  onMessages?: (role: Message.Role, blocks: ReadonlyArray<Message.ContentBlock>) => void
): Tail | Invalid => {
  switch (step._tag) {
    case "User": {
      if (kinds(step.content, "tool_result") + kinds(step.content, "tool_use") > 0) {
        return new Invalid(
          "A User step cannot hold tool_use or tool_result blocks: commit tool results as a ToolResults step."
        )
      }
      if (tail.pending.length > 0) onMessages?.("user", synthetic(tail.pending))
      if (step.content.length === 0) return tail.pending.length > 0 ? { lastRole: "user", pending: [] } : tail
      onMessages?.("user", step.content)
      return { lastRole: "user", pending: [] }
    }
    case "Turn": {
      if (tail.lastRole === undefined && step.content.length > 0) {
        return new Invalid("A session's first message must be a user message: commit the user's prompt first.")
      }
      if (kinds(step.content, "tool_result") > 0) {
        return new Invalid("An assistant turn cannot hold tool_result blocks: commit them as a ToolResults step.")
      }
      let lastRole = tail.lastRole
      if (tail.pending.length > 0) {
        onMessages?.("user", synthetic(tail.pending))
        lastRole = "user"
      }
      if (step.content.length === 0) return { lastRole, pending: [] }
      onMessages?.("assistant", step.content)
      // a turn merged into a trailing assistant message (pause_turn) keeps no earlier pending:
      // pending ones were answered above, which made the last message a user message
      return { lastRole: "assistant", pending: Message.toolUses(step.content).map((use) => use.id) }
    }
    case "ToolResults": {
      const pending = new Set(tail.pending)
      for (const result of step.content) {
        if (!pending.delete(result.tool_use_id)) {
          return new Invalid(
            `The tool result for "${result.tool_use_id}" answers no pending tool_use ` +
              `(pending: ${tail.pending.length === 0 ? "none" : tail.pending.join(", ")}): ` +
              "commit each result once, after the turn that made the call."
          )
        }
      }
      if (step.content.length === 0) return tail
      onMessages?.("user", step.content)
      return { lastRole: "user", pending: tail.pending.filter((id) => pending.has(id)) }
    }
    case "Compacted":
      return compactedTail(step.history)
    case "ApprovalRequested":
    case "ApprovalDecided": {
      const id = step._tag === "ApprovalRequested" ? step.approval.toolUseId : step.toolUseId
      if (!tail.pending.includes(id)) {
        return new Invalid(
          `The approval ${step._tag === "ApprovalRequested" ? "request" : "decision"} for "${id}" names no pending tool_use ` +
            `(pending: ${tail.pending.length === 0 ? "none" : tail.pending.join(", ")}): ` +
            "commit it after the turn that made the call, before its result."
        )
      }
      return tail
    }
    default:
      return tail
  }
}

/**
 * The tail of a compacted history, or why it cannot be stored: it must start with a user message,
 * alternate roles, and answer each `tool_use` at the start of the next message (the last message
 * may answer some only: a session compacted while calls wait for approval).
 */
const compactedTail = (history: ReadonlyArray<Message.Message>): Tail | Invalid => {
  let tail: Tail = emptyTail
  for (const [i, message] of history.entries()) {
    if (message.role === tail.lastRole || (i === 0 && message.role !== "user")) {
      return new Invalid(`A compacted history must start with a user message and alternate roles (message ${i}).`)
    }
    if (message.role === "user") {
      const answered = new Set<string>()
      for (const block of message.content) {
        if (block.type !== "tool_result") break
        answered.add((block as Message.ToolResultBlock).tool_use_id)
      }
      const open = tail.pending.filter((id) => !answered.has(id))
      // the last message may answer some calls only (results only): the others wait for approval
      const resultsOnly = answered.size === message.content.length
      if (open.length > 0 && (i < history.length - 1 || !resultsOnly)) {
        return new Invalid(`A compacted history leaves a tool_use unanswered before message ${i}.`)
      }
      tail = { lastRole: "user", pending: open }
    } else {
      tail = { lastRole: "assistant", pending: Message.toolUses(message.content).map((use) => use.id) }
    }
  }
  return tail
}

/** A session's state: the fold of its steps. */
export interface State {
  readonly seq: number
  readonly tail: Tail
  readonly history: ReadonlyArray<Message.Message>
  readonly usage: Usage.Usage
  readonly options: Schema.Json
  readonly handles: ReadonlyArray<StoredHandle>
  /** The pending calls waiting for approval (or decided, not yet answered), in the order they asked. */
  readonly approvals: ReadonlyArray<WaitingApproval>
}

/** A mutable fold of steps into a session's state. */
export class Folder {
  seq = 0
  tail: Tail = emptyTail
  private readonly messages: Array<{ role: Message.Role; content: Array<Message.ContentBlock> }> = []
  private usage: Usage.Counts = Usage.empty
  private options: Schema.Json = {}
  private readonly handles = new Map<string, StoredHandle>()
  /** The waiting calls among the pending ones, by tool_use id, with their decision once decided. */
  private readonly awaiting = new Map<string, WaitingApproval>()

  private readonly append = (role: Message.Role, blocks: ReadonlyArray<Message.ContentBlock>): void => {
    const last = this.messages[this.messages.length - 1]
    if (last?.role === role) last.content.push(...blocks)
    else this.messages.push({ role, content: [...blocks] })
  }

  /** Applies one commit's steps; an invalid step leaves the state unchanged. */
  commit(seq: number, steps: ReadonlyArray<Step>): Invalid | undefined {
    // validate the whole commit first, so an invalid commit changes nothing
    let tail = this.tail
    for (const step of steps) {
      const next = advance(tail, step)
      if (next instanceof Invalid) return next
      tail = next
    }
    for (const step of steps) this.apply(step)
    this.seq = seq
    return undefined
  }

  private apply(step: Step): void {
    this.tail = advance(this.tail, step, this.append) as Tail
    // a call stops waiting when it is answered, or closed by what followed its turn
    for (const id of this.awaiting.keys()) if (!this.tail.pending.includes(id)) this.awaiting.delete(id)
    switch (step._tag) {
      case "ApprovalRequested":
        this.awaiting.set(step.approval.toolUseId, step.approval)
        return
      case "ApprovalDecided": {
        const waiting = this.awaiting.get(step.toolUseId)
        if (waiting !== undefined) this.awaiting.set(step.toolUseId, { ...waiting, decision: step.decision })
        return
      }
      case "Compacted":
        this.messages.length = 0
        for (const message of step.history) this.messages.push({ role: message.role, content: [...message.content] })
        return
      case "Turn":
      case "Usage":
        this.usage = addCounts(this.usage, step.usage)
        return
      case "PutHandle":
        this.handles.set(step.handle.name, step.handle)
        return
      case "RemoveHandle":
        this.handles.delete(step.name)
        return
      case "Options":
        this.options = step.options
        return
    }
  }

  /**
   * The state, its history repaired: a trailing unanswered `tool_use` gets its synthetic result,
   * unless a call waits for approval (then the calls stay open; see the module comment).
   */
  state(): State {
    const copied: Array<Message.Message> = this.messages.map((m) => ({ role: m.role, content: [...m.content] }))
    const history = this.tail.pending.length > 0 && this.awaiting.size === 0 ? Message.closeToolCalls(copied) : copied
    return {
      seq: this.seq,
      tail: this.tail,
      history,
      usage: Usage.make(this.usage),
      options: this.options,
      handles: [...this.handles.values()],
      approvals: [...this.awaiting.values()]
    }
  }
}

const addCounts = (a: Usage.Counts, b: Usage.Counts): Usage.Counts => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens
})
