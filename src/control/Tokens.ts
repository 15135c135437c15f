/**
 * How many input tokens a request has, before it is sent: what budgets check before each model
 * call and what compaction compares with the context window.
 *
 * The default, {@link estimate}, is a conservative count made locally: one token per 3
 * characters of text, tool input and tool definitions (real tokenizers average about 3.5 to 4
 * characters per token on English and JSON, so this overcounts), a fixed amount per image and
 * per PDF page-sized chunk. A provider's own count (Anthropic's `messages.countTokens`) is exact
 * but costs a round trip: give it as a {@link Counter} (`Agent.make({ countTokens })`).
 *
 * @example
 * ```ts
 * import { Tokens } from "data-harness"
 * Tokens.estimate({ system: "You are terse.", messages: [Message.user("hi")], tools: [] }) // 11
 * ```
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type * as Message from "../core/Message.js"
import type * as Provider from "../provider/Provider.js"

/**
 * Counts the input tokens of a request. Its failure is not fatal: the run falls back to
 * {@link estimate} for that request.
 * @since 0.2.0
 */
export type Counter = (request: Provider.Request) => Effect.Effect<number, unknown>

/** Characters per token the estimate assumes (fewer than real tokenizers: it overcounts). */
const CHARS_PER_TOKEN = 3
/** An image: Anthropic's largest (1.15 megapixels) is about 1,600 tokens. */
const IMAGE_TOKENS = 1_600
/** A PDF page is text plus an image of the page: up to about 3,000 tokens. */
const PDF_PAGE_TOKENS = 3_000
/** Base64 characters of a typical PDF page (~75 KB of PDF). */
const PDF_PAGE_BASE64 = 100_000
/** Framing per message (role, separators). */
const MESSAGE_TOKENS = 4

const textTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN)

const documentTokens = (block: Message.DocumentBlock): number => {
  const source = block.source as { readonly type: string; readonly data?: unknown; readonly content?: unknown }
  if (source.type === "text" && typeof source.data === "string") return textTokens(source.data)
  if (source.type === "content") return textTokens(JSON.stringify(source.content ?? ""))
  if (source.type === "base64" && typeof source.data === "string") {
    return Math.max(1, Math.ceil(source.data.length / PDF_PAGE_BASE64)) * PDF_PAGE_TOKENS
  }
  // a URL or an uploaded file: its size is unknown here
  return 10 * PDF_PAGE_TOKENS
}

/** The estimated tokens of one content block (also a block of a tool result's content). */
const blockTokens = (block: { readonly type: string }): number => {
  switch (block.type) {
    case "text":
      return textTokens((block as Message.TextBlock).text)
    case "tool_use": {
      const use = block as Message.ToolUseBlock
      return textTokens(use.name) + textTokens(JSON.stringify(use.input ?? {}))
    }
    case "tool_result": {
      const content = (block as Message.ToolResultBlock).content
      if (content === undefined) return 1
      if (typeof content === "string") return textTokens(content)
      return content.reduce((sum, part) => sum + blockTokens(part), 0)
    }
    case "thinking":
      return textTokens((block as Message.ThinkingBlock).thinking)
    case "redacted_thinking":
      return textTokens((block as Message.RedactedThinkingBlock).data)
    case "image":
      return IMAGE_TOKENS
    case "document":
      return documentTokens(block as Message.DocumentBlock)
    default:
      return textTokens(JSON.stringify(block))
  }
}

/**
 * The estimated tokens of some messages.
 * @since 0.2.0
 */
export const estimateMessages = (messages: ReadonlyArray<Message.Message>): number => {
  let total = 0
  for (const message of messages) {
    total += MESSAGE_TOKENS
    for (const block of message.content) total += blockTokens(block)
  }
  return total
}

/**
 * A conservative estimate of a request's input tokens: system prompt, messages and tool
 * definitions (as JSON), at 3 characters per token.
 * @since 0.2.0
 */
export const estimate = (request: Provider.Request): number => {
  const system =
    request.system === undefined
      ? 0
      : typeof request.system === "string"
        ? textTokens(request.system)
        : request.system.reduce((sum, block) => sum + textTokens(block.text), 0)
  const tools = request.tools.length === 0 ? 0 : textTokens(JSON.stringify(request.tools))
  return system + tools + estimateMessages(request.messages)
}
