/**
 * Compaction: keeping a long conversation inside the model's context window.
 *
 * Before each model turn the request's input tokens are counted (the agent's `countTokens`, else
 * `Tokens.estimate`). Past `threshold` of the context window (the model's, from the `Pricing`
 * table, or `contextWindow`), the session's history is compacted in two steps:
 *
 * 1. **Offload**: tool results longer than `offloadOver` characters (except those of the last
 *    message, which the model has not read yet) are put into the session's data as handles
 *    (`tool_result_1`, ...; JSON is stored parsed, an inline `sql` result as a table) and replaced
 *    by a short note naming the handle: the model can still query them with `sql` or `javascript`.
 * 2. **Summarise**, if still past the threshold: every message before the last `keepTurns` model
 *    turns is summarised (by the agent's model, or by your `summarise` function) and replaced by
 *    one user message holding the summary in `<conversation_summary>` tags.
 *
 * The result is a valid history for every provider (it starts with a user message, roles
 * alternate, every `tool_use` keeps its `tool_result`), and the system prompt is untouched, so it
 * stays byte-stable (and cached). What was compacted is recorded: the ask emits a `compaction`
 * event, and `session.compactions` lists a {@link Record} per compaction with the removed messages
 * themselves, so nothing is lost. `session.compact()` compacts on demand (both steps, whatever the
 * size).
 *
 * @example
 * ```ts
 * const agent = yield* Agent.make({
 *   compaction: { contextWindow: 100_000, threshold: 0.8, keepTurns: 2 }
 * })
 * ```
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Message from "../core/Message.js"
import type * as Data from "../data/Data.js"

// options

/**
 * What a summariser gets: the messages to summarise, and the same as a plain-text transcript.
 * @since 0.2.0
 */
export interface SummaryInput {
  readonly messages: Message.History
  readonly transcript: string
}

/**
 * Writes the summary of older messages. When it fails, nothing is summarised: an automatic
 * compaction logs a warning and the ask goes on with the history as it is (offloading still
 * applies); `session.compact()` fails with {@link CompactionFailed}.
 * @since 0.2.0
 */
export type Summariser = (input: SummaryInput) => Effect.Effect<string, unknown>

/**
 * Options of compaction (`Agent.make({ compaction })`).
 * @since 0.2.0
 */
export interface Options {
  /** The context window in tokens; default: the model's, from the `Pricing` table. */
  readonly contextWindow?: number | undefined
  /** Compact when a request's input passes this share of the window (default 0.8). */
  readonly threshold?: number | undefined
  /** Model turns kept as they are, at the end (default 2, at least 1). */
  readonly keepTurns?: number | undefined
  /** Tool results longer than this many characters are offloaded into handles (default 4,000). */
  readonly offloadOver?: number | undefined
  /** Writes the summary; default: the agent's provider, with `summaryModel` if given. */
  readonly summarise?: Summariser | undefined
  /** The model the default summariser asks (default: the agent's). */
  readonly summaryModel?: string | undefined
  /** Compact automatically before model turns (default true); `false`: only `session.compact()`. */
  readonly auto?: boolean | undefined
}

/**
 * A summariser could not write a summary; the history is unchanged.
 * @since 0.2.0
 */
export class CompactionFailed extends Schema.TaggedError<CompactionFailed>()("CompactionFailed", {
  message: Schema.String
}) {
  /** Retryable: the summariser may succeed next time. */
  get isRetryable(): boolean {
    return true
  }
}

// records

/**
 * A tool result moved into a handle.
 * @since 0.2.0
 */
export const Offloaded = Schema.Struct({
  toolUseId: Schema.String,
  handle: Schema.String,
  chars: Schema.Number
})
/** @since 0.2.0 */
export type Offloaded = typeof Offloaded.Type

/**
 * One compaction: why (`window`: the request neared the context window; `manual`:
 * `session.compact()`), the estimated tokens of the history before and after, how many messages
 * were summarised into `summary`, the tool results offloaded, and the messages removed (as they
 * were, so that nothing is lost).
 * @since 0.2.0
 */
export class Record extends Schema.Class<Record>("data-harness/CompactionRecord")({
  at: Schema.Number,
  reason: Schema.Literals(["window", "manual"]),
  tokensBefore: Schema.Number,
  tokensAfter: Schema.Number,
  summarised: Schema.Number,
  summary: Schema.optionalKey(Schema.String),
  offloaded: Schema.Array(Offloaded),
  removed: Message.History
}) {}

// the summary message

const SUMMARY_OPEN = "<conversation_summary>"
const SUMMARY_CLOSE = "</conversation_summary>"

/**
 * The text block that stands for the summarised messages at the start of the history.
 * @since 0.2.0
 */
export const summaryBlock = (summary: string): Message.TextBlock =>
  Message.text(
    `${SUMMARY_OPEN}\nThe conversation so far was compacted; this is its summary.\n\n${summary.trim()}\n${SUMMARY_CLOSE}`
  )

// transcript

const clip = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`

const blockLine = (block: Message.ContentBlock, maxResult: number): string | undefined => {
  switch (block.type) {
    case "text":
      return (block as Message.TextBlock).text
    case "tool_use": {
      const use = block as Message.ToolUseBlock
      return `[tool call ${use.name} ${use.id}] ${JSON.stringify(use.input ?? {})}`
    }
    case "tool_result": {
      const result = block as Message.ToolResultBlock
      const content = typeof result.content === "string" ? result.content : JSON.stringify(result.content ?? "")
      return `[tool result ${result.tool_use_id}${result.is_error === true ? " (error)" : ""}] ${clip(content, maxResult)}`
    }
    case "thinking":
    case "redacted_thinking":
      return undefined
    default:
      return `[${block.type}]`
  }
}

/**
 * Messages as a plain-text transcript (`User:` / `Assistant:`, tool calls and results in brackets,
 * results longer than `maxResult` characters clipped, thinking left out): what a summariser reads.
 * @since 0.2.0
 */
export const transcript = (messages: Message.History, maxResult = 2_000): string =>
  messages
    .map((message) => {
      const lines = message.content.map((block) => blockLine(block, maxResult)).filter((l) => l !== undefined)
      return `${message.role === "user" ? "User" : "Assistant"}: ${lines.join("\n")}`
    })
    .join("\n\n")

// splitting

/**
 * Where the kept part of `history` starts: the index of the `keepTurns`-th assistant message from
 * the end, or `undefined` when fewer than two messages come before it (nothing worth summarising).
 * @since 0.2.0
 */
export const splitPoint = (history: Message.History, keepTurns: number): number | undefined => {
  let seen = 0
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]!.role !== "assistant") continue
    seen++
    if (seen === Math.max(1, keepTurns)) return i >= 2 ? i : undefined
  }
  return undefined
}

/**
 * `history` with every message before `from` replaced by one user message holding `summary`.
 * Valid when `from` is an assistant message's index (see {@link splitPoint}).
 * @since 0.2.0
 */
export const replaceWithSummary = (history: Message.History, from: number, summary: string): Message.History => [
  { role: "user", content: [summaryBlock(summary)] },
  ...history.slice(from)
]

// offloading

const OFFLOADED = "[Offloaded:"

/** A parsed tool result as the value to store: an inline `sql` result as records, JSON parsed, else the text. */
const storedValue = (content: string): unknown => {
  let parsed: unknown
  try {
    parsed = JSON.parse(content)
  } catch {
    return content
  }
  const table = parsed as { readonly columns?: unknown; readonly rows?: unknown }
  if (
    typeof parsed === "object" &&
    parsed !== null &&
    Array.isArray(table.columns) &&
    Array.isArray(table.rows) &&
    table.rows.every(Array.isArray)
  ) {
    const columns = table.columns as ReadonlyArray<string>
    return (table.rows as ReadonlyArray<ReadonlyArray<unknown>>).map((row) =>
      Object.fromEntries(columns.map((column, i) => [column, row[i] ?? null]))
    )
  }
  return parsed
}

const note = (handle: string, content: string, kind: string) =>
  `${OFFLOADED} this result (${content.length} characters) is kept as the data handle "${handle}" (${kind}). ` +
  `Query it with sql (FROM ${handle}) if it is a table, or read it in javascript; list_variables shows its snapshot.] ` +
  `It began: ${clip(content, 200)}`

/**
 * Moves tool results longer than `over` characters, in every message but the last, into handles
 * of `store`, each replaced by a note naming its handle. A result the store refuses stays.
 * @since 0.2.0
 */
export const offload = (
  history: Message.History,
  store: Data.Store,
  over: number
): Effect.Effect<{ readonly history: Message.History; readonly offloaded: ReadonlyArray<Offloaded> }> =>
  Effect.gen(function* () {
    const offloaded: Array<Offloaded> = []
    const out: Array<Message.Message> = []
    for (let i = 0; i < history.length; i++) {
      const message = history[i]!
      if (i === history.length - 1 || message.role !== "user") {
        out.push(message)
        continue
      }
      const content: Array<Message.ContentBlock> = []
      for (const block of message.content) {
        const result = block as Message.ToolResultBlock
        if (
          block.type !== "tool_result" ||
          typeof result.content !== "string" ||
          result.content.length <= over ||
          result.content.startsWith(OFFLOADED)
        ) {
          content.push(block)
          continue
        }
        const value = storedValue(result.content)
        const put = yield* Effect.result(
          store.put("tool_result", value, { description: `The result of tool call ${result.tool_use_id}.` })
        )
        if (put._tag === "Failure") {
          content.push(block)
          continue
        }
        const kind = Array.isArray(value) ? "a table" : typeof value === "string" ? "text" : "JSON"
        offloaded.push({ toolUseId: result.tool_use_id, handle: put.success, chars: result.content.length })
        content.push({ ...result, content: note(put.success, result.content, kind) })
      }
      out.push({ role: message.role, content })
    }
    return { history: out, offloaded }
  })
