/**
 * The OpenAI-compatible provider: the Chat Completions API of OpenAI, and of the servers that copy
 * it (Ollama, vLLM, LM Studio, llama.cpp, OpenRouter, Groq, Together, DeepSeek; see
 * {@link presets}), on the official `openai` SDK.
 *
 * `stream` sends `chat.completions.create` with `stream: true` and `stream_options.include_usage`,
 * and turns the chunks into the same events an Anthropic turn streams: `message_start`, one block
 * after the other (text, thinking from the server's reasoning fields, one `tool_use` block per tool
 * call with its arguments as `input_json_delta`s), `message_delta` with the mapped stop reason and
 * usage, `message_stop`. So the fold, the agent loop and every consumer work unchanged. `chat`
 * sends one non-streaming request and folds its message the same way.
 *
 * The SDK sends the request, checks the status and maps HTTP errors; the SSE body is read here, in
 * one pass per network read (as the Anthropic provider does), over `node:http` by default. Its
 * retries and timeouts are off: retries, timeouts and interruption belong to the harness.
 * Interrupting the fiber (or a consumer that stops pulling) aborts the HTTP request at once and
 * closes its socket; `Request.requestTimeout` bounds the wait for the response headers, and the
 * agent's first-event and idle deadlines are enforced by the reader itself.
 *
 * Errors have the Anthropic provider's reasons and retry flags (see `errors.ts`): 429
 * `RateLimited` with `retryAfter`, 503 `Overloaded`, other 5xx `ServerError`, connection failures
 * `Connection`, 400/401/403/404/413 not retryable, and an error chunk inside the stream is a typed
 * error too. A parameter the server cannot take (`topK` where there is no `top_k`, a thinking
 * budget where there is no such field) fails with `InvalidOptions` before any request.
 *
 * With `raw: true` every event carries `raw`: the chunks (as parsed) that arrived since the
 * previous event, so provider fields the events have no place for (OpenRouter's `cost` and
 * `annotations`, Groq's `x_groq`, `system_fingerprint`, logprobs) stay reachable; every chunk is on
 * exactly one event.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, OpenAI } from "data-harness"
 * const program = Agent.make({ system: "You are a data analyst." }).pipe(
 *   Effect.flatMap((agent) => agent.run("What is 2 + 2?")),
 *   Effect.provide(OpenAI.layer({ preset: "ollama", model: "qwen3:8b" }))
 * )
 * ```
 * @since 0.2.0
 */

import { Config, Effect, Layer, Option, Redacted } from "effect"
import type { ClientOptions } from "openai"
import type { InvalidOptions } from "../../core/HarnessError.js"
import * as Sdk from "../http/sdkClient.js"
import * as Provider from "../Provider.js"
import { type Preset, type PresetName, presetFor, presets } from "./Preset.js"
import * as Body from "./request.js"
import * as SdkClient from "./sdkClient.js"
import type { Client } from "./service.js"
import * as Service from "./service.js"

export { type Preset, type PresetName, presetFor, presets, type ThinkingStyle } from "./Preset.js"
export type { Client } from "./service.js"

// options

/**
 * The model `layerConfig` uses when `OPENAI_MODEL` is not set.
 * @since 0.2.0
 */
export const defaultModel = "gpt-4.1-mini"

/**
 * What every OpenAI-compatible layer accepts, whether it builds its own SDK client or is given one.
 * @since 0.2.0
 */
export interface RequestOptions {
  /** The model, e.g. `"gpt-4.1-mini"`, `"qwen3:8b"`, `"anthropic/claude-sonnet-4.5"`. */
  readonly model: string
  /**
   * The server: a preset name, or a preset (`{ ...OpenAI.presets.vllm, topK: false }`). Default:
   * detected from `baseURL` ({@link presetFor}), OpenAI without one.
   */
  readonly preset?: PresetName | Preset | undefined
  /** Output limit of a turn; `Request.maxTokens` overrides it. Unset: the server's default. */
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /** Extra HTTP headers sent with every request (e.g. OpenRouter's `HTTP-Referer`, `X-Title`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Fields merged into every request body, for what the harness does not model (vLLM's
   * `chat_template_kwargs`, OpenRouter's `provider` routing, `seed`, ...). The harness's own fields win.
   */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
  /** Attach the raw chunks to the events (`event.raw`, see the module docs). Default `false`. */
  readonly raw?: boolean | undefined
}

/**
 * Options of {@link layer} and {@link make}.
 * @since 0.2.0
 */
export interface Options extends RequestOptions {
  /**
   * The API key; a plain string is wrapped in `Redacted` at once. Without one, the preset's
   * environment variable is read (`OPENAI_API_KEY` for OpenAI, `OPENROUTER_API_KEY`, ...); a
   * server that takes no key gets none. No other environment variable is read, so a key meant for
   * one server never reaches another.
   */
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  /** The base URL (the path before `/chat/completions`); default: the preset's. */
  readonly baseURL?: string | undefined
  /**
   * Further options for the SDK client (`fetch`, `logger`, `defaultQuery`, ...). Credentials,
   * `baseURL` and `maxRetries` are set by this module.
   */
  readonly clientOptions?: Omit<ClientOptions, "apiKey" | "baseURL" | "maxRetries"> | undefined
  /**
   * How requests go over the network: `"node"` (default; `node:http` with keep-alive, the body
   * read from the socket's stream) or `"fetch"` (the global `fetch`, e.g. for a proxy on undici's
   * dispatcher). A `fetch` in `clientOptions`, or `NODE_USE_ENV_PROXY=1` with a proxy set, means `"fetch"`.
   */
  readonly transport?: "node" | "fetch" | undefined
}

/**
 * Options of {@link layerFromClient}: the request options and a name for `Provider.info`.
 * @since 0.2.0
 */
export interface FromClientOptions extends RequestOptions {
  /** The provider name in `Provider.info` (default: the preset's name), e.g. `"azure"`. */
  readonly name?: string | undefined
}

/**
 * Converts a system prompt and a history to Chat Completions `messages` (see the table in
 * `request.ts`); fails with `InvalidOptions` naming a block the protocol cannot carry.
 *
 * @example
 * ```ts
 * import { Message, OpenAI } from "data-harness"
 * const messages = OpenAI.toChatMessages("Be terse.", [Message.user("hi")])
 * // [{ role: "system", content: "Be terse." }, { role: "user", content: "hi" }]
 * ```
 * @since 0.2.0
 */
export const toChatMessages = (
  system: Provider.Request["system"],
  messages: Provider.Request["messages"],
  preset: PresetName | Preset = "openai"
): Array<Body.ChatMessage> | InvalidOptions =>
  Body.toChatMessages(system, messages, typeof preset === "string" ? presets[preset] : preset)

// constructors

const resolvePreset = (preset: PresetName | Preset | undefined, baseURL: string | undefined): Preset =>
  preset === undefined ? presetFor(baseURL) : typeof preset === "string" ? presets[preset] : preset

const setupOf = (
  options: FromClientOptions,
  preset: Preset,
  key: Redacted.Redacted<string> | undefined,
  baseURL: string | undefined,
  missingKey: boolean
): Service.Setup => ({
  name: options.name ?? preset.name,
  preset,
  defaults: {
    model: options.model,
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    topP: options.topP,
    stopSequences: options.stopSequences,
    extraBody: options.extraBody
  },
  headers: preset.headers !== undefined ? { ...preset.headers, ...options.headers } : options.headers,
  raw: options.raw === true,
  key,
  baseURL,
  missingKey
})

/**
 * Builds the provider service on an existing SDK client (an `OpenAI` or `AzureOpenAI` client).
 * Every request is sent with the SDK's retries and timeout off; the client's API key is kept out
 * of every error message.
 *
 * @example
 * ```ts
 * import { AzureOpenAI } from "openai"
 * import { Effect } from "effect"
 * import { OpenAI } from "data-harness"
 * const service = Effect.runSync(
 *   OpenAI.makeWithClient(new AzureOpenAI({ apiVersion: "2024-10-21" }), { model: "gpt-4.1", name: "azure" })
 * )
 * ```
 * @since 0.2.0
 */
export const makeWithClient = (client: Client, options: FromClientOptions): Effect.Effect<Provider.Service> =>
  Effect.sync(() => {
    const baseURL = Sdk.baseURLOf(client)
    const preset = resolvePreset(options.preset, baseURL)
    return Service.make(client, setupOf(options, preset, SdkClient.keyOf(client), baseURL, false))
  })

/**
 * Builds the provider service with its own SDK client. The key stays `Redacted` until it is
 * handed to the client; without one, the preset's environment variable is read through `Config`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OpenAI } from "data-harness"
 * // the client's connection pool closes with the scope
 * const service = Effect.scoped(OpenAI.make({ preset: "ollama", model: "qwen3:8b" }))
 * ```
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const preset = resolvePreset(options.preset, options.baseURL)
  const baseURL = options.baseURL ?? preset.baseURL
  const key =
    options.apiKey !== undefined
      ? Redacted.isRedacted(options.apiKey)
        ? options.apiKey
        : Redacted.make(options.apiKey)
      : preset.apiKeyEnv !== undefined
        ? Option.getOrUndefined(
            yield* Config.option(Config.Redacted(preset.apiKeyEnv)).pipe(Effect.orElseSucceed(Option.none))
          )
        : undefined
  const client = yield* SdkClient.make({
    preset,
    baseURL,
    key,
    clientOptions: options.clientOptions,
    transport: options.transport
  })
  return Service.make(client, setupOf(options, preset, key, baseURL, key === undefined && preset.apiKey === "required"))
})

// layers

/**
 * The OpenAI-compatible provider as a Layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, OpenAI } from "data-harness"
 * const program = Agent.make({ system: "Be terse." }).pipe(
 *   Effect.flatMap((agent) => agent.run("hi")),
 *   Effect.provide(OpenAI.layer({ model: "gpt-4.1-mini" })) // OPENAI_API_KEY from the environment
 * )
 * const local = OpenAI.layer({ preset: "vllm", model: "Qwen/Qwen3-8B", baseURL: "http://gpu:8000/v1" })
 * ```
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider> =>
  Layer.effect(Provider.Provider, make(options))

/**
 * The OpenAI-compatible provider on an SDK client you built: an `OpenAI` client with your own
 * settings, or an `AzureOpenAI` client.
 *
 * @example
 * ```ts
 * import { AzureOpenAI } from "openai"
 * import { OpenAI } from "data-harness"
 * const azure = OpenAI.layerFromClient(new AzureOpenAI({ apiVersion: "2024-10-21" }), {
 *   model: "gpt-4.1",
 *   name: "azure"
 * })
 * ```
 * @since 0.2.0
 */
export const layerFromClient = (client: Client, options: FromClientOptions): Layer.Layer<Provider.Provider> =>
  Layer.effect(Provider.Provider, makeWithClient(client, options))

/**
 * The provider configured from the environment: `OPENAI_API_KEY` (read as `Redacted`; required
 * unless `OPENAI_BASE_URL` points elsewhere, e.g. at an Ollama that takes no key),
 * `OPENAI_BASE_URL` (its preset detected from it) and `OPENAI_MODEL` (default
 * {@link defaultModel}). Options given here win over the environment.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, OpenAI } from "data-harness"
 * // OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=qwen3:8b
 * const program = Agent.make({}).pipe(
 *   Effect.flatMap((agent) => agent.run("hi")),
 *   Effect.provide(OpenAI.layerConfig())
 * )
 * ```
 * @since 0.2.0
 */
export const layerConfig = (
  options?: Omit<Options, "model"> & { readonly model?: string | undefined }
): Layer.Layer<Provider.Provider, Config.ConfigError> =>
  Layer.effect(
    Provider.Provider,
    Effect.gen(function* () {
      const baseURL = options?.baseURL ?? Option.getOrUndefined(yield* Config.option(Config.String("OPENAI_BASE_URL")))
      const apiKey =
        options?.apiKey ??
        (baseURL === undefined
          ? yield* Config.Redacted("OPENAI_API_KEY")
          : Option.getOrUndefined(yield* Config.option(Config.Redacted("OPENAI_API_KEY"))))
      const model = options?.model ?? (yield* Config.String("OPENAI_MODEL").pipe(Config.withDefault(defaultModel)))
      return yield* make({ ...options, model, apiKey, baseURL })
    })
  )
