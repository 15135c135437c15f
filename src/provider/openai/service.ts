/**
 * The OpenAI-compatible provider service on an SDK client: `chat` (one non-streaming request, its
 * message folded as a stream would be) and `stream` (the SDK sends the request; {@link SseReader}
 * reads the body). The request timeout runs on Effect's `Clock`; the first-event and idle
 * deadlines are enforced by the reader itself (`EnforcesDeadlines`), as in the Anthropic provider.
 * @internal
 */

import { Effect, Redacted, Stream } from "effect"
import type OpenAISdk from "openai"
import { InvalidOptions, type ProviderError, type Timeout } from "../../core/HarnessError.js"
import type { NormalizedResponse } from "../../core/NormalizedResponse.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import * as Http from "../http/responseStream.js"
import { chunksOf } from "../http/sseBody.js"
import * as Provider from "../Provider.js"
import * as PullDeadline from "../pullDeadline.js"
import * as Chunk from "./Chunk.js"
import * as Errors from "./errors.js"
import type { Preset } from "./Preset.js"
import * as Body from "./request.js"
import { SseReader } from "./SseReader.js"
import { ChunkTranslator } from "./Translator.js"

/**
 * The part of an SDK client this module uses: `chat.completions.create`. An `OpenAI` or
 * `AzureOpenAI` client of the `openai` package has it.
 * @since 0.2.0
 */
export interface Client {
  readonly chat: { readonly completions: Pick<OpenAISdk["chat"]["completions"], "create"> }
}

/**
 * What the service is built from.
 * @internal
 */
export interface Setup {
  /** The provider's name in `Provider.info` and errors. */
  readonly name: string
  readonly preset: Preset
  readonly defaults: Body.Defaults
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly raw: boolean
  readonly key: Redacted.Redacted<string> | undefined
  readonly baseURL: string | undefined
  /** The preset needs a key and none was found: every request fails unsent. */
  readonly missingKey: boolean
}

type RequestBody = Record<string, unknown>

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

class Service {
  private readonly context: Errors.ErrorContext
  /** The failure of every request when the preset needs a key and there is none. */
  private readonly missingKey: Effect.Effect<never, ProviderError> | undefined
  private readonly requestOptions: (signal: AbortSignal) => OpenAISdk.RequestOptions

  constructor(
    private readonly client: Client,
    private readonly setup: Setup
  ) {
    const secret = setup.key !== undefined ? Redacted.value(setup.key) : undefined
    this.context = {
      provider: setup.name,
      label: setup.preset.label,
      baseURL: setup.baseURL,
      keyEnv: setup.preset.apiKeyEnv,
      scrub:
        secret !== undefined && secret.length > 0 ? (text) => text.split(secret).join("<redacted>") : (text) => text
    }
    const env = setup.preset.apiKeyEnv
    this.missingKey = setup.missingKey
      ? Effect.fail(
          Errors.make(
            this.context,
            "Authentication",
            `no API key was given${env !== undefined ? ` and ${env} is not set` : ""}`
          )
        )
      : undefined
    this.requestOptions = Http.requestOptions(setup.headers)
  }

  /** The request body, or why it cannot be sent. */
  private bodyOf(request: Provider.Request, stream: boolean): RequestBody | InvalidOptions {
    const body = Body.toBody(request, this.setup.defaults, this.setup.preset)
    if (body instanceof InvalidOptions) return body
    body.stream = stream
    if (stream && this.setup.preset.streamUsage) body.stream_options = { include_usage: true }
    return body
  }

  /** Sends through the SDK, under `Request.requestTimeout` until the response (headers) came. */
  private send<A>(
    request: Provider.Request,
    call: (signal: AbortSignal) => PromiseLike<A>
  ): Effect.Effect<A, ProviderError | Timeout> {
    return Http.send(call, this.toError, this.setup.preset.label, request.requestTimeout)
  }

  private readonly toError = (thrown: unknown, now: number) => Errors.fromThrown(this.context, thrown, now)

  readonly chat = (request: Provider.Request): Effect.Effect<NormalizedResponse, Provider.ProviderFailure> => {
    const body = this.bodyOf(request, false)
    if (body instanceof InvalidOptions) return Effect.fail(body)
    if (this.missingKey !== undefined) return this.missingKey
    const params = body as unknown as OpenAISdk.ChatCompletionCreateParamsNonStreaming
    return this.send(request, (signal) =>
      this.client.chat.completions.create(params, this.requestOptions(signal))
    ).pipe(Effect.flatMap((completion) => this.fold(completion, body.model as string)))
  }

  /** A whole completion through the stream's translation, then the fold. */
  private fold(completion: unknown, model: string): Effect.Effect<NormalizedResponse, ProviderError> {
    const chunk = completionChunk(completion)
    const problem = Chunk.validate(chunk)
    if (problem !== undefined) {
      return Effect.fail(
        Errors.make(this.context, "InvalidResponse", `the response is not a valid completion: ${problem}`)
      )
    }
    const translator = new ChunkTranslator(model, false)
    translator.chunk(chunk as Chunk.Chunk)
    translator.end()
    if (translator.failure !== undefined) {
      return Effect.fail(Errors.make(this.context, "InvalidResponse", translator.failure))
    }
    return Provider.collect(Stream.fromIterable(translator.out), this.context.provider)
  }

  /** Sends the streaming request (status checks, errors, headers) and returns the raw response. */
  private open(body: RequestBody, request: Provider.Request) {
    const params = body as unknown as OpenAISdk.ChatCompletionCreateParamsStreaming
    return (controller: AbortController) =>
      this.send(
        request,
        Http.relayAbort(controller, (signal) =>
          this.client.chat.completions.create(params, this.requestOptions(signal)).asResponse()
        )
      )
  }

  /** One turn's events, read by an {@link SseReader} (with `deadlines`, under them: see `Http.readResponse`). */
  private streamWith<E>(
    request: Provider.Request,
    deadlines: Http.Deadlines<E> | undefined
  ): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure | E> {
    const body = this.bodyOf(request, true)
    if (body instanceof InvalidOptions) return Stream.fail(body)
    if (this.missingKey !== undefined) return Stream.fromEffect(this.missingKey)
    return Http.readResponse(
      this.open(body, request),
      (response, controller, now, watchdog) =>
        new SseReader(
          chunksOf(response),
          new ChunkTranslator(body.model as string, this.setup.raw),
          response.headers.get("x-request-id") ?? undefined,
          controller,
          this.context,
          now,
          watchdog
        ),
      deadlines
    )
  }

  readonly stream = (request: Provider.Request): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure> =>
    PullDeadline.enforcingDeadlines(this.streamWith(request, undefined), (limits, onTimeout) =>
      this.streamWith(request, { limits, onTimeout })
    )
}

/**
 * The provider service on a client.
 * @internal
 */
export const make = (client: Client, setup: Setup): Provider.Service => {
  const service = new Service(client, setup)
  return Provider.make({
    name: setup.name,
    model: setup.defaults.model,
    chat: service.chat,
    stream: service.stream,
    // OpenAI-compatible servers cache prompts by themselves; there are no markers to set
    formatCacheControl: (request) => request
  })
}
