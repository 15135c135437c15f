/**
 * The rules every committed history keeps, so that it is valid to send to any provider:
 * roles alternate (a user message after a user message is merged into it, an assistant one into
 * an assistant one), no message is empty, no text block is empty or whitespace-only (the
 * Messages API rejects those with a 400: `Message.sendable` merges them into the text next to them
 * or drops them), and every `tool_use` is answered by one `tool_result`
 * in the next message before the next model call.
 *
 * @internal
 */
import * as Message from "../core/Message.js"

/** Appends `blocks` as a message of `role`, merging into a trailing message of the same role. */
const append = (
  history: Message.History,
  role: Message.Role,
  blocks: ReadonlyArray<Message.ContentBlock>
): Message.History => {
  const kept = Message.sendable(blocks)
  if (kept.length === 0) return history
  const last = history[history.length - 1]
  return last?.role === role
    ? [...history.slice(0, -1), { role, content: [...last.content, ...kept] }]
    : [...history, { role, content: kept }]
}

/**
 * Appends user blocks, merging into a trailing user message so roles keep alternating (after an
 * assistant turn that left nothing to keep, the next user message joins the previous one).
 * @internal
 */
export const appendUser = (history: Message.History, blocks: ReadonlyArray<Message.ContentBlock>): Message.History =>
  append(history, "user", blocks)

/**
 * Appends assistant blocks, whitespace-only text merged or dropped (`Message.sendable`); an assistant turn
 * left with no blocks is not committed. Merges into a trailing assistant message (a `pause_turn`
 * continuation).
 * @internal
 */
export const appendAssistant = (
  history: Message.History,
  blocks: ReadonlyArray<Message.ContentBlock>
): Message.History => append(history, "assistant", blocks)

/**
 * Synthetic error results for tool calls that never ran, with `why` as their content.
 * @internal
 */
export const notRun = (uses: ReadonlyArray<Message.ToolUseBlock>, why: string): Array<Message.ToolResultBlock> =>
  uses.map((use) => Message.toolResult(use.id, why, true))

/**
 * Makes a saved history valid to send: its messages rebuilt by the rules above (empty and
 * whitespace-only text blocks merged or dropped, empty messages dropped, same-role neighbours merged), and
 * the open `tool_use`s of the last assistant message answered with synthetic error results
 * (`Message.closeToolCalls`, the rule the session store applies when it loads a session).
 * @internal
 */
export const repairHistory = (saved: Message.History): Message.History => {
  let history: Message.History = []
  for (const message of saved) history = append(history, message.role, message.content)
  return Message.closeToolCalls(history)
}
