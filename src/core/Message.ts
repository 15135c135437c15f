/**
 * Conversation messages and their content blocks.
 *
 * Blocks keep the shapes of the Anthropic Messages API (`text`, `tool_use`, `tool_result`,
 * `thinking`, `redacted_thinking`), so a block that came from the API goes back to it unchanged.
 * Decoding validates the fields the harness relies on and keeps every other field as it arrived
 * (citations, `cache_control`, server tool blocks), and a block of a type the harness does not
 * know is kept opaque. A whole history encodes to JSON and decodes back equal.
 *
 * @example
 * ```ts
 * import { Message } from "data-harness"
 * const history = [Message.user("What is the total revenue?")]
 * const json = Message.encodeHistory(history)
 * ```
 * @since 0.1.0
 */
import { Schema } from "effect"
import { DocumentBlock, ImageBlock } from "./media.js"
import { withRest } from "./withRest.js"

// blocks

/**
 * A text block. Extra fields (`citations`, `cache_control`) are kept.
 * @since 0.1.0
 */
export const TextBlock = withRest({ type: Schema.Literal("text"), text: Schema.String })
/** @since 0.1.0 */
export type TextBlock = typeof TextBlock.Type

/**
 * A tool call the model made: `input` is the decoded JSON object of its arguments.
 * @since 0.1.0
 */
export const ToolUseBlock = withRest({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Schema.Unknown
})
/** @since 0.1.0 */
export type ToolUseBlock = typeof ToolUseBlock.Type

/**
 * The answer to one `tool_use`, sent in the next user message. `content` is a string or a list of
 * blocks (text, images); `is_error` tells the model the call failed.
 * @since 0.1.0
 */
export const ToolResultBlock = withRest({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(withRest({ type: Schema.String }))])),
  is_error: Schema.optionalKey(Schema.Boolean)
})
/** @since 0.1.0 */
export type ToolResultBlock = typeof ToolResultBlock.Type

/**
 * Extended thinking with the signature that must be passed back unchanged on later turns.
 * @since 0.1.0
 */
export const ThinkingBlock = withRest({
  type: Schema.Literal("thinking"),
  thinking: Schema.String,
  signature: Schema.String
})
/** @since 0.1.0 */
export type ThinkingBlock = typeof ThinkingBlock.Type

/**
 * Thinking the API returned encrypted; passed back unchanged.
 * @since 0.1.0
 */
export const RedactedThinkingBlock = withRest({ type: Schema.Literal("redacted_thinking"), data: Schema.String })
/** @since 0.1.0 */
export type RedactedThinkingBlock = typeof RedactedThinkingBlock.Type

// images and documents (their schemas and constructors live in `media.ts`)

export {
  Base64ImageSource,
  Base64PdfSource,
  DocumentBlock,
  FileSource,
  ImageBlock,
  ImageMediaType,
  image,
  PlainTextSource,
  pdf,
  UrlSource
} from "./media.js"

/**
 * The block types the harness understands. A block whose `type` is one of these must be well
 * formed; any other type is an {@link OpaqueBlock}.
 * @since 0.1.0
 */
export const knownBlockTypes: ReadonlySet<string> = new Set([
  "text",
  "image",
  "document",
  "tool_use",
  "tool_result",
  "thinking",
  "redacted_thinking"
])

/**
 * A block of a type the harness does not interpret (server tool use, web search results, or a
 * type from a newer API version). Kept exactly as it arrived and sent back unchanged.
 * @since 0.1.0
 */
export const OpaqueBlock = withRest({
  type: Schema.String.check(
    Schema.makeFilter(
      (type: string) => !knownBlockTypes.has(type) || `a "${type}" block is missing a required field or has a wrong one`
    )
  )
})
/** @since 0.1.0 */
export type OpaqueBlock = typeof OpaqueBlock.Type

/**
 * Any content block of a message.
 * @since 0.1.0
 */
export const ContentBlock = Schema.Union([
  TextBlock,
  ImageBlock,
  DocumentBlock,
  ToolUseBlock,
  ToolResultBlock,
  ThinkingBlock,
  RedactedThinkingBlock,
  OpaqueBlock
])
/** @since 0.1.0 */
export type ContentBlock = typeof ContentBlock.Type

// message

/**
 * Who wrote a message.
 * @since 0.1.0
 */
export const Role = Schema.Literals(["user", "assistant"])
/** @since 0.1.0 */
export type Role = typeof Role.Type

/**
 * One message of a conversation.
 * @since 0.1.0
 */
export const Message = Schema.Struct({ role: Role, content: Schema.Array(ContentBlock) })
/** @since 0.1.0 */
export type Message = typeof Message.Type

/**
 * A whole conversation.
 * @since 0.1.0
 */
export const History = Schema.Array(Message)
/** @since 0.1.0 */
export type History = typeof History.Type

/**
 * A history as a JSON string and back; decoding validates every message.
 * @since 0.1.0
 */
export const HistoryFromJson = Schema.fromJsonString(History)

/**
 * Encodes a history to a JSON string.
 * @since 0.1.0
 */
export const encodeHistory: (history: History) => string = Schema.encodeSync(HistoryFromJson)

/**
 * Decodes a history from a JSON string, failing with a `SchemaError` on anything invalid.
 * @since 0.1.0
 */
export const decodeHistory = Schema.decodeUnknownEffect(HistoryFromJson)

// constructors

/**
 * A text block.
 * @since 0.1.0
 */
export const text = (value: string): TextBlock => ({ type: "text", text: value })

/**
 * Checks content blocks given from outside (a prompt's images and documents, a saved message):
 * each must be a well-formed block (`image` media types and base64 data that is that format,
 * http(s) URLs, ...). Fails with a `SchemaError` that says which block and why.
 * @since 0.2.0
 */
export const decodeContent = Schema.decodeUnknownEffect(Schema.Array(ContentBlock))

/**
 * A user message from text or blocks.
 * @since 0.1.0
 */
export const user = (content: string | ReadonlyArray<ContentBlock>): Message => ({
  role: "user",
  content: typeof content === "string" ? [text(content)] : content
})

/**
 * An assistant message from text or blocks.
 * @since 0.1.0
 */
export const assistant = (content: string | ReadonlyArray<ContentBlock>): Message => ({
  role: "assistant",
  content: typeof content === "string" ? [text(content)] : content
})

/**
 * A tool result block.
 * @since 0.1.0
 */
export const toolResult = (toolUseId: string, content: string, isError = false): ToolResultBlock =>
  isError
    ? { type: "tool_result", tool_use_id: toolUseId, content, is_error: true }
    : { type: "tool_result", tool_use_id: toolUseId, content }

// sending back

const hasText = (text: string): boolean => /\S/.test(text)

/**
 * The blocks as they may be sent back to a provider: the Messages API rejects a text block that
 * is empty or whitespace-only with a 400, so such a block is merged into the text block next to
 * it (appended to the one before, else prepended to the one after: a `" "` between two cited
 * sentences keeps the sentences apart) and dropped when no text block is next to it. Every other
 * block is kept as it is. Returns the same array when nothing needs to change.
 *
 * @example
 * ```ts
 * Message.sendable([Message.text("A"), Message.text(" "), Message.text("B")])
 * // [{ type: "text", text: "A " }, { type: "text", text: "B" }]
 * ```
 * @since 0.2.0
 */
export const sendable = (blocks: ReadonlyArray<ContentBlock>): ReadonlyArray<ContentBlock> => {
  if (blocks.every((block) => block.type !== "text" || hasText((block as TextBlock).text))) return blocks
  const out: Array<ContentBlock> = []
  let pending = ""
  blocks.forEach((block, index) => {
    if (block.type !== "text") {
      pending = ""
      out.push(block)
      return
    }
    const text = (block as TextBlock).text
    if (hasText(text)) {
      out.push(pending === "" ? block : { ...(block as TextBlock), text: pending + text })
      pending = ""
      return
    }
    const previous = out[out.length - 1]
    const previousIsText = previous?.type === "text" && blocks[index - 1] === previous
    if (previousIsText) out[out.length - 1] = { ...(previous as TextBlock), text: (previous as TextBlock).text + text }
    else if (blocks[index + 1]?.type === "text") pending += text
  })
  return out
}

// tool calls left without a result

/**
 * The content of the synthetic error result that answers a `tool_use` which never got its result
 * (the conversation was saved, or the ask ended, before the call ran or finished).
 * @since 0.2.0
 */
export const unansweredText = "Tool call did not run: the conversation was saved before it finished."

/**
 * Synthetic error results ({@link unansweredText}) for the tool calls of these ids.
 * @since 0.2.0
 */
export const unansweredResults = (ids: ReadonlyArray<string>): Array<ToolResultBlock> =>
  ids.map((id) => toolResult(id, unansweredText, true))

/**
 * The one rule that closes a history's open tool calls, used by the agent (a saved history it is
 * given) and by the session store (a session it loads): every `tool_use` of the last assistant
 * message without a `tool_result` in the user message after it gets a synthetic error result
 * ({@link unansweredResults}), placed after that message's results (results come first in a user
 * message) or in a new user message. Returns the same array when nothing is open.
 *
 * @example
 * ```ts
 * Message.closeToolCalls([Message.user("q"), Message.assistant([{ type: "tool_use", id: "t1", name: "sql", input: {} }])])
 * // [..., { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: Message.unansweredText, is_error: true }] }]
 * ```
 * @since 0.2.0
 */
export const closeToolCalls = (history: ReadonlyArray<Message>): ReadonlyArray<Message> => {
  const open = openToolUses(history).map((use) => use.id)
  if (open.length === 0) return history
  const last = history.length - 1
  const next = history[last]!.role === "assistant" ? undefined : history[last]!
  const results = unansweredResults(open)
  if (next === undefined) return [...history, { role: "user", content: results }]
  let firstOther = next.content.findIndex((block) => block.type !== "tool_result")
  if (firstOther < 0) firstOther = next.content.length
  const content = [...next.content.slice(0, firstOther), ...results, ...next.content.slice(firstOther)]
  return [...history.slice(0, last), { role: "user", content }]
}

/**
 * The `tool_use`s of a history's last assistant message (the last message, or the one before a
 * last user message) that no `tool_result` of the user message after it answers: the calls
 * {@link closeToolCalls} closes, and that a paused ask waits on.
 * @since 0.2.0
 */
export const openToolUses = (history: ReadonlyArray<Message>): ReadonlyArray<ToolUseBlock> => {
  const last = history.length - 1
  const at = history[last]?.role === "assistant" ? last : history[last - 1]?.role === "assistant" ? last - 1 : -1
  if (at < 0) return []
  const answered = new Set<string>()
  for (const block of history[at + 1]?.content ?? []) {
    if (block.type === "tool_result") answered.add((block as ToolResultBlock).tool_use_id)
  }
  return toolUses(history[at]!.content).filter((use) => !answered.has(use.id))
}

// getters

/**
 * The text of a list of blocks: every text block joined.
 * @since 0.1.0
 */
export const textOf = (content: ReadonlyArray<ContentBlock>): string => {
  let out = ""
  for (const block of content) if (block.type === "text") out += (block as TextBlock).text
  return out
}

/**
 * The `tool_use` blocks of a list of blocks.
 * @since 0.1.0
 */
export const toolUses = (content: ReadonlyArray<ContentBlock>): ReadonlyArray<ToolUseBlock> =>
  content.filter((block): block is ToolUseBlock => block.type === "tool_use")
