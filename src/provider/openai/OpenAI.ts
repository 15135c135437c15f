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

import {
  Cause,
  Channel,
  Clock,
  Config,
  Duration,
  Effect,
  type Exit,
  Layer,
  Option,
  Redacted,
  Scope,
  Stream
} from "effect"
import OpenAISdk, { type ClientOptions } from "openai"
import { emptyPartial, InvalidOptions, type ProviderError, Timeout } from "../../core/HarnessError.js"
import type { NormalizedResponse } from "../../core/NormalizedResponse.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import * as NodeFetch from "../http/nodeFetch.js"
import * as Provider from "../Provider.js"
import * as PullDeadline from "../pullDeadline.js"
import * as Chunk from "./Chunk.js"
import * as Errors from "./errors.js"
import { type Preset, type PresetName, presetFor, presets } from "./Preset.js"
import * as Body from "./request.js"
import { bytesOf, SseReader } from "./SseReader.js"
import { ChunkTranslator } from "./Translator.js"

export { type Preset, type PresetName, presetFor, presets, type ThinkingStyle } from "./Preset.js"

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
 * The part of an SDK client this module uses: `chat.completions.create`. An `OpenAI` or
 * `AzureOpenAI` client of the `openai` package has it.
 * @since 0.2.0
 */
export interface Client {
  readonly chat: { readonly completions: Pick<OpenAISdk["chat"]["completions"], "create"> }
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

// the service

const maxTimerMillis = 2_147_483_647

const requestTimeoutError = (label: string, limit: Duration.Duration) => {
  const limitMillis = Duration.toMillis(limit)
  return new Timeout({
    phase: "request",
    limitMillis,
    message: `${label} sent no response headers within ${limitMillis} ms; the request was aborted. It can be retried, or raise \`requestTimeout\`.`,
    partial: emptyPartial
  })
}

const resolvePreset = (preset: PresetName | Preset | undefined, baseURL: string | undefined): Preset =>
  preset === undefined ? presetFor(baseURL) : typeof preset === "string" ? presets[preset] : preset

interface Setup {
  readonly options: FromClientOptions
  readonly preset: Preset
  readonly key: Redacted.Redacted<string> | undefined
  readonly baseURL: string | undefined
  /** The preset needs a key and none was found: every request fails with this, unsent. */
  readonly missingKey: boolean
}

type Deadlines<E> = { readonly limits: PullDeadline.Limits; readonly onTimeout: PullDeadline.OnTimeout<E> }

/** The service on a client. */
const makeService = (client: Client, setup: Setup): Provider.Service => {
  const { options, preset } = setup
  const secret = setup.key !== undefined ? Redacted.value(setup.key) : undefined
  const context: Errors.ErrorContext = {
    provider: options.name ?? preset.name,
    label: preset.label,
    baseURL: setup.baseURL,
    keyEnv: preset.apiKeyEnv,
    scrub: secret !== undefined && secret.length > 0 ? (text) => text.split(secret).join("<redacted>") : (text) => text
  }
  const defaults: Body.Defaults = {
    model: options.model,
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    topP: options.topP,
    stopSequences: options.stopSequences,
    extraBody: options.extraBody
  }
  const raw = options.raw === true
  const headers = preset.headers !== undefined ? { ...preset.headers, ...options.headers } : options.headers
  const requestOptions = (signal: AbortSignal): OpenAISdk.RequestOptions => {
    const built: OpenAISdk.RequestOptions = { signal, maxRetries: 0, timeout: maxTimerMillis }
    if (headers !== undefined) built.headers = headers
    return built
  }
  const missingKey = setup.missingKey
    ? Effect.fail(
        Errors.make(
          context,
          "Authentication",
          `no API key was given${preset.apiKeyEnv !== undefined ? ` and ${preset.apiKeyEnv} is not set` : ""}`
        )
      )
    : undefined

  /** The request body, or why it cannot be sent. */
  const bodyOf = (request: Provider.Request, stream: boolean) => {
    const body = Body.toBody(request, defaults, preset)
    if (body instanceof InvalidOptions) return body
    body.stream = stream
    if (stream && preset.streamUsage) body.stream_options = { include_usage: true }
    return body
  }

  const failWith = (thrown: unknown) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(Errors.fromThrown(context, thrown, now)))

  const withRequestTimeout = <A>(
    effect: Effect.Effect<A, ProviderError>,
    limit: Duration.Duration | undefined
  ): Effect.Effect<A, ProviderError | Timeout> =>
    limit === undefined
      ? effect
      : Effect.timeoutOrElse(effect, {
          duration: limit,
          orElse: () => Effect.fail(requestTimeoutError(preset.label, limit))
        })

  const chat = (request: Provider.Request): Effect.Effect<NormalizedResponse, Provider.ProviderFailure> => {
    const body = bodyOf(request, false)
    if (body instanceof InvalidOptions) return Effect.fail(body)
    if (missingKey !== undefined) return missingKey
    return withRequestTimeout(
      Effect.tryPromise({
        try: (signal) =>
          client.chat.completions.create(
            body as unknown as OpenAISdk.ChatCompletionCreateParamsNonStreaming,
            requestOptions(signal)
          ),
        catch: (thrown) => thrown
      }).pipe(Effect.catch(failWith)),
      request.requestTimeout
    ).pipe(Effect.flatMap((completion) => fold(completion, body.model as string)))
  }

  /** A whole completion through the stream's translation, then the fold. */
  const fold = (completion: unknown, model: string): Effect.Effect<NormalizedResponse, ProviderError> => {
    const chunk = completionChunk(completion)
    const problem = Chunk.validate(chunk)
    if (problem !== undefined) {
      return Effect.fail(Errors.make(context, "InvalidResponse", `the response is not a valid completion: ${problem}`))
    }
    const translator = new ChunkTranslator(model, false)
    translator.chunk(chunk as Chunk.Chunk)
    translator.end()
    if (translator.failure !== undefined)
      return Effect.fail(Errors.make(context, "InvalidResponse", translator.failure))
    return Provider.collect(Stream.fromIterable(translator.out), context.provider)
  }

  /** Sends the request through the SDK (status checks, errors, headers) and returns the raw response. */
  const open = (body: Record<string, unknown>, request: Provider.Request, controller: AbortController) =>
    withRequestTimeout(
      Effect.tryPromise({
        try: (signal) => {
          signal.addEventListener("abort", () => controller.abort(), { once: true })
          return client.chat.completions
            .create(body as unknown as OpenAISdk.ChatCompletionCreateParamsStreaming, requestOptions(controller.signal))
            .asResponse()
        },
        catch: (thrown) => thrown
      }).pipe(Effect.catch(failWith)),
      request.requestTimeout
    )

  /**
   * One turn's events. With `deadlines`, the reader enforces the first-event and idle limits
   * itself (see `pullDeadline.ts`): the first-event limit runs from the first pull, over the
   * request and the response headers, to the first event.
   */
  const streamWith = <E>(
    request: Provider.Request,
    deadlines: Deadlines<E> | undefined
  ): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure | E> => {
    const body = bodyOf(request, true)
    if (body instanceof InvalidOptions) return Stream.fail(body)
    if (missingKey !== undefined) return Stream.fromEffect(missingKey)
    const model = body.model as string
    return Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.uninterruptibleMask((restore) => {
          const controller = new AbortController()
          let reader: SseReader<E> | undefined
          let watchdog: PullDeadline.Watchdog<E> | undefined
          /** The first-event limit passed before the response headers: the request is aborted. */
          let early: Exit.Exit<never, E> | undefined
          const read = Effect.flatMap(restore(open(body, request, controller)), (response) =>
            Effect.clockWith((clock) => {
              reader = new SseReader(
                bytesOf(response),
                new ChunkTranslator(model, raw),
                response.headers.get("x-request-id") ?? undefined,
                controller,
                context,
                () => clock.currentTimeMillisUnsafe(),
                watchdog
              )
              return early === undefined ? Effect.succeed(reader.pull) : early
            })
          ).pipe(
            Effect.catchCause((cause) =>
              early !== undefined && !Cause.hasInterrupts(cause) ? early : Effect.failCause(cause)
            )
          )
          const watched = (started: PullDeadline.Watchdog<E> | undefined) => {
            watchdog = started
            watchdog?.arm((timeout) => {
              early = timeout
              controller.abort()
            })
            return read
          }
          // one finalizer for the reader and the watchdog (a scope of one closes directly)
          return Effect.andThen(
            Scope.addFinalizer(
              scope,
              Effect.sync(() => {
                try {
                  reader?.close()
                } finally {
                  watchdog?.stop()
                }
              })
            ),
            deadlines === undefined
              ? read
              : Effect.flatMap(PullDeadline.Watchdog.start(deadlines.limits, deadlines.onTimeout), watched)
          )
        })
      )
    )
  }

  const stream = (request: Provider.Request): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure> =>
    PullDeadline.enforcingDeadlines(streamWith(request, undefined), (limits, onTimeout) =>
      streamWith(request, { limits, onTimeout })
    )

  return Provider.make({
    name: context.provider,
    model: options.model,
    chat,
    stream,
    // OpenAI-compatible servers cache prompts by themselves; there are no markers to set
    formatCacheControl: (request) => request
  })
}

/** A completion as one chunk: its message as the delta (tool calls indexed in order). */
const completionChunk = (completion: unknown): unknown => {
  if (completion === null || typeof completion !== "object") return completion
  const { choices, ...rest } = completion as { readonly choices?: unknown }
  if (!Array.isArray(choices)) return completion
  return {
    ...rest,
    choices: choices.map((choice: { readonly message?: unknown; readonly [key: string]: unknown }) => {
      const { message, ...fields } = choice ?? {}
      const calls = (message as { readonly tool_calls?: unknown } | null | undefined)?.tool_calls
      return {
        ...fields,
        delta: Array.isArray(calls)
          ? { ...(message as object), tool_calls: calls.map((call, index) => ({ index, ...call })) }
          : message
      }
    })
  }
}

// constructors

const keyOf = (client: unknown): Redacted.Redacted<string> | undefined => {
  const apiKey = (client as { readonly apiKey?: unknown }).apiKey
  return typeof apiKey === "string" && apiKey.length > 0 && apiKey !== noKey ? Redacted.make(apiKey) : undefined
}

const baseURLOf = (client: unknown): string | undefined => {
  const baseURL = (client as { readonly baseURL?: unknown }).baseURL
  return typeof baseURL === "string" ? baseURL : undefined
}

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
    const baseURL = baseURLOf(client)
    return makeService(client, {
      options,
      preset: resolvePreset(options.preset, baseURL),
      key: keyOf(client),
      baseURL,
      missingKey: false
    })
  })

/** The key the SDK is built with when the server takes none: its `Authorization` header is removed. */
const noKey = "no-key"

/** Whether Node is told to send through the proxy in `HTTPS_PROXY` (`NODE_USE_ENV_PROXY=1`, Node 24+). */
const envProxyRequested = (): boolean => {
  const env = process.env
  return (
    env.NODE_USE_ENV_PROXY === "1" &&
    [env.HTTPS_PROXY, env.https_proxy, env.HTTP_PROXY, env.http_proxy].some((v) => v !== undefined && v !== "")
  )
}

const usesNodeTransport = (options: Options): boolean =>
  options.clientOptions?.fetch === undefined &&
  options.clientOptions?.fetchOptions === undefined &&
  typeof process !== "undefined" &&
  typeof process.versions?.node === "string" &&
  (options.transport === "node" || (options.transport === undefined && !envProxyRequested()))

type SdkLogger = NonNullable<ClientOptions["logger"]>

const scrubArg = (secret: string, arg: unknown): unknown => {
  if (typeof arg === "string") return arg.includes(secret) ? arg.split(secret).join("<redacted>") : arg
  if (arg === null || typeof arg !== "object") return arg
  try {
    const text = JSON.stringify(arg)
    return text?.includes(secret) ? JSON.parse(text.split(secret).join("<redacted>")) : arg
  } catch {
    return arg
  }
}

/** The SDK's logger with the key taken out of every line it logs. */
const scrubbingLogger = (logger: SdkLogger, key: Redacted.Redacted<string>): SdkLogger => {
  const secret = Redacted.value(key)
  if (secret.length === 0) return logger
  const wrap =
    (level: keyof SdkLogger) =>
    (message: string, ...rest: Array<unknown>) =>
      logger[level](scrubArg(secret, message) as string, ...rest.map((arg) => scrubArg(secret, arg)))
  return { error: wrap("error"), warn: wrap("warn"), info: wrap("info"), debug: wrap("debug") }
}

/**
 * Builds the provider service with its own SDK client. The key stays `Redacted` until it is
 * handed to the client; without one, the preset's environment variable is read through `Config`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OpenAI } from "data-harness"
 * const service = Effect.runSync(OpenAI.make({ preset: "ollama", model: "qwen3:8b" }))
 * ```
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const preset = resolvePreset(options.preset, options.baseURL)
  const baseURL = options.baseURL ?? preset.baseURL
  const fromEnv =
    options.apiKey === undefined && preset.apiKeyEnv !== undefined
      ? Option.getOrUndefined(
          yield* Config.option(Config.Redacted(preset.apiKeyEnv)).pipe(Effect.orElseSucceed(Option.none))
        )
      : undefined
  const key =
    options.apiKey === undefined
      ? fromEnv
      : Redacted.isRedacted(options.apiKey)
        ? options.apiKey
        : Redacted.make(options.apiKey)
  const client = yield* Effect.sync(
    () =>
      new OpenAISdk({
        ...options.clientOptions,
        ...(usesNodeTransport(options) ? { fetch: NodeFetch.make() } : {}),
        apiKey: key !== undefined ? Redacted.value(key) : noKey,
        // the SDK would read these from the environment: only OpenAI's own preset may
        organization: preset.name === "openai" ? (options.clientOptions?.organization ?? undefined) : null,
        project: preset.name === "openai" ? (options.clientOptions?.project ?? undefined) : null,
        ...(key === undefined
          ? { defaultHeaders: { ...options.clientOptions?.defaultHeaders, Authorization: null } }
          : {}),
        baseURL,
        maxRetries: 0
      })
  )
  if (key !== undefined) client.logger = scrubbingLogger(client.logger, key)
  return makeService(client, {
    options,
    preset,
    key,
    baseURL,
    missingKey: key === undefined && preset.apiKey === "required"
  })
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
