/**
 * Histories every provider takes: what a fallback chain sends (see `Fallback.ts`). A history
 * written by one vendor's model can hold what another vendor refuses; this makes it portable,
 * without mutating it, and returns the same request when it needs nothing:
 *
 * - a `thinking` block without a signature (what OpenAI-compatible servers' reasoning becomes) is
 *   dropped: Anthropic refuses it, and the OpenAI-compatible presets do not send thinking back;
 *   an assistant message left empty is dropped and the user messages around it merged;
 * - a tool id outside `[a-zA-Z0-9_-]` (Anthropic's pattern; some servers send ids like
 *   `functions.sql:0`) is rewritten the same way in its `tool_use` and its `tool_result`: the
 *   characters replaced by `_`, plus a hash of the original so that two ids stay two.
 *
 * @internal
 */
import type * as Message from "../core/Message.js"
import type * as Provider from "./service.js"

const SAFE_ID = /^[a-zA-Z0-9_-]+$/

/** FNV-1a, 32 bits, base 36: a short, stable tag of an id. */
const hashOf = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0).toString(36)
}

/** A tool id every provider takes: the id itself when it already is one. */
const safeId = (id: string): string => (SAFE_ID.test(id) ? id : `${id.replace(/[^a-zA-Z0-9_-]/g, "_")}_${hashOf(id)}`)

type Block = Message.ContentBlock & { readonly [key: string]: unknown }

/** Whether a block must change (or go) to be sent to any provider. */
const needsWork = (block: Block): boolean => {
  switch (block.type) {
    case "thinking":
      return typeof block.signature !== "string" || block.signature === ""
    case "tool_use":
      return !SAFE_ID.test(block.id as string)
    case "tool_result":
      return !SAFE_ID.test(block.tool_use_id as string)
    default:
      return false
  }
}

/** A message's blocks made portable (see the module's documentation). */
const portableBlocks = (content: ReadonlyArray<Message.ContentBlock>): Array<Message.ContentBlock> => {
  const out: Array<Message.ContentBlock> = []
  for (const block of content as ReadonlyArray<Block>) {
    if (!needsWork(block)) out.push(block)
    else if (block.type === "tool_use") out.push({ ...block, id: safeId(block.id as string) } as Message.ContentBlock)
    else if (block.type === "tool_result") {
      out.push({ ...block, tool_use_id: safeId(block.tool_use_id as string) } as Message.ContentBlock)
    }
    // an unsigned thinking block is left out
  }
  return out
}

/**
 * The request with a history every member can take; the same request when it already is one.
 * @internal
 */
export const portable = (request: Provider.Request): Provider.Request => {
  const messages = request.messages
  if (!messages.some((message) => (message.content as ReadonlyArray<Block>).some(needsWork))) return request
  const out: Array<Message.Message> = []
  for (const message of messages) {
    const content = (message.content as ReadonlyArray<Block>).some(needsWork)
      ? portableBlocks(message.content)
      : message.content
    if (content.length === 0 && message.role === "assistant") continue
    const previous = out[out.length - 1]
    if (previous !== undefined && previous.role === message.role) {
      out[out.length - 1] = { role: message.role, content: [...previous.content, ...content] }
    } else out.push(content === message.content ? message : { role: message.role, content })
  }
  return { ...request, messages: out }
}
