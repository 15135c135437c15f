/**
 * The provider contract: the service shape every adapter implements ({@link Service}), the request
 * of one model turn ({@link Request}) and what a provider is and fails with. It lives apart from
 * `Provider.ts` so that the modules `Provider.ts` builds on (`Fallback.ts`, `portableHistory.ts`)
 * can name these types without importing it; `Provider.ts` re-exports every one of them unchanged.
 * @since 0.1.0
 */
import type { Duration, Effect, Stream } from "effect"
import type { InvalidOptions, ProviderError, Timeout } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"

/**
 * A tool as the provider sees it: its name, description and the JSON Schema of its input.
 * @since 0.1.0
 */
export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly input_schema: Readonly<Record<string, unknown>>
}

/**
 * One model turn to run.
 * @since 0.1.0
 */
export interface Request {
  /** The system prompt: a string, or text blocks (after `Provider.formatCacheControl`). */
  readonly system?: string | ReadonlyArray<Message.TextBlock> | undefined
  readonly messages: ReadonlyArray<Message.Message>
  readonly tools: ReadonlyArray<ToolDefinition>
  /** Overrides the adapter's default output limit for this turn. */
  readonly maxTokens?: number | undefined
  /**
   * Limit from sending the request until the response headers; adapters that speak HTTP fail
   * with a `Timeout` of phase `request` when it passes.
   */
  readonly requestTimeout?: Duration.Duration | undefined
  /** Overrides the adapter's model for this turn. */
  readonly model?: string | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly topK?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /** Extended thinking: a token budget, adaptive (the model decides), or off. */
  readonly thinking?: Thinking | undefined
  /** Which tools the model may or must call. */
  readonly toolChoice?: ToolChoice | undefined
  /** Request metadata: an opaque end-user id (Anthropic `metadata.user_id`, OpenAI `user`). */
  readonly metadata?: Metadata | undefined
}

/**
 * Extended thinking for a turn: `{ type: "enabled", budgetTokens }`, `{ type: "adaptive" }` (the
 * model decides how much to think), or `{ type: "disabled" }`.
 * @since 0.2.0
 */
export type Thinking =
  | { readonly type: "enabled"; readonly budgetTokens: number }
  | { readonly type: "adaptive" }
  | { readonly type: "disabled" }

/**
 * Which tools the model may call: `auto` (default), `any` (it must call one), `none`, or one named
 * tool it must call. `disableParallelToolUse` asks for at most one call per turn where supported.
 * @since 0.2.0
 */
export type ToolChoice =
  | { readonly type: "auto" | "any" | "none"; readonly disableParallelToolUse?: boolean | undefined }
  | { readonly type: "tool"; readonly name: string; readonly disableParallelToolUse?: boolean | undefined }

/**
 * Request metadata passed to the provider.
 * @since 0.2.0
 */
export interface Metadata {
  readonly userId?: string | undefined
}

/**
 * What a provider is.
 * @since 0.1.0
 */
export interface Info {
  readonly name: string
  readonly model: string
  readonly supportsStreaming: boolean
}

/**
 * The errors a provider call can fail with.
 * @since 0.1.0
 */
export type ProviderFailure = ProviderError | Timeout | InvalidOptions

/**
 * The provider service shape.
 * @since 0.1.0
 */
export interface Service {
  readonly info: Info
  /** One whole turn. */
  readonly chat: (request: Request) => Effect.Effect<NormalizedResponse, ProviderFailure>
  /** One turn as events, decoded and validated; `ping` and unknown event types dropped. */
  readonly stream: (request: Request) => Stream.Stream<StreamEvent.ProviderEvent, ProviderFailure>
  /** Marks the request for prompt caching; never mutates its input. */
  readonly formatCacheControl: (request: Request) => Request
}
