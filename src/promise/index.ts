/**
 * data-harness for code not written in Effect: Promises and async iterators
 * (`import { createAgent, anthropic } from "data-harness/promise"`).
 *
 * The same agent as the Effect API: sessions that hold data handles and a history that stays
 * valid, events in the Anthropic streaming shapes, and the same typed errors, thrown as `Error`
 * subclasses with `_tag` (`"ProviderError"`, `"Timeout"`, `"MaxTurnsExceeded"`,
 * `"InvalidOptions"`, `"DataError"`, `"InvalidAnswer"`), `message` and `isRetryable`. An
 * `AbortSignal` (`{ signal }`) or a `break` out of `for await` interrupts a run as a fiber
 * interruption does: the HTTP request is aborted, the history repaired, and the next ask works.
 * Tools take a plain async function and any Standard Schema (Zod 4, Valibot, ArkType) or an
 * Effect Schema; a typed answer takes one too.
 *
 * @example
 * ```ts
 * import { z } from "zod"
 * import { anthropic, createAgent, tool } from "data-harness/promise"
 *
 * await using agent = createAgent({
 *   provider: anthropic({ model: "claude-sonnet-4-6" }),   // ANTHROPIC_API_KEY
 *   system: "You are a data analyst.",
 *   tools: [tool({
 *     name: "fx", description: "EUR per unit of a currency.",
 *     parameters: z.object({ currency: z.string() }),
 *     handler: async ({ currency }) => (currency === "USD" ? 0.92 : 1)
 *   })],
 *   answer: z.object({ totalEur: z.number() })
 * })
 * const session = await agent.session()
 * await session.put("sales", [{ region: "EU", revenue: 120, currency: "EUR" }, { region: "US", revenue: 80, currency: "USD" }])
 * const result = await session.askResult("Total revenue in EUR?")
 * result.value?.totalEur
 * ```
 * @since 0.2.0
 */
import * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"

export { type AnswerSchema, InvalidAnswer, type WithJsonSchema, withJsonSchema } from "../agent/Answer.js"
export type { ModelOptions } from "../agent/Session.js"
export type { InferOutput, JsonSchema, StandardSchemaV1 } from "../agent/standardSchemaSpec.js"
export { ApprovalNotPending, Pending as PendingApproval } from "../control/Approval.js"
export { DataError, InvalidOptions, MaxTurnsExceeded, ProviderError, Timeout } from "../core/HarnessError.js"
export type { ContentBlock, Message } from "../core/Message.js"
export type { StreamEvent } from "../core/StreamEvent.js"
export type { Metadata, Thinking, ToolChoice } from "../provider/Provider.js"
export {
  type Agent,
  type AgentOptions,
  type AskOptions,
  createAgent,
  type Duration,
  type Prompt,
  type Result,
  type Session,
  type Timeouts,
  type TypedAskOptions,
  type Usage
} from "./agent.js"
export {
  type AnthropicOptions,
  anthropic,
  type MockContext,
  type MockFailure,
  type MockOptions,
  type MockScript,
  type MockTurn,
  type ModelProvider,
  mock,
  type OpenAIOptions,
  openai
} from "./providers.js"
export { type AgentTool, type Infer, type InputSchema, type ToolContext, type ToolOptions, tool } from "./tools.js"

/**
 * A text block for a prompt of several blocks.
 * @since 0.2.0
 */
export const text: (value: string) => Message.TextBlock = Message.text

/**
 * An image block: base64 `data` with its `mediaType`, or a `url`.
 *
 * @example
 * ```ts
 * await session.ask([text("What does this chart show?"), image({ data: pngBase64, mediaType: "image/png" })])
 * ```
 * @since 0.2.0
 */
export const image: (
  source: { readonly data: string; readonly mediaType: Message.ImageMediaType } | { readonly url: string }
) => Message.ImageBlock = Message.image

/**
 * A PDF document block: base64 `data` or a `url`, with an optional `title`.
 * @since 0.2.0
 */
export const pdf: (
  source: { readonly data: string } | { readonly url: string },
  options?: { readonly title?: string | undefined }
) => Message.DocumentBlock = Message.pdf

/**
 * The text of a `text_delta` event, or `undefined` for any other event.
 *
 * @example
 * ```ts
 * for await (const event of session.stream("Summarise the sales.")) process.stdout.write(textDelta(event) ?? "")
 * ```
 * @since 0.2.0
 */
export const textDelta = (event: StreamEvent.StreamEvent): string | undefined =>
  event.type === "content_block_delta" && event.delta.type === "text_delta"
    ? (event.delta as { readonly text: string }).text
    : undefined
