/**
 * A `/v1/messages` request as an agent ask: the conversation as a session history and a prompt,
 * the caller's tools as tools the harness does not run, and the request's sampling parameters on
 * every model call.
 * @internal
 */
import { Effect } from "effect"
import { Message, type Provider, type Tool } from "../index.js"
import type { MessageParam, MessagesRequest, ToolParam } from "./MessagesApi.js"

/**
 * The `server_name` of the harness's own tool blocks.
 * @internal
 */
export const SERVER_NAME = "data-harness"

/**
 * The prompt of an ask that continues a conversation whose last message is not a plain text
 * prompt (tool results, images, or an assistant message to continue). A session ask takes a text
 * prompt; this one is merged into the last user message and removed from every request before
 * the model sees it, so the model reads exactly the caller's conversation.
 * @internal
 */
export const CONTINUE = "\u2063data-harness:continue\u2063"

type Blocks = ReadonlyArray<Message.ContentBlock>

const blocksOf = (content: MessageParam["content"]): Blocks =>
  typeof content === "string" ? [Message.text(content)] : content

/** An `mcp_tool_use` of the harness's (`server_name` says whose). */
const isOurUse = (block: Message.ContentBlock): boolean =>
  block.type === "mcp_tool_use" && (block as { readonly server_name?: unknown }).server_name === SERVER_NAME

/** An `mcp_tool_result` answering one of `uses` (a result block names no server). */
const isOurResult = (block: Message.ContentBlock, uses: ReadonlySet<string>): boolean =>
  block.type === "mcp_tool_result" && uses.has((block as { readonly tool_use_id?: unknown }).tool_use_id as string)

/**
 * A result's content as the harness wrote it: one plain text block was a string (the same bytes
 * as in the first request keep the provider's prompt cache warm).
 */
const resultContent = (content: unknown): Message.ToolResultBlock["content"] => {
  if (Array.isArray(content) && content.length === 1) {
    const only = content[0] as Record<string, unknown>
    if (only.type === "text" && typeof only.text === "string" && Object.keys(only).length === 2) return only.text
  }
  return content as Message.ToolResultBlock["content"]
}

/** An `mcp_tool_result` as the `tool_result` it stands for. */
const toToolResult = (block: Message.ContentBlock): Message.ContentBlock => {
  const result = block as unknown as {
    readonly tool_use_id: string
    readonly content?: unknown
    readonly is_error?: boolean
  }
  return {
    type: "tool_result",
    tool_use_id: result.tool_use_id,
    ...(result.content !== undefined ? { content: resultContent(result.content) } : {}),
    ...(result.is_error === true ? { is_error: true } : {})
  } as Message.ContentBlock
}

/** An `mcp_tool_use` as the `tool_use` it stands for. */
const toToolUse = (block: Message.ContentBlock): Message.ContentBlock => {
  const use = block as unknown as { readonly id: string; readonly name: string; readonly input?: unknown }
  return { type: "tool_use", id: use.id, name: use.name, input: use.input ?? {} }
}

/**
 * An assistant message of ours as the turns it was made of: the blocks up to a run of
 * `mcp_tool_result`s are an assistant turn (its `mcp_tool_use`s as `tool_use`), the results a
 * user message of `tool_result`s, and so on.
 */
const expandAssistant = (content: Blocks): ReadonlyArray<Message.Message> => {
  const out: Array<Message.Message> = []
  let assistant: Array<Message.ContentBlock> = []
  let results: Array<Message.ContentBlock> = []
  const flushResults = () => {
    if (results.length > 0) out.push({ role: "user", content: results })
    results = []
  }
  const uses = new Set<string>()
  for (const block of content) {
    if (isOurUse(block)) uses.add((block as { readonly id: string }).id)
    if (isOurResult(block, uses)) {
      if (assistant.length > 0) out.push({ role: "assistant", content: assistant })
      assistant = []
      results.push(toToolResult(block))
      continue
    }
    flushResults()
    assistant.push(isOurUse(block) ? toToolUse(block) : block)
  }
  flushResults()
  if (assistant.length > 0) out.push({ role: "assistant", content: assistant })
  return out
}

/** Appends messages, merging neighbours of the same role. */
const appendMerged = (history: Array<Message.Message>, messages: ReadonlyArray<Message.Message>) => {
  for (const message of messages) {
    const last = history[history.length - 1]
    if (last !== undefined && last.role === message.role) {
      history[history.length - 1] = { role: last.role, content: [...last.content, ...message.content] }
    } else {
      history.push(message)
    }
  }
}

/**
 * The request's conversation as a session history and the prompt to ask: a last user message of
 * one text block is the prompt; any other ending (tool results, images, several blocks, an
 * assistant message) stays in the history and the prompt is {@link CONTINUE}.
 * @internal
 */
export const conversationOf = (
  messages: ReadonlyArray<MessageParam>
): { readonly history: Message.History; readonly prompt: string } => {
  const history: Array<Message.Message> = []
  for (const message of messages) {
    const content = blocksOf(message.content)
    appendMerged(history, message.role === "assistant" ? expandAssistant(content) : [{ role: "user", content }])
  }
  const last = history[history.length - 1]
  const only = last?.role === "user" && last.content.length === 1 ? last.content[0] : undefined
  if (only?.type === "text" && /\S/.test((only as Message.TextBlock).text)) {
    return { history: history.slice(0, -1), prompt: (only as Message.TextBlock).text }
  }
  return { history, prompt: CONTINUE }
}

/** The request's system prompt as text (blocks joined by blank lines). */
export const systemOf = (system: MessagesRequest["system"]): string | undefined =>
  system === undefined
    ? undefined
    : typeof system === "string"
      ? system
      : system.map((block) => block.text).join("\n\n")

/**
 * A tool of the caller's: sent to the model, never run by the harness (the ask ends before its
 * results would be read; the caller runs it and sends the result back).
 * @internal
 */
export const clientTool = (param: ToolParam): Tool.Tool => ({
  name: param.name,
  description: param.description ?? "",
  inputSchema: param.input_schema,
  visible: true,
  timeout: undefined,
  call: () => Effect.succeed({ content: "(run by the caller)", isError: false })
})

/** The messages without {@link CONTINUE} blocks, emptied messages dropped and neighbours merged. */
const withoutContinue = (messages: ReadonlyArray<Message.Message>): ReadonlyArray<Message.Message> => {
  const isContinue = (block: Message.ContentBlock) =>
    block.type === "text" && (block as Message.TextBlock).text === CONTINUE
  if (!messages.some((m) => m.content.some(isContinue))) return messages
  const out: Array<Message.Message> = []
  for (const message of messages) {
    const content = message.content.filter((block) => !isContinue(block))
    if (content.length > 0) appendMerged(out, [{ role: message.role, content }])
  }
  return out
}

/**
 * The provider for one `/v1/messages` ask: `base` with the continue prompt removed from every
 * request, and the request's parameters (temperature, top_p, top_k, stop sequences, thinking,
 * metadata) on every model call; `tool_choice` only on the first (a forced tool on every turn
 * would never let the model answer).
 * @internal
 */
export const providerFor = (base: Provider.Service, request: MessagesRequest): Provider.Service => {
  let firstLength: number | undefined
  const parameters: Partial<Provider.Request> = {
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.top_p !== undefined ? { topP: request.top_p } : {}),
    ...(request.top_k !== undefined ? { topK: request.top_k } : {}),
    ...(request.stop_sequences !== undefined ? { stopSequences: request.stop_sequences } : {}),
    ...(request.metadata?.user_id != null ? { metadata: { userId: request.metadata.user_id } } : {}),
    ...(request.thinking !== undefined
      ? {
          thinking:
            request.thinking.type === "enabled"
              ? { type: "enabled", budgetTokens: request.thinking.budget_tokens }
              : request.thinking
        }
      : {})
  }
  const choice = request.tool_choice
  const toolChoice: Provider.ToolChoice | undefined =
    choice === undefined
      ? undefined
      : {
          ...(choice.type === "tool" ? { type: "tool", name: choice.name } : { type: choice.type }),
          ...(choice.disable_parallel_tool_use !== undefined
            ? { disableParallelToolUse: choice.disable_parallel_tool_use }
            : {})
        }
  const adjust = (given: Provider.Request): Provider.Request => {
    const messages = withoutContinue(given.messages)
    firstLength ??= messages.length
    const first = messages.length === firstLength
    return { ...given, ...parameters, messages, ...(first && toolChoice !== undefined ? { toolChoice } : {}) }
  }
  return {
    info: base.info,
    chat: (given) => base.chat(adjust(given)),
    stream: (given) => base.stream(adjust(given)),
    formatCacheControl: (given) => base.formatCacheControl({ ...given, messages: withoutContinue(given.messages) })
  }
}
