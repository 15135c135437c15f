/**
 * Helpers for tests that read streamed events, recorded requests and histories.
 */
import { assert } from "@effect/vitest"
import { Effect, type Exit, Stream } from "effect"
import type { Message, Provider, StreamEvent } from "../../src/index.js"

/**
 * A short label for an event: its type, plus the block type of a `content_block_start` and the
 * delta type of a `content_block_delta` (e.g. `content_block_delta:text_delta`).
 */
export const label = (event: StreamEvent.StreamEvent): string => {
  switch (event.type) {
    case "content_block_start":
      return `content_block_start:${event.content_block.type}`
    case "content_block_delta":
      return `content_block_delta:${event.delta.type}`
    default:
      return event.type
  }
}

/**
 * Runs a stream to its end, keeping every event it emitted and how it ended (so a stream that fails
 * after its events can be checked for both).
 */
export const runEvents = <A, E, R>(
  stream: Stream.Stream<A, E, R>
): Effect.Effect<{ readonly events: ReadonlyArray<A>; readonly exit: Exit.Exit<void, E> }, never, R> =>
  Effect.suspend(() => {
    const events: Array<A> = []
    return Stream.runForEach(stream, (event) => Effect.sync(() => events.push(event))).pipe(
      Effect.exit,
      Effect.map((exit) => ({ events, exit }))
    )
  })

/** The text the text deltas of `events` spell. */
export const textOf = (events: ReadonlyArray<StreamEvent.StreamEvent>): string =>
  events
    .map((event) =>
      event.type === "content_block_delta" && event.delta.type === "text_delta"
        ? (event.delta as { text: string }).text
        : ""
    )
    .join("")

/** The `tool_result` events of a list of events. */
export const toolResultEvents = (events: ReadonlyArray<StreamEvent.StreamEvent>): Array<StreamEvent.ToolResult> =>
  events.filter((event): event is StreamEvent.ToolResult => event.type === "tool_result")

/** The last user message of a request. */
export const lastUserMessage = (request: Provider.Request): Message.Message => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!
    if (message.role === "user") return message
  }
  throw new Error("the request has no user message")
}

/** The `tool_result` blocks of a message. */
export const toolResultBlocks = (message: Message.Message): Array<Message.ToolResultBlock> =>
  message.content.filter((block): block is Message.ToolResultBlock => block.type === "tool_result")

/** The text blocks of a message. */
export const textBlocks = (message: Message.Message): Array<Message.TextBlock> =>
  message.content.filter((block): block is Message.TextBlock => block.type === "text")

/**
 * Asserts that a history is valid for the provider: it starts with a user message, roles alternate,
 * and every `tool_use` of an assistant message is answered by exactly one `tool_result` in the
 * next (user) message, which answers nothing else.
 */
export const assertValidHistory = (messages: ReadonlyArray<Message.Message>, where = "history"): void => {
  if (messages.length > 0) assert.strictEqual(messages[0]!.role, "user", `${where}: must start with a user message`)
  messages.forEach((message, i) => {
    assert.isAbove(message.content.length, 0, `${where}: message ${i} has no content`)
    if (i > 0) {
      assert.notStrictEqual(message.role, messages[i - 1]!.role, `${where}: messages ${i - 1} and ${i} have one role`)
    }
    const uses = message.content.filter((block): block is Message.ToolUseBlock => block.type === "tool_use")
    if (message.role === "assistant" && uses.length > 0) {
      const next = messages[i + 1]
      assert.isDefined(next, `${where}: the tool calls of message ${i} have no results`)
      const answered = toolResultBlocks(next!).map((block) => block.tool_use_id)
      assert.sameMembers(
        answered,
        uses.map((use) => use.id),
        `${where}: message ${i + 1} must answer exactly the tool calls of message ${i}`
      )
    }
    if (message.role === "user" && toolResultBlocks(message).length > 0) {
      const before = messages[i - 1]
      assert.strictEqual(
        before?.role,
        "assistant",
        `${where}: the tool results of message ${i} answer no assistant message`
      )
    }
  })
}

/**
 * Asserts that no text block of `messages` is empty or whitespace-only: the Messages API rejects
 * such a block with a 400 ("text content blocks must contain non-whitespace text").
 */
export const assertSendableText = (messages: ReadonlyArray<Message.Message>, where = "history"): void => {
  messages.forEach((message, i) => {
    for (const block of textBlocks(message)) {
      assert.match(block.text, /\S/, `${where}: message ${i} has a text block of whitespace only`)
    }
  })
}
