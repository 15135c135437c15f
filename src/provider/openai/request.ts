/**
 * Builds Chat Completions requests from the harness's requests: the history as `messages`, tools
 * as `function` tools, and the per-call parameters under the names the server takes. A parameter
 * the server cannot take is an {@link InvalidOptions} before anything is sent.
 *
 * | harness | Chat Completions |
 * | --- | --- |
 * | system prompt (string or text blocks) | one `system` message |
 * | user text blocks | a `user` message (a string when it is only text, else content parts) |
 * | user `image` blocks (`source` base64 or url) | `image_url` parts |
 * | user `document` blocks (base64 PDF or text source) | a `file` part, or text |
 * | `tool_result` blocks | one `tool` message each (before the user's other content), `is_error` as an `Error: ` prefix; images of a result follow as a user message |
 * | assistant text | `content` |
 * | assistant `tool_use` | `tool_calls` (`arguments` the JSON of `input`) |
 * | assistant `thinking` | dropped, or `reasoning_content` (preset `reasoningInHistory`) |
 * | assistant `redacted_thinking`, server-tool and other provider blocks | dropped (only their provider reads them) |
 * @internal
 */
import { InvalidOptions } from "../../core/HarnessError.js"
import type * as Message from "../../core/Message.js"
import type * as Provider from "../Provider.js"
import type { Preset } from "./Preset.js"

/**
 * A Chat Completions message as this module builds it.
 * @internal
 */
export type ChatMessage =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: string | ReadonlyArray<ContentPart> }
  | {
      readonly role: "assistant"
      readonly content: string | null
      readonly tool_calls?: ReadonlyArray<ToolCall>
      readonly reasoning_content?: string
    }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

/** @internal */
export type ContentPart =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image_url"; readonly image_url: { readonly url: string } }
  | { readonly type: "file"; readonly file: { readonly filename: string; readonly file_data: string } }

/** @internal */
export interface ToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

type Block = { readonly type: string; readonly [key: string]: unknown }
type Source = {
  readonly type?: unknown
  readonly media_type?: unknown
  readonly data?: unknown
  readonly url?: unknown
}

const invalid = (option: string, message: string) => new InvalidOptions({ option, message })

/** An `image` block's `image_url` part, or `undefined` when its source is not base64 or a URL. */
const imagePart = (block: Block): ContentPart | undefined => {
  const source = block.source as Source | undefined
  if (source?.type === "base64" && typeof source.data === "string" && typeof source.media_type === "string") {
    return { type: "image_url", image_url: { url: `data:${source.media_type};base64,${source.data}` } }
  }
  if (source?.type === "url" && typeof source.url === "string")
    return { type: "image_url", image_url: { url: source.url } }
  return undefined
}

/** A `document` block as a `file` part (base64) or text (a text source). */
const documentPart = (block: Block): ContentPart | undefined => {
  const source = block.source as Source | undefined
  if (source?.type === "text" && typeof source.data === "string") return { type: "text", text: source.data }
  if (source?.type === "base64" && typeof source.data === "string" && typeof source.media_type === "string") {
    const title = typeof block.title === "string" && block.title !== "" ? block.title : "document"
    return { type: "file", file: { filename: title, file_data: `data:${source.media_type};base64,${source.data}` } }
  }
  return undefined
}

/** A user block as a content part; an error names a block the protocol cannot carry. */
const userPart = (block: Block, where: string): ContentPart | InvalidOptions => {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text as string }
    case "image":
      return (
        imagePart(block) ??
        invalid(where, "an image block needs a `source` of type base64 (with media_type and data) or url")
      )
    case "document":
      return (
        documentPart(block) ??
        invalid(where, "a document block needs a `source` of type base64 (with media_type and data) or text")
      )
    default:
      return invalid(
        where,
        `a "${block.type}" block cannot be sent to an OpenAI-compatible server (text, image, document and tool_result can)`
      )
  }
}

/** Content parts as a message's content: a plain string when they are all text. */
const contentOf = (parts: ReadonlyArray<ContentPart>): string | ReadonlyArray<ContentPart> =>
  parts.every((part) => part.type === "text")
    ? parts.map((part) => (part as { readonly text: string }).text).join("\n\n")
    : parts

/** A `tool_result` as a `tool` message, and the images it returned (sent after as a user message). */
const toolMessage = (
  block: Message.ToolResultBlock,
  where: string
): [ChatMessage, Array<ContentPart>] | InvalidOptions => {
  const content = block.content
  let text = ""
  const images: Array<ContentPart> = []
  if (typeof content === "string") text = content
  else if (content !== undefined) {
    const texts: Array<string> = []
    for (const part of content as ReadonlyArray<Block>) {
      if (part.type === "text") texts.push(part.text as string)
      else {
        const converted = userPart(part, where)
        if (converted instanceof InvalidOptions) return converted
        images.push(converted)
      }
    }
    text = texts.join("\n\n")
  }
  if (block.is_error === true) text = `Error: ${text}`
  return [{ role: "tool", tool_call_id: block.tool_use_id, content: text }, images]
}

const userMessages = (message: Message.Message, at: number, out: Array<ChatMessage>): InvalidOptions | undefined => {
  const parts: Array<ContentPart> = []
  const images: Array<ContentPart> = []
  for (let j = 0; j < message.content.length; j++) {
    const block = message.content[j] as Block
    const where = `messages[${at}].content[${j}]`
    if (block.type === "tool_result") {
      const converted = toolMessage(block as Message.ToolResultBlock, where)
      if (converted instanceof InvalidOptions) return converted
      out.push(converted[0])
      images.push(...converted[1])
      continue
    }
    if (block.type === "text" && (block.text as string) === "") continue
    const part = userPart(block, where)
    if (part instanceof InvalidOptions) return part
    parts.push(part)
  }
  const all = images.length > 0 ? [...images, ...parts] : parts
  if (all.length > 0) out.push({ role: "user", content: contentOf(all) })
  return undefined
}

const assistantMessage = (message: Message.Message, preset: Preset): ChatMessage | undefined => {
  let text = ""
  let reasoning = ""
  const calls: Array<ToolCall> = []
  for (const block of message.content) {
    switch (block.type) {
      case "text":
        text += (block as Message.TextBlock).text
        break
      case "tool_use": {
        const use = block as Message.ToolUseBlock
        calls.push({
          id: use.id,
          type: "function",
          function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) }
        })
        break
      }
      case "thinking":
        reasoning += (block as Message.ThinkingBlock).thinking
        break
    }
  }
  if (text === "" && calls.length === 0) return undefined
  const built: {
    role: "assistant"
    content: string | null
    tool_calls?: ReadonlyArray<ToolCall>
    reasoning_content?: string
  } = { role: "assistant", content: text === "" && calls.length > 0 ? null : text }
  if (calls.length > 0) built.tool_calls = calls
  if (preset.reasoningInHistory === "reasoning_content" && reasoning !== "") built.reasoning_content = reasoning
  return built
}

/**
 * Converts a system prompt and a history to Chat Completions messages, or names the block it
 * cannot send. The input is not mutated.
 * @internal
 */
export const toChatMessages = (
  system: Provider.Request["system"],
  messages: ReadonlyArray<Message.Message>,
  preset: Preset
): Array<ChatMessage> | InvalidOptions => {
  const out: Array<ChatMessage> = []
  if (system !== undefined && system.length > 0) {
    out.push({ role: "system", content: typeof system === "string" ? system : system.map((b) => b.text).join("\n\n") })
  }
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    if (message.role === "user") {
      const error = userMessages(message, i, out)
      if (error !== undefined) return error
    } else {
      const assistant = assistantMessage(message, preset)
      if (assistant !== undefined) out.push(assistant)
    }
  }
  return out
}

// parameters

/**
 * The defaults a layer sets for every request (the per-call fields of a request win).
 * @internal
 */
export interface Defaults {
  readonly model: string
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

const effortOf = (budget: number): "low" | "medium" | "high" =>
  budget < 4_096 ? "low" : budget < 16_384 ? "medium" : "high"

const finite = (value: number | undefined, option: string): InvalidOptions | undefined =>
  value === undefined || Number.isFinite(value) ? undefined : invalid(option, `${option} must be a finite number`)

type Body = Record<string, unknown>

const setThinking = (body: Body, thinking: Provider.Thinking, preset: Preset): InvalidOptions | undefined => {
  switch (preset.thinking) {
    case "reasoning_effort":
      if (thinking.type === "enabled") body.reasoning_effort = effortOf(thinking.budgetTokens)
      return undefined
    case "openrouter":
      body.reasoning =
        thinking.type === "enabled" ? { max_tokens: thinking.budgetTokens } : { enabled: thinking.type === "adaptive" }
      return undefined
    case "none":
      return thinking.type === "enabled"
        ? invalid(
            "thinking",
            `${preset.label} has no request field for a thinking budget: choose a reasoning model instead, or leave \`thinking\` unset`
          )
        : undefined
  }
}

const setToolChoice = (
  body: Body,
  request: Provider.Request,
  choice: Provider.ToolChoice
): InvalidOptions | undefined => {
  if (request.tools.length === 0) {
    return choice.type === "auto" || choice.type === "none"
      ? undefined
      : invalid("toolChoice", `toolChoice "${choice.type}" needs a tool, and the request has none`)
  }
  if (choice.type === "tool" && !request.tools.some((tool) => tool.name === choice.name)) {
    return invalid("toolChoice", `toolChoice names the tool "${choice.name}", which the request does not have`)
  }
  body.tool_choice =
    choice.type === "tool"
      ? { type: "function", function: { name: choice.name } }
      : choice.type === "any"
        ? "required"
        : choice.type
  if (choice.disableParallelToolUse === true) body.parallel_tool_calls = false
  return undefined
}

/**
 * The request body for a turn (without `stream`), or the {@link InvalidOptions} of a parameter
 * the server cannot take.
 * @internal
 */
export const toBody = (request: Provider.Request, defaults: Defaults, preset: Preset): Body | InvalidOptions => {
  const messages = toChatMessages(request.system, request.messages, preset)
  if (messages instanceof InvalidOptions) return messages
  const body: Body = defaults.extraBody !== undefined ? { ...defaults.extraBody } : {}
  body.model = request.model ?? defaults.model
  body.messages = messages
  if (request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: "function",
      function: { name: tool.name, description: tool.description, parameters: tool.input_schema }
    }))
  }
  const maxTokens = request.maxTokens ?? defaults.maxTokens
  if (maxTokens !== undefined) body[preset.maxTokensField] = maxTokens
  const temperature = request.temperature ?? defaults.temperature
  const topP = request.topP ?? defaults.topP
  const problem = finite(temperature, "temperature") ?? finite(topP, "topP") ?? finite(request.topK, "topK")
  if (problem !== undefined) return problem
  if (temperature !== undefined) body.temperature = temperature
  if (topP !== undefined) body.top_p = topP
  if (request.topK !== undefined) {
    if (!preset.topK) {
      return invalid("topK", `${preset.label} does not take top_k; leave topK unset (temperature and topP are taken)`)
    }
    body.top_k = request.topK
  }
  const stop = request.stopSequences ?? defaults.stopSequences
  if (stop !== undefined && stop.length > 0) body.stop = [...stop]
  if (request.thinking !== undefined) {
    const error = setThinking(body, request.thinking, preset)
    if (error !== undefined) return error
  }
  if (request.toolChoice !== undefined) {
    const error = setToolChoice(body, request, request.toolChoice)
    if (error !== undefined) return error
  }
  if (request.metadata?.userId !== undefined) body.user = request.metadata.userId
  return body
}
