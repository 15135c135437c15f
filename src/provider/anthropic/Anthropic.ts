/**
 * The Anthropic provider, on the official `@anthropic-ai/sdk`.
 *
 * `chat` sends one non-streaming `messages.create`; `stream` sends `messages.create` with
 * `stream: true` and turns every raw event into a {@link StreamEvent.ProviderEvent}, decoded with
 * `StreamEvent.decodeWire` (`effect/Schema`) and kept exactly as it arrived. `ping` and event types
 * from newer API versions are dropped, content blocks of unknown types are kept opaque, and an
 * in-stream `error` event (e.g. `overloaded_error`), a dropped connection or a stream that ends
 * without `message_stop` fails with a typed `ProviderError` after the events that did arrive; a
 * `200` whose body is not an event stream (an HTML page, JSON, nothing) says what arrived. The
 * stream does not fold the turn (that is the consumer's job, once): the agent, or
 * `Provider.collect`, puts what arrived on the error as its `partial`.
 *
 * Per-turn parameters (`Provider.Request`: model, maxTokens, temperature, topP, topK,
 * stopSequences, thinking, toolChoice, metadata) override the layer's defaults; a value the API
 * would refuse fails with `InvalidOptions` before any request is sent.
 *
 * The layer owns its connections: {@link layer} and {@link layerConfig} build a keep-alive pool
 * (`transport: "node"`, the default) whose sockets are destroyed when the layer's scope closes.
 *
 * Errors: 400/422 `InvalidRequest`, 401 `Authentication`, 402/403 `Permission`, 404 `NotFound`,
 * 413 `RequestTooLarge`, 429 `RateLimited` (with `retryAfter`), 529 and `overloaded_error`
 * `Overloaded`, 5xx `ServerError`, network failures `Connection` (all four retryable), malformed
 * responses `InvalidResponse`. The API key is held as a `Redacted` until it is handed to the SDK
 * client, and is redacted (as a whole token) from every error message and SDK log line.
 *
 * Public surface: the layers, `make`/`makeWithClient`, their option types, and
 * {@link toMessageParams} / {@link fromMessageParams} for code that also calls the SDK directly.
 * Request building, error mapping, SSE reading and the transport are private modules beside this one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Anthropic } from "data-harness"
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({ system: "You are a data analyst." })
 *   return yield* agent.run("What is 2 + 2?")
 * }).pipe(Effect.provide(Anthropic.layerConfig()))
 * ```
 * @since 0.1.0
 */
import type AnthropicSdk from "@anthropic-ai/sdk"
import { Config, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import { InvalidOptions } from "../../core/HarnessError.js"
import { baseURLOf } from "../http/sdkClient.js"
import * as Provider from "../Provider.js"
import { PROVIDER } from "./errors.js"
import { buildParams, type Defaults } from "./request.js"
import { makeService } from "./service.js"
import { keyOf, makeClient, type SdkOptions } from "./transport.js"

export { fromMessageParams, toMessageParams } from "./messages.js"

// options

/**
 * The model to use when none is configured.
 * @since 0.1.0
 */
export const defaultModel = "claude-sonnet-4-6"

/**
 * The output limit of a turn when neither the options nor the request set one.
 * @since 0.1.0
 */
export const defaultMaxTokens = 4096

/**
 * What every Anthropic layer accepts, whether it builds its own SDK client or is given one. Each
 * is a default that `Provider.Request` (an agent's or one ask's options) overrides per turn.
 * @since 0.1.0
 */
export interface RequestOptions {
  /** The model, e.g. `"claude-sonnet-4-6"`. */
  readonly model: string
  /** Output limit of a turn (default 4096). */
  readonly maxTokens?: number | undefined
  /** 0..1. */
  readonly temperature?: number | undefined
  /** 0..1. */
  readonly topP?: number | undefined
  /** A whole number of at least 1. */
  readonly topK?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /**
   * Extended thinking: `{ budgetTokens }` (the same as `{ type: "enabled", budgetTokens }`),
   * `{ type: "adaptive" }` or `{ type: "disabled" }`.
   */
  readonly thinking?: { readonly budgetTokens: number } | Provider.Thinking | undefined
  /** Extra HTTP headers sent with every request (e.g. `anthropic-beta`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * Options of {@link layer} and {@link make}.
 * @since 0.1.0
 */
export interface Options extends RequestOptions {
  /**
   * The API key. A plain string is wrapped in `Redacted` at once. Without one the SDK reads
   * `ANTHROPIC_API_KEY` (or its other credential sources) itself.
   */
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  /** The API's base URL (a proxy, a gateway, a local test server). */
  readonly baseURL?: string | undefined
  /**
   * Further options for the SDK client (`fetch`, `logger`, `logLevel`, `defaultHeaders`, ...).
   * Credentials, `baseURL` and `maxRetries` are set by this module.
   */
  readonly clientOptions?: SdkOptions | undefined
  /**
   * How requests go over the network:
   * - `"node"` (the default): `node:http` / `node:https` with keep-alive connections owned by
   *   the layer, the response body read straight from the socket's stream. On Node it costs
   *   about half the CPU of the global `fetch` per network read, which is what decides latency
   *   under many concurrent streams (see the README's Performance section).
   * - `"fetch"`: the global `fetch` (undici on Node). Choose it for what is configured on
   *   undici's global dispatcher (a proxy agent, custom TLS), or on a runtime without `node:http`.
   *
   * A `fetch` or `fetchOptions` given in `clientOptions` means `"fetch"` (with your `fetch`).
   * Without a `transport`, a process that asks Node to use the proxy in `HTTPS_PROXY`
   * (`NODE_USE_ENV_PROXY=1`, Node 24+) also gets `"fetch"`, which honours it.
   */
  readonly transport?: "node" | "fetch" | undefined
}

/**
 * Options of {@link layerFromClient}: the request options and a name for `Provider.info`.
 * @since 0.1.0
 */
export interface FromClientOptions extends RequestOptions {
  /** The provider name in `Provider.info` (default `"anthropic"`), e.g. `"bedrock"`. */
  readonly name?: string | undefined
}

/**
 * The part of an SDK client this module uses: `messages.create`. `Anthropic`, `AnthropicBedrock`,
 * `AnthropicVertex` and `AnthropicFoundry` clients of the same SDK all have it.
 * @since 0.1.0
 */
export interface Client {
  readonly messages: Pick<AnthropicSdk["messages"], "create">
}

// constructors

const thinkingOf = (thinking: RequestOptions["thinking"]): Provider.Thinking | undefined =>
  thinking === undefined || "type" in thinking ? thinking : { type: "enabled", budgetTokens: thinking.budgetTokens }

/** The layer's defaults, checked as a request would check them (a layer with a bad option fails to build). */
const defaultsOf = (options: RequestOptions): Effect.Effect<Defaults, InvalidOptions> => {
  const defaults: Defaults = {
    model: options.model,
    maxTokens: options.maxTokens ?? defaultMaxTokens,
    temperature: options.temperature,
    topP: options.topP,
    topK: options.topK,
    stopSequences: options.stopSequences,
    thinking: thinkingOf(options.thinking)
  }
  const checked = buildParams(defaults, { messages: [], tools: [] }, false)
  return checked instanceof InvalidOptions ? Effect.fail(checked) : Effect.succeed(defaults)
}

/**
 * Builds the provider service on an existing SDK client (an `Anthropic`, or a Bedrock or Vertex
 * client of the same SDK). Every request is sent with the SDK's retries and timeout off; the
 * client's API key, if it has one, is kept out of every error message. The client's connections
 * are the caller's. Fails with `InvalidOptions` when an option is not one the API accepts.
 *
 * @example
 * ```ts
 * import AnthropicSdk from "@anthropic-ai/sdk"
 * import { Effect } from "effect"
 * import { Anthropic } from "data-harness"
 * const service = Effect.runSync(
 *   Anthropic.makeWithClient(new AnthropicSdk(), { model: "claude-sonnet-4-6" })
 * )
 * ```
 * @since 0.1.0
 */
export const makeWithClient = (
  client: Client,
  options: FromClientOptions
): Effect.Effect<Provider.Service, InvalidOptions> =>
  Effect.map(defaultsOf(options), (defaults) =>
    makeService(client, {
      name: options.name ?? PROVIDER,
      defaults,
      headers: options.headers,
      key: keyOf(client),
      baseURL: baseURLOf(client)
    })
  )

/**
 * Builds the provider service with its own SDK client. The key stays `Redacted` until it is
 * handed to the client. The client's connection pool is closed when the scope closes. Fails with
 * `InvalidOptions` when an option is not one the API accepts.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Anthropic } from "data-harness"
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const provider = yield* Anthropic.make({ model: "claude-sonnet-4-6", apiKey: Redacted.make(key) })
 *     return yield* provider.chat({ messages: [Message.user("hi")], tools: [] })
 *   })
 * )
 * ```
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Provider.Service, InvalidOptions, Scope.Scope> =>
  Effect.flatMap(defaultsOf(options), (defaults) =>
    Effect.map(makeClient(options), ({ client, key }) =>
      makeService(client, {
        name: PROVIDER,
        defaults,
        headers: options.headers,
        key,
        baseURL: client.baseURL
      })
    )
  )

// layers

/**
 * The Anthropic provider as a Layer. Its connection pool is closed when the layer's scope closes.
 * Fails to build with `InvalidOptions` when an option is not one the API accepts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Anthropic } from "data-harness"
 * const program = Agent.make({ system: "Be terse." }).pipe(
 *   Effect.flatMap((agent) => agent.run("hi")),
 *   Effect.provide(Anthropic.layer({ model: "claude-sonnet-4-6", maxTokens: 1024 }))
 * )
 * ```
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider, InvalidOptions> =>
  Layer.effect(Provider.Provider, make(options))

/**
 * The Anthropic provider on an SDK client you built: an `Anthropic` client with your own
 * settings, or an `AnthropicBedrock` / `AnthropicVertex` client of the same SDK.
 *
 * @example
 * ```ts
 * import { AnthropicBedrock } from "@anthropic-ai/bedrock-sdk"
 * import { Anthropic } from "data-harness"
 * const bedrock = Anthropic.layerFromClient(new AnthropicBedrock(), {
 *   model: "anthropic.claude-sonnet-4-6",
 *   name: "bedrock"
 * })
 * ```
 * @since 0.1.0
 */
export const layerFromClient = (
  client: Client,
  options: FromClientOptions
): Layer.Layer<Provider.Provider, InvalidOptions> => Layer.effect(Provider.Provider, makeWithClient(client, options))

/**
 * The Anthropic provider configured from the environment: `ANTHROPIC_API_KEY` (required, read as
 * `Redacted`), `ANTHROPIC_BASE_URL` (optional) and `ANTHROPIC_MODEL` (default
 * `"claude-sonnet-4-6"`). Options given here win over the environment.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Anthropic } from "data-harness"
 * const program = Agent.make({}).pipe(
 *   Effect.flatMap((agent) => agent.run("hi")),
 *   Effect.provide(Anthropic.layerConfig({ maxTokens: 2048 }))
 * )
 * ```
 * @since 0.1.0
 */
export const layerConfig = (
  options?: Omit<Options, "model"> & { readonly model?: string | undefined }
): Layer.Layer<Provider.Provider, Config.ConfigError | InvalidOptions> =>
  Layer.effect(
    Provider.Provider,
    Effect.gen(function* () {
      const apiKey = options?.apiKey ?? (yield* Config.Redacted("ANTHROPIC_API_KEY"))
      const baseURL =
        options?.baseURL ?? Option.getOrUndefined(yield* Config.option(Config.String("ANTHROPIC_BASE_URL")))
      const model = options?.model ?? (yield* Config.String("ANTHROPIC_MODEL").pipe(Config.withDefault(defaultModel)))
      return yield* make({ ...options, model, apiKey, baseURL })
    })
  )
