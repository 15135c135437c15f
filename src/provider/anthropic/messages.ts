/**
 * Conversions between the harness's messages and responses and the Messages API's shapes.
 * `toMessageParams` and `fromMessageParams` are public (re-exported by `Anthropic.ts`, for code
 * that also calls the SDK directly); the rest is private to the provider.
 * @internal
 */
import type AnthropicSdk from "@anthropic-ai/sdk"
import { Schema } from "effect"
import * as Message from "../../core/Message.js"
import { NormalizedResponse } from "../../core/NormalizedResponse.js"
import * as StreamEvent from "../../core/StreamEvent.js"
import * as Usage from "../../core/Usage.js"

type MessageParam = AnthropicSdk.MessageParam
type ApiContent = AnthropicSdk.ContentBlockParam

const isDroppable = (block: Message.ContentBlock) =>
  block.type === "text" && (block as Message.TextBlock).text === "" && !("cache_control" in block)

/**
 * Converts harness messages to the API's `messages` param. Blocks already have the API's shapes
 * and go unchanged: text, images and PDF documents, `tool_use`, `tool_result` with `is_error`,
 * `thinking` with its signature, `redacted_thinking`, and opaque blocks (server tools, newer
 * types). Only empty text blocks, which the API rejects, are left out. The input is not mutated.
 *
 * @example
 * ```ts
 * import { Anthropic, Message } from "data-harness"
 * const params = Anthropic.toMessageParams([Message.user("hi")])
 * // [{ role: "user", content: [{ type: "text", text: "hi" }] }]
 * ```
 * @since 0.1.0
 */
export const toMessageParams = (messages: ReadonlyArray<Message.Message>): Array<MessageParam> => {
  const out: Array<MessageParam> = new Array(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const kept = message.content.some(isDroppable) ? message.content.filter((b) => !isDroppable(b)) : message.content
    out[i] = {
      role: message.role,
      content: (kept.length > 0 ? kept : message.content) as unknown as Array<ApiContent>
    }
  }
  return out
}

/**
 * Converts the API's `messages` param back to harness messages: string content becomes one text
 * block, blocks are kept as they are. Messages of other roles (e.g. `system`) are left out.
 *
 * @example
 * ```ts
 * import { Anthropic } from "data-harness"
 * const history = Anthropic.fromMessageParams([{ role: "user", content: "hi" }])
 * ```
 * @since 0.1.0
 */
export const fromMessageParams = (
  params: ReadonlyArray<{ readonly role: string; readonly content: string | ReadonlyArray<unknown> }>
): Array<Message.Message> => {
  const out: Array<Message.Message> = []
  for (const param of params) {
    if (param.role !== "user" && param.role !== "assistant") continue
    out.push({
      role: param.role,
      content:
        typeof param.content === "string"
          ? [Message.text(param.content)]
          : (param.content as ReadonlyArray<Message.ContentBlock>)
    })
  }
  return out
}

/**
 * The API's response message, as `chat` validates it: the fields the harness relies on are
 * checked, content blocks are decoded as {@link Message.ContentBlock} (every field kept).
 */
export const ApiMessage = Schema.Struct({
  id: Schema.String,
  role: Schema.Literal("assistant"),
  model: Schema.String,
  content: Schema.Array(Message.ContentBlock),
  stop_reason: Schema.NullOr(Schema.String),
  stop_sequence: Schema.optionalKey(Schema.NullOr(Schema.String)),
  usage: StreamEvent.WireUsage
})
export type ApiMessage = typeof ApiMessage.Type

/** Validates a non-streaming response body as an {@link ApiMessage}. */
export const decodeApiMessage = Schema.decodeUnknownExit(ApiMessage)

/**
 * Converts an API response message to a {@link NormalizedResponse}: content blocks as returned,
 * usage counters (with cache reads and writes) taken over.
 */
export const toNormalizedResponse = (message: ApiMessage): NormalizedResponse =>
  new NormalizedResponse({
    id: message.id,
    model: message.model,
    stopReason: message.stop_reason ?? "end_turn",
    ...(message.stop_sequence !== undefined ? { stopSequence: message.stop_sequence } : {}),
    content: message.content,
    usage: Usage.merge(Usage.empty, message.usage)
  })
