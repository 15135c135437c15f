/**
 * The model providers of the Promise API, as plain options: `anthropic({ apiKey, model })`,
 * `openai({ model, preset })`, `mock({ turns })`. Each is a description; `createAgent` builds
 * the provider (its connection pool) in the agent's runtime and releases it with the agent.
 *
 * @internal
 */
import { Effect, type Layer } from "effect"
import { ProviderError as ProviderErrorClass, type ProviderErrorReason } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import * as Anthropic from "../provider/anthropic/Anthropic.js"
import * as Mock from "../provider/Mock.js"
import * as OpenAI from "../provider/openai/OpenAI.js"
import type * as Provider from "../provider/Provider.js"
import { register } from "./registry.js"

/**
 * A model provider for `createAgent`: made by {@link anthropic}, {@link openai} or {@link mock}.
 * @since 0.2.0
 */
export interface ModelProvider {
  readonly kind: "anthropic" | "openai" | "mock"
  readonly model: string
}

const describe = (kind: ModelProvider["kind"], model: string, layer: Layer.Layer<Provider.Provider, unknown>) =>
  register<ModelProvider>({ kind, model }, layer)

/** Per-turn defaults every provider takes. */
interface Sampling {
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /** Extra HTTP headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** `"node"` (default: `node:http` with keep-alive) or `"fetch"` (the global `fetch`). */
  readonly transport?: "node" | "fetch" | undefined
}

/**
 * Options of {@link anthropic}.
 * @since 0.2.0
 */
export interface AnthropicOptions extends Sampling {
  /** e.g. `"claude-sonnet-4-6"`. */
  readonly model: string
  /** Default: `ANTHROPIC_API_KEY`. */
  readonly apiKey?: string | undefined
  readonly baseURL?: string | undefined
  readonly topK?: number | undefined
  readonly thinking?: Provider.Thinking | { readonly budgetTokens: number } | undefined
}

/**
 * Claude, through the official SDK.
 *
 * @example
 * ```ts
 * import { anthropic, createAgent } from "data-harness/promise"
 * const agent = createAgent({ provider: anthropic({ model: "claude-sonnet-4-6" }) })
 * ```
 * @since 0.2.0
 */
export const anthropic = (options: AnthropicOptions): ModelProvider =>
  describe("anthropic", options.model, Anthropic.layer(options))

/**
 * Options of {@link openai}.
 * @since 0.2.0
 */
export interface OpenAIOptions extends Sampling {
  /** e.g. `"gpt-4.1-mini"`, `"qwen3:8b"`. */
  readonly model: string
  /** Default: the preset's variable (`OPENAI_API_KEY`, ...). */
  readonly apiKey?: string | undefined
  readonly baseURL?: string | undefined
  /** `"openai"`, `"ollama"`, `"vllm"`, `"openrouter"`, `"lmstudio"`, ... (default: from `baseURL`). */
  readonly preset?: OpenAI.PresetName | undefined
  /** Fields merged into every request body. */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

/**
 * OpenAI, or any server that speaks its Chat Completions API (Ollama, vLLM, OpenRouter, ...).
 *
 * @example
 * ```ts
 * import { createAgent, openai } from "data-harness/promise"
 * const agent = createAgent({ provider: openai({ preset: "ollama", model: "qwen3:8b" }) })
 * ```
 * @since 0.2.0
 */
export const openai = (options: OpenAIOptions): ModelProvider =>
  describe("openai", options.model, OpenAI.layer(options))

// the scripted model

/**
 * A scripted turn's content: text, thinking, tool calls.
 * @since 0.2.0
 */
export interface MockScript {
  readonly text?: string | undefined
  readonly thinking?: { readonly thinking: string; readonly signature: string } | undefined
  readonly toolCalls?:
    | ReadonlyArray<{ readonly name: string; readonly input?: unknown; readonly id?: string }>
    | undefined
  readonly stopReason?: string | undefined
}

/**
 * A scripted turn that fails with a provider error (after `afterText`, if given), or stalls.
 * @since 0.2.0
 */
export interface MockFailure {
  readonly fail:
    | { readonly reason: ProviderErrorReason; readonly message: string; readonly retryAfter?: number | undefined }
    | "stall"
  readonly afterText?: string | undefined
}

/**
 * What a scripted function sees.
 * @since 0.2.0
 */
export interface MockContext {
  readonly turn: number
  readonly messages: ReadonlyArray<Message.Message>
  /** The last message's tool results, what a scripted model usually reads. */
  readonly lastToolResults: ReadonlyArray<Message.ToolResultBlock>
}

/**
 * One scripted turn: content, a failure, or a function of the conversation so far.
 * @since 0.2.0
 */
export type MockTurn =
  | MockScript
  | MockFailure
  | ((context: MockContext) => MockScript | MockFailure | Promise<MockScript | MockFailure>)

/**
 * Options of {@link mock}.
 * @since 0.2.0
 */
export interface MockOptions {
  readonly turns: ReadonlyArray<MockTurn>
  /** Split text and tool input into deltas of this many characters. */
  readonly chunkSize?: number | undefined
  /** Delay before each event, in milliseconds. */
  readonly eventDelay?: number | undefined
  readonly model?: string | undefined
}

const isFailure = (turn: MockScript | MockFailure): turn is MockFailure => "fail" in turn

const scriptOf = (turn: MockScript | MockFailure): Mock.Script | Mock.Failure => {
  if (!isFailure(turn)) return turn
  if (turn.fail === "stall") return Mock.stall(turn.afterText)
  const error = new ProviderErrorClass({
    reason: turn.fail.reason,
    message: turn.fail.message,
    provider: "mock",
    ...(turn.fail.retryAfter !== undefined ? { retryAfter: turn.fail.retryAfter } : {})
  })
  return Mock.fail(error, turn.afterText)
}

const turnOf = (turn: MockTurn): Mock.Turn =>
  typeof turn !== "function"
    ? typeof turn === "object" && turn !== null
      ? scriptOf(turn)
      : (turn as Mock.Turn)
    : (context) =>
        Effect.map(
          Effect.promise(async () =>
            turn({ turn: context.turn, messages: context.messages, lastToolResults: context.lastToolResults })
          ),
          scriptOf
        )

/**
 * A scripted model, for tests and offline runs: each model turn takes the next scripted turn
 * (the last one repeats).
 *
 * @example
 * ```ts
 * import { createAgent, mock } from "data-harness/promise"
 * const agent = createAgent({
 *   provider: mock({ turns: [{ toolCalls: [{ name: "mean", input: { values: [1, 2] } }] }, { text: "1.5" }] })
 * })
 * ```
 * @since 0.2.0
 */
export const mock = (options: MockOptions): ModelProvider =>
  describe(
    "mock",
    options.model ?? "mock-model",
    Mock.layer({
      turns: Array.isArray(options.turns) ? options.turns.map(turnOf) : (options.turns as never),
      chunkSize: options.chunkSize,
      eventDelay: options.eventDelay,
      model: options.model
    })
  )
