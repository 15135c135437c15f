/**
 * Replies for the local Anthropic test server that check a request the way the Messages API
 * does before answering it: a text block that is empty or whitespace-only is rejected with the
 * API's own 400 (`invalid_request_error`, "messages: text content blocks must contain
 * non-whitespace text"), so a harness that sends one fails its ask as it would against the API.
 */
import * as AnthropicServer from "./anthropicServer.js"

/** The API's answer to a request with a whitespace-only text block. */
export const whitespaceRejection: AnthropicServer.JsonReply = AnthropicServer.errorReply(
  400,
  "invalid_request_error",
  "messages: text content blocks must contain non-whitespace text"
)

/** Whether a text value is empty or whitespace only. */
const blank = (text: unknown): boolean => typeof text !== "string" || !/\S/.test(text)

/** Whether a Messages API request body holds a text block (or string content) that is empty or whitespace-only. */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON
export const hasBlankText = (body: any): boolean =>
  Array.isArray(body?.messages) &&
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON
  body.messages.some((message: any) =>
    typeof message.content === "string"
      ? blank(message.content)
      : // biome-ignore lint/suspicious/noExplicitAny: wire JSON
        message.content.some((block: any) => block?.type === "text" && blank(block.text))
  )

/** `reply`, unless the request holds a whitespace-only text block: then the API's 400. */
export const strict =
  (reply: AnthropicServer.Reply): AnthropicServer.Script =>
  (request) =>
    hasBlankText(request.body) ? whitespaceRejection : reply
