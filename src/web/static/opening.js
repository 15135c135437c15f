// @ts-check
/** @import { LogEvent, Message } from "./types.js" */
/**
 * Opening a session whose ask is still running: the page shows the history before that ask, then
 * the ask's own events from its `ask_start` (so nothing shows twice). Where the ask starts in the
 * history depends on the ask: a prompt's ask at its prompt, an ask that resumes calls left waiting
 * for approval (no prompt) after the turn that made them.
 */

/**
 * Where the ask that is still running starts in the history: its prompt, the last user message with text.
 * @param {ReadonlyArray<Message>} messages
 */
export const runningAskStart = (messages) => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]
    if (message.role === "user" && message.content.some((b) => b.type === "text")) return i
  }
  return messages.length
}

/**
 * Where an ask that resumes calls left waiting for approval starts in the history: after the
 * turn that made the call its first events name (an `approval_request` or a `tool_result`), or,
 * when they name none, at the end.
 * @param {ReadonlyArray<Message>} messages
 * @param {LogEvent | undefined} next the event after its `ask_start`
 */
export const resumedAskStart = (messages, next) => {
  const data = next?.data
  const id = data?.type === "approval_request" || data?.type === "tool_result" ? data.tool_use_id : undefined
  for (let i = messages.length - 1; i >= 0 && id !== undefined; i--) {
    if (messages[i].content.some((b) => b.type === "tool_use" && b.id === id)) return i + 1
  }
  return messages.length
}

/**
 * The running ask's opening: holds its first events until they tell where the ask starts in the
 * history (its `ask_start`, and for a resumed ask the event after it), replays the history before
 * that (`replay`), then lets every event through. `flush` does it with what came when the stream
 * ended early.
 * @param {ReadonlyArray<Message>} messages the session's history
 * @param {(before: ReadonlyArray<Message>) => void} replay shows the history before the running ask
 */
export const opening = (messages, replay) => {
  /** @type {Array<LogEvent>} */
  const held = []
  let open = false
  const release = () => {
    open = true
    const [start, next] = held
    const resumed = start?.data.type === "ask_start" && start.data.resumed === true
    replay(messages.slice(0, resumed ? resumedAskStart(messages, next) : runningAskStart(messages)))
    return held.splice(0)
  }
  return {
    /** @param {LogEvent} event */
    show: (event) => {
      if (open) return [event]
      held.push(event)
      const [start] = held
      const resumed = start.data.type === "ask_start" && start.data.resumed === true
      return resumed && held.length < 2 ? [] : release()
    },
    flush: () => (open ? [] : release())
  }
}
