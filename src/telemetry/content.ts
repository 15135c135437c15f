/**
 * The opt-in content attributes (`gen_ai.input.messages`, `gen_ai.output.messages`,
 * `gen_ai.system_instructions`, `gen_ai.tool.definitions`) in the shapes of the conventions' JSON
 * schemas, encoded as JSON strings (OTLP attributes hold no nested objects). Only called when
 * the user opted in to content capture.
 *
 * | our block | their part |
 * | --- | --- |
 * | `text` | `{ type: "text", content }` |
 * | `tool_use` | `{ type: "tool_call", id, name, arguments }` |
 * | `tool_result` | `{ type: "tool_call_response", id, response }` (a user message of only results has role `tool`) |
 * | `thinking` | `{ type: "reasoning", content }` |
 * | anything else | `{ type: "generic", generic_type: <its type> }` (no payload: images and documents stay out) |
 *
 * @internal
 */
import type * as Message from "../core/Message.js"

type Part = Record<string, unknown>

const partOf = (block: Message.ContentBlock): Part => {
  switch (block.type) {
    case "text":
      return { type: "text", content: (block as Message.TextBlock).text }
    case "tool_use": {
      const use = block as Message.ToolUseBlock
      return { type: "tool_call", id: use.id, name: use.name, arguments: use.input }
    }
    case "tool_result": {
      const result = block as Message.ToolResultBlock
      return { type: "tool_call_response", id: result.tool_use_id, response: result.content ?? "" }
    }
    case "thinking":
      return { type: "reasoning", content: (block as Message.ThinkingBlock).thinking }
    default:
      return { type: "generic", generic_type: block.type }
  }
}

const roleOf = (message: Message.Message): string =>
  message.role === "user" &&
  message.content.length > 0 &&
  message.content.every((block) => block.type === "tool_result")
    ? "tool"
    : message.role

/** `gen_ai.input.messages`: the conversation sent to the model. */
export const inputMessages = (messages: ReadonlyArray<Message.Message>): string =>
  JSON.stringify(messages.map((message) => ({ role: roleOf(message), parts: message.content.map(partOf) })))

/** `gen_ai.output.messages`: the model's reply with its finish reason. */
export const outputMessages = (content: ReadonlyArray<Message.ContentBlock>, finishReason: string): string =>
  JSON.stringify([{ role: "assistant", parts: content.map(partOf), finish_reason: finishReason }])

/** `gen_ai.system_instructions`: the system prompt as text parts. */
export const systemInstructions = (system: string | ReadonlyArray<Message.TextBlock>): string =>
  JSON.stringify(
    typeof system === "string"
      ? [{ type: "text", content: system }]
      : system.map((block) => ({ type: "text", content: block.text }))
  )

/** `gen_ai.tool.definitions`: the tools offered, as functions. */
export const toolDefinitions = (
  tools: ReadonlyArray<{
    readonly name: string
    readonly description: string
    readonly input_schema: Readonly<Record<string, unknown>>
  }>
): string =>
  JSON.stringify(
    tools.map((tool) => ({
      type: "function",
      name: tool.name,
      description: tool.description,
      parameters: tool.input_schema
    }))
  )

/** A tool call's input as a JSON string (`gen_ai.tool.call.arguments`). */
export const toolArguments = (input: unknown): string => JSON.stringify(input ?? {})

/**
 * A stop reason in the conventions' finish-reason words: `end_turn` and `stop_sequence` are
 * `stop`, `tool_use` is `tool_call`, `max_tokens` is `length`, `refusal` is `content_filter`;
 * others (`pause_turn`, a provider's own) pass through.
 */
export const finishReason = (stopReason: string): string => {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "tool_use":
      return "tool_call"
    case "max_tokens":
      return "length"
    case "refusal":
      return "content_filter"
    default:
      return stopReason
  }
}
