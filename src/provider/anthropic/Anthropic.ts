/**
 * The Anthropic provider, on the official `@anthropic-ai/sdk`.
 *
 * `chat` sends one non-streaming `messages.create`; `stream` sends `messages.create` with
 * `stream: true` and turns every raw event into a {@link StreamEvent.ProviderEvent}, decoded with
 * `StreamEvent.decodeWire` (`effect/Schema`) and kept exactly as it arrived. `ping` and event types
 * from newer API versions are dropped, content blocks of unknown types are kept opaque, and an
 * in-stream `error` event (e.g. `overloaded_error`), a dropped connection or a stream that ends
 * without `message_stop` fails with a typed {@link ProviderError} after the events that did arrive.
 * The stream does not fold the turn (that is the consumer's job, once): the agent, or
 * `Provider.collect`, puts what arrived on the error as its `partial`.
 *
 * The SDK sends the request, checks the status and maps errors; the SSE body is split into events
 * here, in one pass per network read (the SDK's own event iterator costs more per event than the
 * rest of the harness together). All events of one read reach the consumer as one batch, in the
 * same tick; the next read happens when the consumer pulls.
 *
 * The bytes travel over `node:http` / `node:https` by default (`transport: "node"`): a `fetch` of
 * this library's (`internal/nodeFetch.ts`) hands the SDK an ordinary `Response`, and the body
 * reader here takes the Node stream behind it instead of its web stream, which halves the
 * client's CPU per network read. `transport: "fetch"` (or a `fetch` in `clientOptions`) keeps
 * the global `fetch`.
 *
 * The SDK's own retries and timeouts are off: retries, timeouts and interruption belong to the
 * harness. Interrupting the fiber (or a consumer that stops pulling) aborts the HTTP request at
 * once through its `AbortSignal`; `Request.requestTimeout` bounds the wait for the response
 * headers on Effect's `Clock`.
 *
 * | HTTP / event | `reason` | retryable |
 * | --- | --- | --- |
 * | 400, 422 | `InvalidRequest` | no |
 * | 401 | `Authentication` | no |
 * | 402, 403 | `Permission` | no |
 * | 404 | `NotFound` | no |
 * | 413 | `RequestTooLarge` | no |
 * | 429, `rate_limit_error` | `RateLimited` (with `retryAfter` ms) | yes |
 * | 529, `overloaded_error` | `Overloaded` | yes |
 * | 500, 502, 503, 504, other 5xx, `api_error` | `ServerError` | yes |
 * | connection refused, reset, dropped mid-stream, 408 | `Connection` | yes |
 * | malformed event or response, no `message_stop` | `InvalidResponse` | no |
 *
 * The API key is held as a `Redacted` until it is handed to the SDK client: it never appears in
 * an error message, a log line or an inspected value of this module.
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
import AnthropicSdk, { type ClientOptions } from "@anthropic-ai/sdk"
import {
  Cause,
  Channel,
  Clock,
  Config,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  Redacted,
  Schema,
  Scope,
  Stream
} from "effect"
import type * as Arr from "effect/Array"
import { emptyPartial, ProviderError, type ProviderErrorReason, Timeout } from "../../core/HarnessError.js"
import * as Message from "../../core/Message.js"
import { NormalizedResponse } from "../../core/NormalizedResponse.js"
import * as StreamEvent from "../../core/StreamEvent.js"
import * as Usage from "../../core/Usage.js"
import * as NodeFetch from "../http/nodeFetch.js"
import * as Provider from "../Provider.js"
import * as PullDeadline from "../pullDeadline.js"

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
 * What every Anthropic layer accepts, whether it builds its own SDK client or is given one.
 * @since 0.1.0
 */
export interface RequestOptions {
  /** The model, e.g. `"claude-sonnet-4-6"`. */
  readonly model: string
  /** Output limit of a turn (default 4096); `Request.maxTokens` overrides it per turn. */
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /** Extended thinking with this token budget (`thinking: { type: "enabled", budget_tokens }`). */
  readonly thinking?: { readonly budgetTokens: number } | undefined
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
  readonly clientOptions?: Omit<ClientOptions, "apiKey" | "authToken" | "baseURL" | "maxRetries"> | undefined
  /**
   * How requests go over the network:
   * - `"node"` (the default): `node:http` / `node:https` with keep-alive connections, the
   *   response body read straight from the socket's stream. On Node it costs about half the CPU
   *   of the global `fetch` per network read, which is what decides latency under many
   *   concurrent streams (see the README's Performance section).
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

// message conversion

type MessageParam = AnthropicSdk.MessageParam
type ApiContent = AnthropicSdk.ContentBlockParam

const isDroppable = (block: Message.ContentBlock) =>
  block.type === "text" && (block as Message.TextBlock).text === "" && !("cache_control" in block)

/**
 * Converts harness messages to the API's `messages` param. Blocks already have the API's shapes
 * and go unchanged: text, `tool_use`, `tool_result` with `is_error`, `thinking` with its
 * signature, `redacted_thinking`, and opaque blocks (server tools, images, newer types). Only empty
 * text blocks, which the API rejects, are left out. The input is not mutated.
 *
 * @example
 * ```ts
 * import { Anthropic, Message } from "data-harness"
 * const params = Anthropic.toMessageParams([Message.user("hi")])
 * // [{ role: "user", content: [{ type: "text", text: "hi" }] }]
 * ```
 * @since 0.1.0
 */
export const toMessageParams = (messages: ReadonlyArray<Message.Message>): Array<MessageParam> => {
  const out: Array<MessageParam> = new Array(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const kept = message.content.some(isDroppable) ? message.content.filter((b) => !isDroppable(b)) : message.content
    out[i] = {
      role: message.role,
      content: (kept.length > 0 ? kept : message.content) as unknown as Array<ApiContent>
    }
  }
  return out
}

/**
 * Converts the API's `messages` param back to harness messages: string content becomes one text
 * block, blocks are kept as they are. Messages of other roles (e.g. `system`) are left out.
 *
 * @example
 * ```ts
 * import { Anthropic } from "data-harness"
 * const history = Anthropic.fromMessageParams([{ role: "user", content: "hi" }])
 * ```
 * @since 0.1.0
 */
export const fromMessageParams = (
  params: ReadonlyArray<{ readonly role: string; readonly content: string | ReadonlyArray<unknown> }>
): Array<Message.Message> => {
  const out: Array<Message.Message> = []
  for (const param of params) {
    if (param.role !== "user" && param.role !== "assistant") continue
    out.push({
      role: param.role,
      content:
        typeof param.content === "string"
          ? [Message.text(param.content)]
          : (param.content as ReadonlyArray<Message.ContentBlock>)
    })
  }
  return out
}

/**
 * The API's response message, as `chat` validates it: the fields the harness relies on are
 * checked, content blocks are decoded as {@link Message.ContentBlock} (every field kept).
 * @since 0.1.0
 */
export const ApiMessage = Schema.Struct({
  id: Schema.String,
  role: Schema.Literal("assistant"),
  model: Schema.String,
  content: Schema.Array(Message.ContentBlock),
  stop_reason: Schema.NullOr(Schema.String),
  stop_sequence: Schema.optionalKey(Schema.NullOr(Schema.String)),
  usage: StreamEvent.WireUsage
})
/** @since 0.1.0 */
export type ApiMessage = typeof ApiMessage.Type

const decodeApiMessage = Schema.decodeUnknownExit(ApiMessage)

/**
 * Converts an API response message to a {@link NormalizedResponse}: content blocks as returned,
 * usage counters (with cache reads and writes) taken over.
 *
 * @example
 * ```ts
 * import { Anthropic } from "data-harness"
 * const response = Anthropic.toNormalizedResponse(message)
 * ```
 * @since 0.1.0
 */
export const toNormalizedResponse = (message: ApiMessage): NormalizedResponse =>
  new NormalizedResponse({
    id: message.id,
    model: message.model,
    stopReason: message.stop_reason ?? "end_turn",
    ...(message.stop_sequence !== undefined ? { stopSequence: message.stop_sequence } : {}),
    content: message.content,
    usage: Usage.merge(Usage.empty, message.usage)
  })

// errors

const PROVIDER = "anthropic"

interface SdkErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly status?: unknown
  readonly headers?: unknown
  readonly type?: unknown
  readonly apiMessage?: unknown
  readonly requestID?: unknown
  readonly error?: unknown
  readonly cause?: unknown
}

const headerOf = (headers: unknown, name: string): string | undefined => {
  if (headers === null || typeof headers !== "object") return undefined
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined
  const value = (headers as Record<string, unknown>)[name]
  return typeof value === "string" ? value : undefined
}

/**
 * The server's `retry-after-ms` or `retry-after` (seconds or an HTTP date) in milliseconds.
 * @since 0.1.0
 */
export const retryAfterMillis = (headers: unknown, nowMillis: number): number | undefined => {
  const ms = headerOf(headers, "retry-after-ms")
  if (ms !== undefined) {
    const value = Number.parseFloat(ms)
    if (Number.isFinite(value) && value >= 0) return value
  }
  const after = headerOf(headers, "retry-after")
  if (after === undefined) return undefined
  const seconds = Number(after.trim())
  if (after.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis)
}

const reasonOfStatus = (status: number): ProviderErrorReason => {
  switch (status) {
    case 400:
    case 422:
      return "InvalidRequest"
    case 401:
      return "Authentication"
    case 402:
    case 403:
      return "Permission"
    case 404:
      return "NotFound"
    case 408:
      return "Connection"
    case 413:
      return "RequestTooLarge"
    case 429:
      return "RateLimited"
    case 529:
      return "Overloaded"
    default:
      return status >= 500 ? "ServerError" : "Unknown"
  }
}

const reasonOfType = (type: string): ProviderErrorReason => {
  switch (type) {
    case "overloaded_error":
      return "Overloaded"
    case "rate_limit_error":
      return "RateLimited"
    case "api_error":
    case "timeout_error":
      return "ServerError"
    case "invalid_request_error":
      return "InvalidRequest"
    case "authentication_error":
      return "Authentication"
    case "permission_error":
    case "billing_error":
      return "Permission"
    case "not_found_error":
      return "NotFound"
    case "request_too_large":
      return "RequestTooLarge"
    default:
      return "Unknown"
  }
}

const advice: Record<ProviderErrorReason, string> = {
  InvalidRequest: "Fix the request (messages, tools, max_tokens, model options); retrying it unchanged will not help.",
  Authentication:
    "Set ANTHROPIC_API_KEY to a valid key (https://console.anthropic.com/settings/keys) or pass `apiKey` to Anthropic.layer.",
  Permission: "The API key may not use this model or feature: check the key's workspace, plan and billing.",
  NotFound: "Check the model name and the baseURL (ANTHROPIC_BASE_URL, ANTHROPIC_MODEL).",
  RequestTooLarge: "Shorten the conversation or the tool results, e.g. keep large data in session handles.",
  RateLimited: "Retry after the server's delay, lower the request rate, or raise the rate limit.",
  Overloaded: "Anthropic is overloaded; retry shortly.",
  ServerError: "Anthropic had a server error; retry shortly.",
  Connection: "Check the network and the baseURL (ANTHROPIC_BASE_URL); the request can be retried.",
  InvalidResponse: "The response was malformed; this is a provider or proxy fault, report it if it repeats.",
  Unknown: "See the message above; retrying may not help."
}

const what: Record<ProviderErrorReason, string> = {
  InvalidRequest: "Anthropic rejected the request as invalid",
  Authentication: "Anthropic rejected the API key",
  Permission: "Anthropic denied permission",
  NotFound: "Anthropic did not find the resource",
  RequestTooLarge: "The request is too large for Anthropic",
  RateLimited: "Anthropic rate-limited the request",
  Overloaded: "Anthropic is overloaded",
  ServerError: "Anthropic failed with a server error",
  Connection: "The connection to Anthropic failed",
  InvalidResponse: "Anthropic sent a malformed response",
  Unknown: "The Anthropic request failed"
}

const causeText = (error: SdkErrorLike): string => {
  let text = typeof error.apiMessage === "string" && error.apiMessage !== "" ? error.apiMessage : undefined
  if (text === undefined && typeof error.message === "string") text = error.message
  let cause = error.cause as SdkErrorLike | undefined
  for (let depth = 0; depth < 3 && cause !== null && typeof cause === "object"; depth++) {
    if (typeof cause.message === "string" && cause.message !== "" && !text?.includes(cause.message)) {
      text = text === undefined ? cause.message : `${text}: ${cause.message}`
    }
    cause = cause.cause as SdkErrorLike | undefined
  }
  return text ?? String(error)
}

/**
 * How this module turns what the SDK throws into a {@link ProviderError}; `scrub` removes secrets
 * from any text that goes into the error.
 */
interface ErrorContext {
  readonly scrub: (text: string) => string
  readonly baseURL: string | undefined
}

const makeError = (
  context: ErrorContext,
  reason: ProviderErrorReason,
  detail: string,
  extra: {
    readonly status?: number | undefined
    readonly type?: string | undefined
    readonly retryAfter?: number | undefined
    readonly requestId?: string | undefined
    readonly head?: string | undefined
  } = {}
): ProviderError => {
  const head =
    extra.head !== undefined
      ? extra.head
      : extra.status !== undefined
        ? `${what[reason]} (HTTP ${extra.status}${extra.type ? ` ${extra.type}` : ""})`
        : extra.type
          ? `${what[reason]} (${extra.type})`
          : what[reason]
  const where = reason === "Connection" && context.baseURL ? ` at ${context.baseURL}` : ""
  const wait = extra.retryAfter !== undefined ? ` The server asks to wait ${Math.ceil(extra.retryAfter)} ms.` : ""
  const id = extra.requestId ? ` (request-id ${extra.requestId})` : ""
  return new ProviderError({
    reason,
    provider: PROVIDER,
    message: context.scrub(`${head}${where}: ${detail}.${wait} ${advice[reason]}${id}`),
    ...(extra.status !== undefined ? { status: extra.status } : {}),
    ...(extra.retryAfter !== undefined ? { retryAfter: extra.retryAfter } : {}),
    ...(extra.requestId ? { requestId: extra.requestId } : {})
  })
}

const trimDot = (text: string) => text.replace(/\.+$/, "")

/**
 * Maps anything the SDK throws (its `APIError` classes, connection errors, SSE `error` events,
 * malformed JSON) to a {@link ProviderError}.
 */
const fromSdkError = (context: ErrorContext, thrown: unknown, nowMillis: number): ProviderError => {
  if (thrown instanceof ProviderError) return thrown
  const error = (typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) }) as SdkErrorLike
  const status = typeof error.status === "number" ? error.status : undefined
  const requestId =
    typeof error.requestID === "string" ? error.requestID : (headerOf(error.headers, "request-id") ?? undefined)
  const body = error.error as { readonly error?: { readonly type?: unknown } } | undefined
  const type =
    typeof error.type === "string"
      ? error.type
      : typeof body?.error?.type === "string"
        ? (body.error.type as string)
        : undefined
  const detail = trimDot(causeText(error))
  if (status !== undefined) {
    const reason = reasonOfStatus(status)
    const retryAfter =
      reason === "RateLimited" || reason === "Overloaded" ? retryAfterMillis(error.headers, nowMillis) : undefined
    return makeError(context, reason, detail, { status, type, retryAfter, requestId })
  }
  if (type !== undefined) {
    // An `error` event inside a 200 stream: the SDK throws it as an APIError without status.
    return makeError(context, reasonOfType(type), detail, { type, requestId })
  }
  if (thrown instanceof SyntaxError) {
    return makeError(context, "InvalidResponse", `an event is not valid JSON (${detail})`, { requestId })
  }
  if (isConnectionFailure(thrown)) return makeError(context, "Connection", detail, { requestId })
  if (/api.?key|authenticat|credential|auth.?token/i.test(detail)) {
    // The SDK found no credentials (no key given and none in the environment or its profiles).
    return makeError(context, "Authentication", detail, { head: "No usable Anthropic credentials" })
  }
  return makeError(context, "Unknown", detail, { requestId })
}

const connectionCode = /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/

/**
 * Whether something thrown while sending or reading a request is the network's fault: the SDK's
 * `APIConnectionError` (and its timeout), an abort, or fetch's `TypeError` ("fetch failed",
 * "terminated") with a socket error (`ECONNRESET`, `UND_ERR_SOCKET`, ...) somewhere in its causes.
 */
const isConnectionFailure = (thrown: unknown): boolean => {
  if (thrown instanceof AnthropicSdk.APIConnectionError || thrown instanceof AnthropicSdk.APIUserAbortError) return true
  if (thrown instanceof TypeError) return true
  let current = thrown as { readonly name?: unknown; readonly code?: unknown; readonly cause?: unknown } | undefined
  for (let depth = 0; depth < 4 && current !== null && typeof current === "object"; depth++) {
    if (current.name === "AbortError" || current.name === "APIConnectionError") return true
    if (typeof current.code === "string" && connectionCode.test(current.code)) return true
    current = current.cause as typeof current
  }
  return false
}

const errorEventToError = (
  context: ErrorContext,
  event: StreamEvent.ErrorEvent,
  requestId?: string | undefined
): ProviderError =>
  makeError(context, reasonOfType(event.error.type), trimDot(event.error.message ?? event.error.type), {
    type: event.error.type,
    requestId
  })

// streaming

type Batch = Arr.NonEmptyReadonlyArray<StreamEvent.ProviderEvent>

/**
 * Decodes one raw SDK event: {@link StreamEvent.decodeWire} (validated, kept as it arrived).
 * @since 0.1.0
 */
export const decodeRaw: (raw: unknown) => StreamEvent.Decoded = StreamEvent.decodeWire

/**
 * The bytes of a response body, one network read at a time: `next` calls `onChunk` with the next
 * bytes (`undefined` at the end) or `onError`, maybe synchronously.
 */
interface Chunks {
  readonly next: (onChunk: (chunk: Uint8Array | undefined) => void, onError: (error: unknown) => void) => void
  readonly cancel: () => void
}

/** The body of a response: read straight from Node when it came from our `node:http` fetch. */
const chunksOf = (response: Response): Chunks => {
  const node = NodeFetch.takeNodeBody(response)
  if (node !== undefined) return node
  const reader = response.body!.getReader()
  return {
    next: (onChunk, onError) =>
      reader.read().then((result) => onChunk(result.done ? undefined : result.value), onError),
    cancel: () => {
      reader.cancel().catch(() => {})
    }
  }
}

/**
 * Reads the SSE body of a streaming response itself (the SDK sends the request, checks the status
 * and maps errors; only the framing is parsed here): every network chunk is split into events,
 * each `data:` payload parsed and decoded, and the whole chunk's events handed to the consumer as
 * one batch, in the same tick. Pull-driven: the next chunk is read when the consumer asks for more.
 * Mirrors the SDK's SSE rules: `\n`, `\r\n` or `\r` line ends, `data:` lines joined with `\n`,
 * messages without an `event:` field and `ping` skipped.
 */
/** The SDK's message params, streaming or not. */
type Params<Streaming extends boolean> = Omit<AnthropicSdk.MessageCreateParamsNonStreaming, "stream"> & {
  stream: Streaming
}

const streaming = { stream: true } as const

class BodyReader<E = never> {
  private readonly decoder = new TextDecoder()
  private rest = ""
  /** The `event:` field of the message being read: only whether there is one, and whether it is `ping`, matter. */
  private event: "ping" | "other" | undefined = undefined
  private data: string | undefined = undefined
  private buffer: Array<StreamEvent.ProviderEvent> = []
  private failure: ProviderError | E | undefined = undefined
  private ended = false
  private stopped = false
  private reading = false
  /** The consumer of the pull in progress; a pull its consumer gave up keeps its events for the next. */
  private waiter: ((effect: Effect.Effect<Batch, ProviderError | E | Cause.Done>) => void) | undefined = undefined

  constructor(
    private readonly body: Chunks,
    private readonly requestId: string | undefined,
    private readonly controller: AbortController,
    private readonly context: ErrorContext,
    private readonly now: () => number,
    /** The first-event and idle deadlines, when this stream enforces them (see `pullDeadline.ts`). */
    private readonly watchdog?: PullDeadline.Watchdog<E> | undefined
  ) {}

  readonly pull: Effect.Effect<Batch, ProviderError | E | Cause.Done> = Effect.suspend(() => this.step())

  private step(): Effect.Effect<Batch, ProviderError | E | Cause.Done> {
    if (this.buffer.length > 0) {
      const batch = this.buffer as unknown as Batch
      this.buffer = []
      return Effect.succeed(batch)
    }
    if (this.watchdog?.expired !== undefined) return this.watchdog.expired
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.ended) return Cause.done()
    return this.wait
  }

  private readonly wait = Effect.callback<Batch, ProviderError | E | Cause.Done>((resume) => {
    this.waiter = resume
    if (!this.reading) this.readChunk()
    if (this.waiter === undefined) return
    // no bytes at hand: the pull waits for the network, under its deadline
    this.watchdog?.handOver(this.expire)
    return this.giveUp
  })

  private readonly giveUp = Effect.sync(() => {
    this.waiter = undefined
    this.watchdog?.disarm(false)
  })

  /** The pull outwaited its deadline: the response is closed, and this pull and every later one get the timeout. */
  private readonly expire = (timeout: Exit.Exit<never, E>) => {
    this.ended = true
    this.controller.abort()
    this.body.cancel()
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) waiter(timeout)
  }

  /** Hands what the last read produced to the waiting consumer, if any. */
  private wake(): void {
    // also when the pull that asked for these events was given up: they are the stream's first
    this.watchdog?.disarm(this.buffer.length > 0)
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.step())
  }

  private readChunk(): void {
    this.reading = true
    this.body.next(
      (chunk) => {
        this.reading = false
        if (this.ended) return this.wake()
        if (chunk === undefined) {
          this.parse(this.decoder.decode(), true)
          if (this.failure === undefined && !this.stopped) {
            this.fail(
              makeError(
                this.context,
                "InvalidResponse",
                "the stream ended without message_stop (the response was cut short)"
              )
            )
          }
          this.ended = true
          return this.wake()
        }
        this.parse(this.decoder.decode(chunk, streaming), false)
        if (this.buffer.length > 0 || this.failure !== undefined) return this.wake()
        // only an incomplete event: read on (for a consumer that gave up, the next pull does)
        if (this.waiter !== undefined) this.readChunk()
      },
      (thrown: unknown) => {
        this.reading = false
        if (!this.ended) this.fail(fromSdkError(this.context, thrown, this.now()))
        this.wake()
      }
    )
  }

  private parse(chunk: string, last: boolean): void {
    let text = this.rest.length > 0 ? this.rest + chunk : chunk
    if (text.includes("\r")) {
      // keep a trailing \r: it may be the first half of a \r\n
      const keep = !last && text.endsWith("\r")
      text = (keep ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n") + (keep ? "\r" : "")
    }
    let start = 0
    while (this.failure === undefined) {
      const end = text.indexOf("\n", start)
      if (end === -1) break
      // read in place: only a data payload becomes a string of its own
      if (end === start) this.dispatch()
      else if (text.startsWith("data:", start)) {
        const value = text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end)
        this.data = this.data === undefined ? value : `${this.data}\n${value}`
      } else if (text.startsWith("event:", start)) {
        const from = text.charCodeAt(start + 6) === 32 ? start + 7 : start + 6
        this.event = end - from === 4 && text.startsWith("ping", from) ? "ping" : "other"
      }
      start = end + 1
    }
    this.rest = text.slice(start)
    if (last && this.rest.length > 0) {
      this.rest = ""
      this.dispatch()
    }
  }

  private dispatch(): void {
    const event = this.event
    const data = this.data
    this.event = undefined
    this.data = undefined
    if (event === undefined || event === "ping" || data === undefined || data.length === 0) return
    let raw: unknown
    try {
      raw = JSON.parse(data)
    } catch (thrown) {
      this.fail(fromSdkError(this.context, thrown, this.now()))
      return
    }
    if (StreamEvent.isValidTokenDelta(raw)) {
      this.buffer.push(raw)
      return
    }
    const decoded = StreamEvent.decodeWire(raw)
    switch (decoded._tag) {
      case "Event":
        this.buffer.push(decoded.event)
        if (decoded.event.type === "message_stop") this.stopped = true
        return
      case "Skip":
        return
      case "Error":
        this.fail(errorEventToError(this.context, decoded.event, this.requestId))
        return
      case "Invalid":
        this.fail(makeError(this.context, "InvalidResponse", decoded.message))
        return
    }
  }

  private fail(error: ProviderError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.ended = true
    this.controller.abort()
  }

  close(): void {
    const complete = this.ended && this.failure === undefined
    this.ended = true
    if (!complete) {
      this.controller.abort()
      this.body.cancel()
    }
  }
}

// constructors

const maxTimerMillis = 2_147_483_647

const requestTimeoutError = (limit: Duration.Duration) => {
  const limitMillis = Duration.toMillis(limit)
  return new Timeout({
    phase: "request",
    limitMillis,
    message: `Anthropic sent no response headers within ${limitMillis} ms; the request was aborted. It can be retried, or raise \`requestTimeout\`.`,
    partial: emptyPartial
  })
}

const withRequestTimeout = <A>(
  effect: Effect.Effect<A, ProviderError>,
  limit: Duration.Duration | undefined
): Effect.Effect<A, ProviderError | Timeout> =>
  limit === undefined
    ? effect
    : Effect.timeoutOrElse(effect, { duration: limit, orElse: () => Effect.fail(requestTimeoutError(limit)) })

/** The service on a client; `key` (when known) is scrubbed from every error message. */
const makeService = Effect.fnUntraced(function* (
  client: Client,
  options: FromClientOptions,
  key: Redacted.Redacted<string> | undefined,
  baseURL: string | undefined
) {
  const secret = key !== undefined ? Redacted.value(key) : undefined
  const context: ErrorContext = {
    scrub: secret !== undefined && secret.length > 0 ? (text) => text.split(secret).join("<redacted>") : (text) => text,
    baseURL
  }
  const model = options.model
  const maxTokens = options.maxTokens ?? defaultMaxTokens
  // Both are built field by field: conditional spreads in an object literal are a runtime call
  // each, and these are built for every request.
  const requestOptions = (signal: AbortSignal): AnthropicSdk.RequestOptions => {
    const built: { -readonly [K in keyof AnthropicSdk.RequestOptions]: AnthropicSdk.RequestOptions[K] } = {
      signal,
      maxRetries: 0,
      timeout: maxTimerMillis
    }
    if (options.headers !== undefined) built.headers = options.headers
    return built
  }

  const toolParam = (tool: Provider.ToolDefinition): AnthropicSdk.Tool => ({
    name: tool.name,
    description: tool.description,
    input_schema: tool.input_schema as AnthropicSdk.Tool.InputSchema
  })

  const params = <Streaming extends boolean>(request: Provider.Request, stream: Streaming): Params<Streaming> => {
    const built: Params<Streaming> = {
      model,
      max_tokens: request.maxTokens ?? maxTokens,
      messages: toMessageParams(request.messages),
      stream
    }
    const system = request.system
    if (system !== undefined && system.length > 0) built.system = system as string | Array<AnthropicSdk.TextBlockParam>
    if (request.tools.length > 0) built.tools = request.tools.map(toolParam)
    // not in this SDK version's types any more, sent as before for the models that take it
    if (options.temperature !== undefined) (built as { temperature?: number }).temperature = options.temperature
    if (options.stopSequences !== undefined) built.stop_sequences = [...options.stopSequences]
    if (options.thinking !== undefined) {
      built.thinking = { type: "enabled", budget_tokens: options.thinking.budgetTokens }
    }
    return built
  }

  const failWith = (thrown: unknown) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(fromSdkError(context, thrown, now)))

  const chat = (request: Provider.Request): Effect.Effect<NormalizedResponse, ProviderError | Timeout> =>
    withRequestTimeout(
      Effect.tryPromise({
        try: (signal) => client.messages.create(params(request, false), requestOptions(signal)),
        catch: (thrown) => thrown
      }).pipe(Effect.catch(failWith)),
      request.requestTimeout
    ).pipe(
      Effect.flatMap((message) => {
        const exit = decodeApiMessage(message)
        return Exit.isSuccess(exit)
          ? Effect.succeed(toNormalizedResponse(exit.value))
          : Effect.fail(makeError(context, "InvalidResponse", `the response is not a valid message: ${exit.cause}`))
      })
    )

  /** Sends the request through the SDK (status checks, errors, headers) and returns the raw response. */
  const open = (request: Provider.Request, controller: AbortController) =>
    withRequestTimeout(
      Effect.tryPromise({
        try: (signal) => {
          signal.addEventListener("abort", () => controller.abort(), { once: true })
          return client.messages.create(params(request, true), requestOptions(controller.signal)).asResponse()
        },
        catch: (thrown) => thrown
      }).pipe(Effect.catch(failWith)),
      request.requestTimeout
    )

  /**
   * One turn's events. With `deadlines`, the reader enforces the first-event and idle limits
   * itself (see `internal/pullDeadline.ts`): the first-event limit runs from the first pull, over
   * the request and the response headers, to the first event.
   */
  const streamWith = <E>(
    request: Provider.Request,
    deadlines: { readonly limits: PullDeadline.Limits; readonly onTimeout: PullDeadline.OnTimeout<E> } | undefined
  ): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | Timeout | E> =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.uninterruptibleMask((restore) => {
          const controller = new AbortController()
          let reader: BodyReader<E> | undefined
          let watchdog: PullDeadline.Watchdog<E> | undefined
          /** The first-event limit passed before the response headers: the request is aborted. */
          let early: Exit.Exit<never, E> | undefined
          const read = Effect.flatMap(restore(open(request, controller)), (response) =>
            Effect.clockWith((clock) => {
              reader = new BodyReader(
                chunksOf(response),
                response.headers.get("request-id") ?? undefined,
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
          // One finalizer for the reader and the watchdog: Effect closes a scope of one finalizer
          // directly, and one of several through a generator (about 9 µs at the end of every turn).
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

  const stream = (request: Provider.Request): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | Timeout> =>
    PullDeadline.enforcingDeadlines(streamWith(request, undefined), (limits, onTimeout) =>
      streamWith(request, { limits, onTimeout })
    )

  return Provider.make({ name: options.name ?? PROVIDER, model, chat, stream })
})

const keyOf = (client: unknown): Redacted.Redacted<string> | undefined => {
  const apiKey = (client as { readonly apiKey?: unknown }).apiKey
  return typeof apiKey === "string" && apiKey.length > 0 ? Redacted.make(apiKey) : undefined
}

const baseURLOf = (client: unknown): string | undefined => {
  const baseURL = (client as { readonly baseURL?: unknown }).baseURL
  return typeof baseURL === "string" ? baseURL : undefined
}

/**
 * Builds the provider service on an existing SDK client (an `Anthropic`, or a Bedrock or Vertex
 * client of the same SDK). Every request is sent with the SDK's retries and timeout off; the
 * client's API key, if it has one, is kept out of every error message.
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
export const makeWithClient = (client: Client, options: FromClientOptions): Effect.Effect<Provider.Service> =>
  makeService(client, options, keyOf(client), baseURLOf(client))

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

/**
 * The SDK's logger with the key taken out of every line: the SDK already hides auth headers, this
 * also covers a response body or message that echoes the key. Runs only for lines that are logged.
 */
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
 * Whether Node is told to send through the proxy in `HTTP_PROXY`/`HTTPS_PROXY`
 * (`NODE_USE_ENV_PROXY=1`, Node 24+): its `fetch` honours that and an agent of our own would not,
 * so without an explicit `transport` such a process keeps the global `fetch`.
 */
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

/**
 * Builds the provider service with its own SDK client. The key stays `Redacted` until it is
 * handed to the client.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Anthropic } from "data-harness"
 * const service = Effect.runSync(
 *   Anthropic.make({ model: "claude-sonnet-4-6", apiKey: Redacted.make(process.env.KEY!) })
 * )
 * ```
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const given =
    options.apiKey === undefined
      ? undefined
      : Redacted.isRedacted(options.apiKey)
        ? options.apiKey
        : Redacted.make(options.apiKey)
  const client = yield* Effect.sync(
    () =>
      new AnthropicSdk({
        ...options.clientOptions,
        ...(usesNodeTransport(options) ? { fetch: NodeFetch.make() } : {}),
        ...(given !== undefined ? { apiKey: Redacted.value(given) } : {}),
        ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
        maxRetries: 0
      })
  )
  // The key given here, or the one the SDK read from the environment.
  const key = given ?? keyOf(client)
  if (key !== undefined) client.logger = scrubbingLogger(client.logger, key)
  return yield* makeService(
    client,
    {
      model: options.model,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      stopSequences: options.stopSequences,
      thinking: options.thinking,
      headers: options.headers
    },
    key,
    client.baseURL
  )
})

// layers

/**
 * The Anthropic provider as a Layer.
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
export const layer = (options: Options): Layer.Layer<Provider.Provider> =>
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
export const layerFromClient = (client: Client, options: FromClientOptions): Layer.Layer<Provider.Provider> =>
  Layer.effect(Provider.Provider, makeWithClient(client, options))

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
): Layer.Layer<Provider.Provider, Config.ConfigError> =>
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
